/**
 * Arrow files of the Hugging Face `datasets` library, streamed one record batch at a time with apache-arrow:
 *  - a `save_to_disk` folder: `data-00000-of-0000N.arrow` (Arrow IPC stream format), `dataset_info.json`, and
 *    `state.json`, whose `_data_files` list the shards in order; a DatasetDict's folder holds one such folder per split
 *    (`dataset_dict.json` names them);
 *  - the processed cache (`~/.cache/huggingface/datasets/org___name/<config>/<version>/<hash>/name-train.arrow`, or
 *    shards `name-train-00000-of-00003.arrow`): a file, or the folder when it holds one split.
 * `line` is the 1-based row over all shards. Values come out as JSON does: int64 as a number when exact (else text),
 * lists and structs as arrays and objects (a `messages` list<struct<role, content>> maps like JSONL), bytes as base64.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { WinnowError } from '../../util/errors';
import type { RecordItem } from './types';

const SPLIT_FILE = /^(.*)-([A-Za-z0-9_.]+?)(?:-(\d{5})-of-(\d{5}))?\.arrow$/;

/**
 * The .arrow files a path stands for, in order: the file itself, a save_to_disk folder's shards (state.json), or a
 * processed-cache folder's shards of its one split. A folder of several splits is an error naming them.
 */
