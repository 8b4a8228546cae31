import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { basename } from 'node:path';
import type { Db } from '../db/open';
import { createDataset, exampleInserter, importSkipInserter, setDatasetHash, setDatasetRowCount } from '../db/datasets';
import { WinnowError } from '../util/errors';
import { formatFromPath, positionName, readRecordBatches, type FileFormat, type RecordItem } from './readers';
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
const SMALL_FILE = 16 << 20;

/**
 * sha256 of the file, in a worker thread so it overlaps the import instead of adding a full pass over a
 * (possibly multi-GB) file on the importing thread.
 */
function fileHash(path: string): Promise<string> {
  try {
    // small files: not worth a thread
    if (statSync(path).size < SMALL_FILE) return Promise.resolve(createHash('sha256').update(readFileSync(path)).digest('hex'));
  } catch {
    // fall through: the worker reports the error in the usual words
  }
  const code = `
    const { createHash } = require('node:crypto');
    const { createReadStream } = require('node:fs');
    const { parentPort, workerData } = require('node:worker_threads');
    const h = createHash('sha256');
    createReadStream(workerData, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('error', (e) => parentPort.postMessage({ error: e.message, code: e.code }))
      .on('end', () => parentPort.postMessage({ hash: h.digest('hex') }));`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: path });
    w.once('message', (m: { hash?: string; error?: string; code?: string }) => {
      void w.terminate();
      if (m.hash) resolve(m.hash);
      else reject(new WinnowError(m.code === 'ENOENT' ? 'not_found' : 'io_error', `${basename(path)}: ${m.code === 'ENOENT' ? `file not found (${path})` : m.error}`));
    });
    w.once('error', (e) => reject(new WinnowError('io_error', `${basename(path)}: ${e.message}`)));
  });
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
  const hashing = fileHash(opts.path);
  hashing.catch(() => undefined); // awaited below; a failure before then must not go unhandled
  const checkAbort = () => {
    if (opts.signal?.aborted) throw new WinnowError('cancelled', `${file}: import cancelled`);
  };

  const batches = readRecordBatches(opts.path, { format, textMode: opts.textMode });
  // detection needs a sample before the first insert; the sample's batches are replayed below
  const head: RecordItem[][] = [];
  let nHead = 0;
  let ended = false;
  let mapping: Mapping;
  let recordFormat: string;
  try {
    while (nHead < DETECT_SAMPLE) {
      const next = await batches.next();
      if (next.done) { ended = true; break; }
      head.push(next.value);
      nHead += next.value.length;
    }
    const sample = head.flat().slice(0, DETECT_SAMPLE);
    if (sample.length === 0) throw new WinnowError('bad_input', `${file}: no records found`);
    if (opts.mapping) {
      mapping = opts.mapping;
      recordFormat = opts.mapping.format;
    } else {
      const records = sample.filter((h) => h.error === undefined).map((h) => h.record);
      if (records.length === 0) throw new WinnowError('parse_error', `${where(sample[0].line)}: ${sample[0].error}`, { line: sample[0].line });
      const d = detectFormat(records, file);
      mapping = d.mapping;
      recordFormat = d.format;
    }
  } catch (err) {
    await batches.return(undefined); // close the file
    await hashing.catch(() => undefined);
    throw err;
  }

  async function* all(): AsyncGenerator<RecordItem[]> {
    yield* head;
    if (!ended) yield* batches;
  }

  const errors: Array<{ line: number; reason: string }> = [];
  let rows = 0;
  db.exec('BEGIN IMMEDIATE');
  try {
    const datasetId = createDataset(db, {
      name: opts.name ?? file, sourcePath: opts.path, format: `${format}:${recordFormat}`, mapping, hash: '',
    });
    const insert = exampleInserter(db, datasetId);
    const skip = importSkipInserter(db, datasetId);
    const malformed = (item: RecordItem, reason: string) => {
      if (!opts.skipMalformed) throw new WinnowError('parse_error', reason.startsWith(file) ? reason : `${where(item.line)}: ${reason}`, { line: item.line });
      errors.push({ line: item.line, reason });
      skip(item.line, reason, item.raw ?? (item.record !== undefined ? JSON.stringify(item.record) : null));
    };
    let nextProgress = PROGRESS_EVERY;
    for await (const batch of all()) {
      checkAbort();
      for (const item of batch) {
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
      }
      if (rows >= nextProgress) {
        opts.onProgress?.(rows);
        nextProgress = rows + PROGRESS_EVERY;
        // the progress callback may abort; look before the next batch
      }
    }
    checkAbort();
    if (rows === 0) throw new WinnowError('bad_input', `${file}: no usable records (${errors.length} skipped as malformed)`);
    setDatasetRowCount(db, datasetId, rows);
    setDatasetHash(db, datasetId, await hashing);
    db.exec('COMMIT');
    opts.onProgress?.(rows, rows);
    return { datasetId, rows, skipped: errors.length, errors };
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    await batches.return(undefined);
    await hashing.catch(() => undefined);
    throw err;
  }
}
