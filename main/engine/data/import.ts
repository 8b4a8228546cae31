import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { basename, join } from 'node:path';
import type { Db } from '../db/open';
import {
  createDataset, createExampleIndexes, dropExampleIndexes, exampleBytesInserter, importSkipInserter, projectExampleCount, setDatasetHash,
  setDatasetRowCount,
} from '../db/datasets';
import { WinnowError } from '../util/errors';
import { formatFromPath, positionName, type FileFormat } from './readers';
import type { Mapping } from './formats';
import { parseFile } from './parse';
import { canParseInWorker, parseFileInWorker } from './parse-client';
import { indexText } from './textIndex';
import { beginImmediate, commit, rollbackIfOpen } from '../db/transaction';

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
  /** rows written so far (total once committed) */
  onProgress?: (done: number, total?: number) => void;
  /**
   * after the commit ('committed': the rows sort and filter from now on), after the write-ahead log is copied into
   * the database file ('checkpointed'), after the search index ('indexed', unless textIndex is false or it was stopped)
   */
  onPhase?: (phase: 'committed' | 'checkpointed' | 'indexed', rows: number) => void;
  /** called inside the import's transaction just before it commits: what it writes is committed with the rows */
  onCommit?: (datasetId: number, rows: number, skipped: number) => void;
  /** search-index progress, after the commit */
  onIndexProgress?: (done: number, total: number) => void;
  /** build the search index after the commit (default true); without it the next import's or re-mapping's does */
  textIndex?: boolean;
  /**
   * parse in worker threads (default: for files of 8 MiB or more, when workers can be started); with a number, that
   * many workers share a plain JSONL file in pieces of `pieceBytes` (default: parseWorkerCount(), 8 MiB)
   */
  worker?: boolean | { workers: number; pieceBytes?: number };
  signal?: AbortSignal;
}

export interface ImportResult {
  datasetId: number;
  /** the mapping used: given, or detected from the first records */
  mapping: Mapping;
  rows: number;
  skipped: number;
  errors: Array<{ line: number; reason: string }>;
}

const SMALL_FILE = 16 << 20;
/** below this a worker's start-up (a second V8 isolate loading the parser) costs more than it saves */
const WORKER_FILE = 8 << 20;

/**
 * sha256 of the file, in a worker thread so it overlaps the import instead of adding a full pass over a
 * (possibly multi-GB) file on the importing thread.
 */
function fileHash(path: string): Promise<string> {
  try {
    // an Arrow folder (save_to_disk): its state (the library's fingerprint of the contents) and its files' names and sizes
    if (statSync(path).isDirectory()) {
      const h = createHash('sha256');
      for (const f of readdirSync(path).sort()) {
        const st = statSync(join(path, f));
        h.update(`${f}:${st.size}\n`);
        if (f === 'state.json' || f === 'dataset_info.json') h.update(readFileSync(join(path, f)));
      }
      return Promise.resolve(h.digest('hex'));
    }
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
 * Import a data file as one dataset in ONE transaction: an error or an abort rolls everything back, leaving the
 * project as it was. The transaction spans awaits (the file is streamed), so nothing else may write through this
 * connection meanwhile; other connections wait on busy_timeout. Parsing (read, JSON, mapping, hashing) runs in a
 * worker thread for big files while this thread writes. After the commit the search index is built (textIndex.ts):
 * an abort from then on keeps the committed rows and leaves the index to be finished by the next job.
 */
export async function importDataset(db: Db, opts: ImportOptions): Promise<ImportResult> {
  const file = basename(opts.path);
  const format = opts.format ?? formatFromPath(opts.path);
  const unit = positionName(opts.path, format);
  const where = (line: number) => `${file} ${unit} ${line}`;
  const checkAbort = () => {
    if (opts.signal?.aborted) throw new WinnowError('cancelled', `${file}: import cancelled`);
  };
  let size = 0;
  try {
    size = statSync(opts.path).size;
  } catch {
    // the reader reports a missing file in the usual words
  }
  const useWorker = opts.worker ?? (size >= WORKER_FILE && canParseInWorker());
  const parseOpts = { format, mapping: opts.mapping, textMode: opts.textMode };
  const src = !useWorker ? await parseFile(opts.path, parseOpts)
    : typeof useWorker === 'object' ? await parseFileInWorker(opts.path, parseOpts, useWorker.workers, useWorker.pieceBytes)
    : await parseFileInWorker(opts.path, parseOpts);
  const hashing = fileHash(opts.path);
  hashing.catch(() => undefined); // awaited below; a failure before then must not go unhandled

  const errors: Array<{ line: number; reason: string }> = [];
  let rows = 0;
  let datasetId: number;
  // The transaction's pages all go to the write-ahead log; a checkpoint at the commit would then copy them into the
  // database file and fsync it (about as long again as the import). Deferred to just after the commit: the rows are
  // committed with the project's usual durability (WAL, synchronous=NORMAL) either way.
  const autockpt = db.pragma('wal_autocheckpoint', { simple: true }) as number;
  db.pragma('wal_autocheckpoint = 0');
  beginImmediate(db);
  try {
    datasetId = createDataset(db, {
      name: opts.name ?? file, sourcePath: opts.path, format: `${format}:${src.recordFormat}`, mapping: src.mapping, hash: '',
    });
    // a big import into a smaller project: drop examples' secondary indexes now, build them once at the end
    // (rows are rarely under 256 bytes, so size / 256 underestimates the rows to come)
    const rebuild = size / 256 > projectExampleCount(db);
    if (rebuild) dropExampleIndexes(db);
    const insert = exampleBytesInserter(db, datasetId);
    const skip = importSkipInserter(db, datasetId);
    for await (const batch of src.batches) {
      checkAbort();
      for (const b of batch.bad) {
        // mapping errors name file and line already; the readers' (invalid JSON, CSV field counts) do not
        const reason = b.reason.startsWith(file) ? b.reason : `${where(b.line)}: ${b.reason}`;
        if (!opts.skipMalformed) throw new WinnowError('parse_error', reason, { line: b.line });
        errors.push({ line: b.line, reason });
        skip(b.line, reason, b.raw);
      }
      insert(rows, batch.raw, batch.ends, batch.nChars);
      rows += batch.ends.length;
      // the progress callback may abort; looked at before the next batch
      opts.onProgress?.(rows);
    }
    checkAbort();
    if (rows === 0) throw new WinnowError('bad_input', `${file}: no usable records (${errors.length} skipped as malformed)`);
    if (rebuild) createExampleIndexes(db);
    setDatasetRowCount(db, datasetId, rows);
    setDatasetHash(db, datasetId, await hashing);
    opts.onCommit?.(datasetId, rows, errors.length);
    commit(db);
  } catch (err) {
    rollbackIfOpen(db);
    db.pragma(`wal_autocheckpoint = ${autockpt}`);
    await src.batches.return(undefined);
    await hashing.catch(() => undefined);
    throw err;
  }
  db.pragma(`wal_autocheckpoint = ${autockpt}`);
  opts.onProgress?.(rows, rows);
  opts.onPhase?.('committed', rows);
  // PASSIVE: copies what no reader still needs, never waits for one (the rest goes with a later checkpoint)
  db.pragma('wal_checkpoint(PASSIVE)');
  opts.onPhase?.('checkpointed', rows);
  // this dataset, and any left behind by a cancelled or killed job
  if (opts.textIndex !== false) {
    const r = await indexText(db, { signal: opts.signal, onProgress: opts.onIndexProgress });
    if (r.complete) opts.onPhase?.('indexed', rows);
  }
  return { datasetId, mapping: src.mapping, rows, skipped: errors.length, errors };
}