export function arrowFiles(path: string): string[] {
  const name = basename(path);
  if (!statSync(path).isDirectory()) return [path];
  const state = join(path, 'state.json');
  if (existsSync(state)) {
    let files: unknown;
    try {
      files = (JSON.parse(readFileSync(state, 'utf8')) as { _data_files?: unknown })._data_files;
    } catch (err) {
      throw new WinnowError('parse_error', `${name}/state.json: not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(files) || files.length === 0 || !files.every((f) => typeof (f as { filename?: unknown })?.filename === 'string')) {
      throw new WinnowError('parse_error', `${name}/state.json: field "_data_files" must list the data files ({"filename": ...})`);
    }
    return files.map((f: { filename: string }) => {
      const p = join(path, basename(f.filename));
      if (!existsSync(p)) throw new WinnowError('not_found', `${name}/state.json lists ${f.filename}, which is missing from the folder`);
      return p;
    });
  }
  const dict = join(path, 'dataset_dict.json');
  if (existsSync(dict)) {
    let splits: unknown = [];
    try {
      splits = (JSON.parse(readFileSync(dict, 'utf8')) as { splits?: unknown }).splits;
    } catch {
      // named below from the folders
    }
    const names = Array.isArray(splits) ? splits.map(String) : readdirSync(path).filter((d) => existsSync(join(path, d, 'state.json')));
    throw new WinnowError('bad_input', `${name}: a DatasetDict saved with save_to_disk, holding the splits ${names.map((s) => `"${s}"`).join(', ')}; ` +
      `import one split's folder (e.g. ${join(path, names[0] ?? 'train')})`);
  }
  const arrows = readdirSync(path).filter((f) => f.endsWith('.arrow')).sort();
  if (arrows.length === 0) throw new WinnowError('not_found', `${name}: no .arrow files, state.json or dataset_dict.json in the folder`);
  const bySplit = new Map<string, string[]>();
  for (const f of arrows) {
    const split = SPLIT_FILE.exec(f)?.[2] ?? f;
    bySplit.set(split, [...(bySplit.get(split) ?? []), f]);
  }
  if (bySplit.size > 1) {
    throw new WinnowError('bad_input', `${name}: the folder holds several splits (${[...bySplit].map(([s, f]) => `"${s}": ${f.join(', ')}`).join('; ')}); ` +
      'import one split\'s file');
  }
  return arrows.map((f) => join(path, f));
}

function startsWithMagic(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(6);
    return readSync(fd, b, 0, 6, 0) === 6 && b.toString('latin1') === 'ARROW1';
  } finally {
    closeSync(fd);
  }
}

/**
 * The footer of an Arrow IPC file (a flatbuffer `Footer`: version, schema, dictionaries, recordBatches), checked
 * before apache-arrow decodes it: its length fits the file, and its block lists (24 bytes a block) fit the footer.
 */
function checkFooter(file: string): void {
  const name = basename(file);
  const bad = (why: string) => new WinnowError('parse_error', `${name}: not a valid Arrow IPC file (${why})`);
  const fd = openSync(file, 'r');
  let F: Buffer;
  try {
    const size = fstatSync(fd).size;
    if (size < 18) throw bad('too short for an Arrow file');
    const tail = Buffer.alloc(10);
    readSync(fd, tail, 0, 10, size - 10);
    if (tail.toString('latin1', 4) !== 'ARROW1') throw bad('no ARROW1 magic at the end: cut short?');
    const len = tail.readInt32LE(0);
    if (len <= 0 || len > size - 18) throw bad(`footer length ${len} does not fit the file`);
    F = Buffer.alloc(len);
    readSync(fd, F, 0, len, size - 10 - len);
  } finally {
    closeSync(fd);
  }
  const u32 = (at: number) => {
    if (at < 0 || at + 4 > F.length) throw bad('the footer points outside itself');
    return F.readUInt32LE(at);
  };
  const root = u32(0);
  const vtable = root - F.readInt32LE(Math.min(root, F.length - 4));
  if (vtable < 0 || vtable + 4 > F.length) throw bad('the footer points outside itself');
  const vlen = F.readUInt16LE(vtable);
  for (const field of [2, 3]) { // dictionaries, recordBatches
    const slot = 4 + 2 * field;
    if (slot + 2 > vlen || vtable + slot + 2 > F.length) continue;
    const off = F.readUInt16LE(vtable + slot);
    if (off === 0) continue;
    const vec = root + off + u32(root + off);
    const n = u32(vec);
    if (vec + 4 + n * 24 > F.length) throw bad(`the footer lists ${n} ${field === 2 ? 'dictionaries' : 'record batches'}, more than it holds`);
  }
}

/**
 * The decoding runs in a worker thread with a bounded heap: apache-arrow trusts the flatbuffer lengths of a file's
 * schema and footer, so a corrupt one has it build millions of objects (the process runs out of memory) or loop. In a
 * worker that ends as an error naming the file. The worker sends one record batch per request (backpressure), its rows
 * already as JSON would hold them: int64 as a number when exact (else text), lists and structs as arrays and objects,
 * bytes as base64.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const A = require(workerData.arrow);
function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'object') return v;
  if (v instanceof A.Vector) return Array.from(v, plain);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (ArrayBuffer.isView(v)) return Array.from(v, plain);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  const obj = typeof v.toJSON === 'function' ? v.toJSON() : v;
  if (obj instanceof Map) return Object.fromEntries([...obj].map(([k, x]) => [String(k), plain(x)]));
  const out = {};
  for (const [k, x] of Object.entries(obj)) out[k] = plain(x);
  return out;
}
let wake = null;
parentPort.on('message', () => { const w = wake; wake = null; if (w) w(); });
const asked = () => new Promise((r) => { wake = r; });
(async () => {
  let stage = 'open';
  try {
    await asked();
    const reader = await A.RecordBatchReader.from(fs.createReadStream(workerData.file, { highWaterMark: 1 << 20 }));
    stage = 'read';
    for await (const batch of reader) {
      const fields = batch.schema.fields.map((f) => f.name);
      const cols = fields.map((_, i) => batch.getChildAt(i));
      const rows = new Array(batch.numRows);
      for (let r = 0; r < batch.numRows; r++) {
        const rec = {};
        for (let i = 0; i < fields.length; i++) rec[fields[i]] = plain(cols[i] ? cols[i].get(r) : null);
        rows[r] = rec;
      }
      parentPort.postMessage({ rows });
      await asked();
    }
    parentPort.postMessage({ done: true });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err), stage });
  }
})();
`;

/**
 * A worker's heap, MB: a `datasets` record batch (1000 rows by default) is a few MB, and a corrupt file's runaway
 * allocation stops here. WINNOW_ARROW_HEAP_MB raises it for files of very large batches (or lowers it).
 */
const workerHeapMb = () => Number(process.env.WINNOW_ARROW_HEAP_MB) || 1024;
/** no answer from the worker for this long (ms; WINNOW_ARROW_STALL_MS): a corrupt file apache-arrow loops on */
const stallMs = () => Number(process.env.WINNOW_ARROW_STALL_MS) || 60_000;

/** The rows of the Arrow files a path stands for, one record batch at a time. */
export async function* readArrow(path: string): AsyncGenerator<RecordItem[]> {
  const arrow = createRequire(import.meta.url).resolve('apache-arrow');
  let line = 0;
  for (const file of arrowFiles(path)) {
    const name = basename(file);
    if (startsWithMagic(file)) checkFooter(file);
    const worker = new Worker(WORKER, { eval: true, workerData: { file, arrow }, resourceLimits: { maxOldGenerationSizeMb: workerHeapMb() } });
    let batchNo = 0;
    const next = () => new Promise<{ rows?: Array<Record<string, unknown>>; done?: boolean }>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new WinnowError('parse_error', `${name}: the Arrow reader stopped responding at record batch ${batchNo + 1} (a corrupt file?)`));
      }, stallMs());
      const onMessage = (m: { rows?: Array<Record<string, unknown>>; done?: boolean; error?: string; stage?: string }) => {
        cleanup();
        if (m.error === undefined) return resolve(m);
        reject(new WinnowError('parse_error', m.stage === 'open' ? `${name}: not an Arrow IPC file (${m.error})`
          : `${name}: record batch ${batchNo + 1} (after row ${line}) cannot be read: ${m.error}`));
      };
      const onError = (err: Error & { code?: string }) => {
        cleanup();
        reject(new WinnowError('parse_error', err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `${name}: not a valid Arrow file (decoding record batch ${batchNo + 1} ran out of memory: corrupt lengths? ` +
            `A batch that really needs more than ${workerHeapMb()} MB can be read with WINNOW_ARROW_HEAP_MB set higher)`
          : `${name}: the Arrow reader failed at record batch ${batchNo + 1}: ${err.message}`));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new WinnowError('parse_error', `${name}: the Arrow reader ended (code ${code}) at record batch ${batchNo + 1}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      worker.postMessage('more');
    });
    try {
      for (;;) {
        const m = await next();
        if (m.done) break;
        batchNo++;
        const rows = m.rows ?? [];
        if (rows.length) yield rows.map((record) => ({ line: ++line, record }));
      }
    } finally {
      await worker.terminate();
    }
  }
}
