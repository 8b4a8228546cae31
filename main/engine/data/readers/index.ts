import { readJsonl } from './jsonl';
import { readJson } from './json';
import { readCsv } from './csv';
import { readText } from './text';
import { formatFromPath, ioError, openText } from './source';
import type { ReadOptions, RecordItem } from './types';

export type { FileFormat, ReadOptions, RecordItem } from './types';
export { formatFromPath, innerName } from './source';
export { parseCsvRows } from './csv';

/**
 * Records of a data file, streamed. Malformed lines come through as `{ line, error }` so the caller
 * decides between aborting and skipping; I/O failures (missing file, bad gzip) throw WinnowError.
 */
export async function* readRecords(path: string, opts: ReadOptions = {}): AsyncGenerator<RecordItem> {
  const format = opts.format ?? formatFromPath(path);
  const stream = openText(path);
  try {
    switch (format) {
      case 'jsonl': yield* readJsonl(stream); break;
      case 'json': yield* readJson(stream); break;
      case 'csv': yield* readCsv(stream, ','); break;
      case 'tsv': yield* readCsv(stream, '\t'); break;
      case 'txt': yield* readText(stream, opts.textMode ?? 'block'); break;
    }
  } catch (err) {
    throw ioError(path, err);
  } finally {
    stream.destroy();
  }
}

/** How a record position is named in messages: JSON arrays count items, everything else lines. */
export function positionName(path: string, format?: string): 'item' | 'line' {
  return (format ?? formatFromPath(path)) === 'json' ? 'item' : 'line';
}
