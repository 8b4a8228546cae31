import { readJsonl } from './jsonl';
import { readJson } from './json';
import { readCsv } from './csv';
import { readText } from './text';
import { readParquet } from './parquet';
import { readArrow } from './arrow';
import { createReadStream } from 'node:fs';
import { WinnowError } from '../../util/errors';
import { formatFromPath, ioError, openBytes, openText } from './source';
import type { ReadOptions, RecordItem } from './types';

export type { FileFormat, ReadOptions, RecordItem } from './types';
export { formatFromPath, innerName } from './source';
export { parseCsvRows } from './csv';

/**
 * Records of a data file, streamed in batches (one per chunk or row group). Malformed lines come through as
 * `{ line, error }` so the caller decides between aborting and skipping; I/O failures (missing file, bad gzip,
 * unreadable Parquet) throw WinnowError.
 */
export async function* readRecordBatches(path: string, opts: ReadOptions = {}): AsyncGenerator<RecordItem[]> {
  const format = opts.format ?? formatFromPath(path);
  if (format === 'parquet' || format === 'arrow') {
    try {
      yield* format === 'parquet' ? readParquet(path) : readArrow(path);
    } catch (err) {
      throw ioError(path, err);
    }
    return;
  }
  if (opts.range && (format !== 'jsonl' || /\.gz$/i.test(path))) throw new WinnowError('internal', `${path}: only plain JSONL is read by byte range`);
  // line formats are split in bytes (see lines.ts); the others parse decoded text
  const stream = opts.range ? createReadStream(path, { start: opts.range.from, highWaterMark: 1 << 20 })
    : format === 'jsonl' || format === 'txt' || format === 'json' ? openBytes(path) : openText(path);
  try {
    switch (format) {
      case 'jsonl': yield* readJsonl(stream, opts.range); break;
      case 'json': yield* readJson(stream, { list: opts.list, lists: opts.lists }); break;
      // a .csv may be ';'- or tab-separated (spreadsheet exports in locales with a decimal comma): its header decides
      case 'csv': yield* readCsv(stream, 'detect'); break;
      case 'tsv': yield* readCsv(stream, '\t'); break;
      case 'txt': yield* readText(stream, opts.textMode ?? 'block'); break;
    }
  } catch (err) {
    throw ioError(path, err);
  } finally {
    stream.destroy();
  }
}

/** Records one at a time (same as readRecordBatches, flattened). */
export async function* readRecords(path: string, opts: ReadOptions = {}): AsyncGenerator<RecordItem> {
  for await (const batch of readRecordBatches(path, opts)) yield* batch;
}

/** How a record position is named in messages: JSON arrays count items, Parquet and Arrow rows, everything else lines. */
export function positionName(path: string, format?: string): 'item' | 'line' | 'row' {
  const f = format ?? formatFromPath(path);
  return f === 'json' ? 'item' : f === 'parquet' || f === 'arrow' ? 'row' : 'line';
}
