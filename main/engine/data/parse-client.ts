/**
 * parseFile in worker threads, so reading, JSON parsing and mapping overlap the importing thread's SQLite writes.
 * A big plain JSONL file is cut into pieces shared round-robin by several workers (parsing costs more than writing,
 * so one worker would keep the writer waiting); the batches are handed over in file order, with line numbers made
 * whole-file again. Same interface and errors as parseFile.
 */
import { Worker } from 'node:worker_threads';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WinnowError, type ErrorCode } from '../util/errors';
import type { Mapping } from './formats';
import { fixLines, type ParseOptions, type ParsedBatch, type ParsedSource } from './parse';
import { formatFromPath } from './readers';

/** batches a worker may run ahead of the writer (each ~4,000 rows, ~4 MB for 1 KB rows) */
const AHEAD = 2;
/**
 * Worker heaps: rows die young, so a modest young generation; the old generation capped, or V8 lets each worker's
 * heap grow lazily to hundreds of MB before collecting (measured: two workers took the import past 500 MB RSS).
 * A single record of more than ~100 MB would not fit: the worker then fails with an out-of-memory error.
 */
const HEAP = { maxYoungGenerationSizeMb: 32, maxOldGenerationSizeMb: 160 };
/** bytes per piece when workers share a file: a few batches each, so no worker waits long for its turn */
const PIECE = 8 << 20;

type FromWorker =
  | { t: 'head'; mapping: Mapping; recordFormat: string }
  | { t: 'batch'; piece: number; batch: ParsedBatch }
  | { t: 'pieceEnd'; piece: number; lines: number }
  | { t: 'end' }
  | { t: 'error'; error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

/**
 * The built `import-worker.js` beside the bundle; from sources (tests, tsx), a bootstrap that registers tsx's loader
 * in the worker first (the parent's loader does not reach workers). Null when neither is there.
 */
function workerEntry(): { file: string; eval: boolean } | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(here, '..'), join(here, '..', '..')]) {
    const built = join(dir, 'import-worker.js');
    if (existsSync(built)) return { file: built, eval: false };
  }
  const source = join(here, 'parse-worker.ts');
  if (!existsSync(source)) return null;
  try {
    const api = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs');
    const code = `import(${JSON.stringify(pathToFileURL(api).href)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(source).href)}); });`;
    return { file: code, eval: true };
  } catch {
    return null;
  }
}

export function canParseInWorker(): boolean {
  return workerEntry() !== null;
}

/**
 * How many workers share a file: the writer needs about as much CPU as one parser, so two parsers pay even on two
 * cores (measured), more on bigger machines up to where the writer is the limit. WINNOW_IMPORT_WORKERS overrides.
 */
export function parseWorkerCount(): number {
  const env = Number(process.env.WINNOW_IMPORT_WORKERS);
  if (Number.isInteger(env) && env >= 1) return Math.min(env, 8);
  const cores = availableParallelism();
  return cores >= 2 ? Math.min(3, Math.max(2, cores - 1)) : 1;
}

/** One worker: its messages in order, credits for more, and the end of it. */
class ParseWorker {
  private queue: FromWorker[] = [];
  private failure: unknown = null;
  private finished = false;
  private wake: (() => void) | null = null;
  readonly worker: Worker;

  constructor(file: string, isEval: boolean, data: Record<string, unknown>) {
    this.worker = new Worker(file, { eval: isEval, workerData: { ...data, ahead: AHEAD }, resourceLimits: HEAP });
    const poke = () => { this.wake?.(); this.wake = null; };
    this.worker.on('message', (m: FromWorker) => { this.queue.push(m); poke(); });
    this.worker.on('error', (err) => {
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.failure ??= new WinnowError(oom ? 'too_large' : 'internal', oom ? `import worker ran out of memory (a record over ~100 MB?): ${err.message}` : `import worker failed: ${err.message}`);
      poke();
    });
    this.worker.on('exit', (code) => {
      this.finished = true;
      if (code !== 0) this.failure ??= new WinnowError('internal', `import worker exited with code ${code}`);
      poke();
    });
  }

