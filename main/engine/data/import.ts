import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Db } from '../db/open';
import { createDataset, exampleInserter, importSkipInserter, setDatasetRowCount } from '../db/datasets';
import { WinnowError } from '../util/errors';
import { formatFromPath, positionName, readRecords, type FileFormat, type RecordItem } from './readers';
import { detectFormat, toMessages, type Mapping } from './formats';
import { charCount, fullText, normHash, previewText } from './normalize';

export interface ImportOptions {
  path: string;
  name?: string;
  /** file format; from the extension by default */
  format?: FileFormat;
  /** record mapping; detected from the first records by default */
  mapping?: Mapping;
  /** keep going past malformed records, listing them in import_skips (default: abort naming the line) */
  skipMalformed?: boolean;
  textMode?: 'block' | 'line';
  onProgress?: (done: number, total?: number) => void;
  signal?: AbortSignal;
}

export interface ImportResult {
  datasetId: number;
  rows: number;
  skipped: number;
  errors: Array<{ line: number; reason: string }>;
}

const DETECT_SAMPLE = 200;
const PROGRESS_EVERY = 1000;

async function fileHash(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new WinnowError(e.code === 'ENOENT' ? 'not_found' : 'io_error', `${basename(path)}: ${e.code === 'ENOENT' ? `file not found (${path})` : e.message}`);
  }
  return h.digest('hex');
}

/**
 * Import a data file as one dataset in ONE transaction: an error or an abort rolls everything back,
 * leaving the project as it was. The transaction spans awaits (the file is streamed), so nothing else
 * may write through this connection meanwhile; other connections wait on busy_timeout.
 */
export async function importDataset(db: Db, opts: ImportOptions): Promise<ImportResult> {
  const file = basename(opts.path);
  const format = opts.format ?? formatFromPath(opts.path);
  const unit = positionName(opts.path, format);
  const where = (line: number) => `${file} ${unit} ${line}`;
  const hash = await fileHash(opts.path);
  const checkAbort = () => {
    if (opts.signal?.aborted) throw new WinnowError('cancelled', `${file}: import cancelled`);
  };

  const records = readRecords(opts.path, { format, textMode: opts.textMode });
  // detection needs a sample before the first insert; the sample is replayed below
  const head: RecordItem[] = [];
  let ended = false;
  while (head.length < DETECT_SAMPLE) {
    const next = await records.next();
    if (next.done) { ended = true; break; }
    head.push(next.value);
  }
  const recordsInHead = head.filter((h) => h.error === undefined).map((h) => h.record);
  if (head.length === 0) throw new WinnowError('bad_input', `${file}: no records found`);
  let mapping: Mapping;
  let recordFormat: string;
  try {
    if (opts.mapping) {
      mapping = opts.mapping;
      recordFormat = opts.mapping.format;
    } else {
      if (recordsInHead.length === 0) {
        throw new WinnowError('parse_error', `${where(head[0].line)}: ${head[0].error}`, { line: head[0].line });
      }
      const d = detectFormat(recordsInHead, file);
      mapping = d.mapping;
      recordFormat = d.format;
    }
  } catch (err) {
    await records.return(undefined); // close the file
    throw err;
  }

  async function* all(): AsyncGenerator<RecordItem> {
    yield* head;
    if (!ended) yield* records;
  }

  const errors: Array<{ line: number; reason: string }> = [];
  let rows = 0;
  db.exec('BEGIN IMMEDIATE');
  try {
    const datasetId = createDataset(db, {
      name: opts.name ?? file, sourcePath: opts.path, format: `${format}:${recordFormat}`, mapping, hash,
    });
    const insert = exampleInserter(db, datasetId);
    const skip = importSkipInserter(db, datasetId);
    const malformed = (item: RecordItem, reason: string) => {
      if (!opts.skipMalformed) throw new WinnowError('parse_error', reason.startsWith(file) ? reason : `${where(item.line)}: ${reason}`, { line: item.line });
      errors.push({ line: item.line, reason });
      skip(item.line, reason, item.raw ?? (item.record !== undefined ? JSON.stringify(item.record) : null));
    };
    let n = 0;
    for await (const item of all()) {
      if (++n % 256 === 0) checkAbort();
      if (item.error !== undefined) { malformed(item, item.error); continue; }
      let norm;
      try {
        norm = toMessages(item.record, mapping, where(item.line));
      } catch (err) {
        if (err instanceof WinnowError) { malformed(item, err.message); continue; }
        throw err;
      }
      insert({
        rowIndex: rows, rawJson: item.raw ?? JSON.stringify(item.record), messagesJson: JSON.stringify(norm),
        textPreview: previewText(norm), normHash: normHash(norm), nChars: charCount(norm), fullText: fullText(norm),
      });
      rows++;
      if (rows % PROGRESS_EVERY === 0) opts.onProgress?.(rows);
    }
    checkAbort();
    if (rows === 0) throw new WinnowError('bad_input', `${file}: no usable records (${errors.length} skipped as malformed)`);
    setDatasetRowCount(db, datasetId, rows);
    db.exec('COMMIT');
    opts.onProgress?.(rows, rows);
    return { datasetId, rows, skipped: errors.length, errors };
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    await records.return(undefined);
    throw err;
  }
}