  async next(): Promise<FromWorker> {
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        if (m.t === 'error') throw new WinnowError(m.error.code, m.error.message, m.error.details);
        if (m.t === 'batch') this.worker.postMessage({ t: 'more' });
        return m;
      }
      if (this.failure) throw this.failure;
      if (this.finished) throw new WinnowError('internal', 'import worker stopped before the end of the file');
      await new Promise<void>((r) => { this.wake = r; });
    }
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Whether a JSONL file's first line is an OpenAssistant message row (`message_id`, `parent_id`). */
function startsWithMessageRow(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(1 << 16);
    const n = readSync(fd, buf, 0, buf.length, 0);
    closeSync(fd);
    const line = buf.toString('utf8', 0, n).split('\n', 1)[0];
    return /"message_id"\s*:/.test(line) && /"parent_id"\s*:/.test(line);
  } catch {
    return false;
  }
}

export async function parseFileInWorker(
  path: string, opts: ParseOptions = {}, workers = parseWorkerCount(), pieceBytes = PIECE,
): Promise<ParsedSource> {
  const entry = workerEntry();
  if (!entry) throw new WinnowError('internal', `import worker not found near ${dirname(fileURLToPath(import.meta.url))}; run "npm run build"`);
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    // the worker reports a missing file in the usual words
  }
  const format = opts.format ?? formatFromPath(path);
  // message trees are gathered whole (trees.ts): one reader, never pieces
  const split = workers > 1 && format === 'jsonl' && !/\.gz$/i.test(path) && size >= 2 * pieceBytes && !opts.mapping?.tree && !startsWithMessageRow(path);
  const nPieces = split ? Math.ceil(size / pieceBytes) : 1;
  const n = split ? Math.min(workers, nPieces) : 1;
  const piecesOf = (w: number) => {
    const out: Array<{ index: number; start: number; end: number }> = [];
    for (let k = w; k < nPieces; k += n) out.push({ index: k, start: k * pieceBytes, end: Math.min(size, (k + 1) * pieceBytes) });
    return out;
  };
  const started: ParseWorker[] = [];
  const stopAll = () => Promise.all(started.map((w) => w.stop()));
  const first = new ParseWorker(entry.file, entry.eval, { path, opts, ...(split ? { pieces: piecesOf(0) } : {}) });
  started.push(first);
  let head: FromWorker;
  try {
    head = await first.next();
    if (head.t !== 'head') throw new WinnowError('internal', `import worker sent "${head.t}" before the mapping`);
  } catch (err) {
    await stopAll();
    throw err;
  }
  const { mapping, recordFormat } = head;
  // the others start once the first has the mapping (detected from the file's first records)
  for (let w = 1; w < n; w++) started.push(new ParseWorker(entry.file, entry.eval, { path, opts: { ...opts, mapping }, pieces: piecesOf(w) }));
  let lines = 0;

  async function* batches(): AsyncGenerator<ParsedBatch> {
    try {
      for (let k = 0; k < nPieces; k++) {
        const w = started[k % n]!;
        if (k > 0 && k < n) {
          const h = await w.next();
          if (h.t !== 'head') throw new WinnowError('internal', `import worker sent "${h.t}" before the mapping`);
        }
        for (;;) {
          const m = await w.next();
          if (m.t === 'batch') {
            if (m.piece !== k) throw new WinnowError('internal', `import worker sent piece ${m.piece}, expected ${k}`);
            // numbers within the piece → numbers in the file
            const b = m.batch;
            if (lines > 0) {
              for (let i = 0; i < b.lines.length; i++) b.lines[i] += lines;
              for (const bad of b.bad) { bad.line += lines; bad.reason = fixLines(bad.reason, lines); }
            }
            yield b;
          } else if (m.t === 'pieceEnd') {
            lines += m.lines;
            break;
          } else if (m.t === 'end') {
            if (split) throw new WinnowError('internal', `import worker ended before piece ${k}`);
            return;
          } else throw new WinnowError('internal', `import worker sent "${m.t}" mid-file`);
        }
      }
    } finally {
      // the end, an error, or the importer stopping early (cancel): the workers are not needed any more
      await stopAll();
    }
  }
  return { mapping, recordFormat, batches: batches(), lineCount: () => lines };
}
