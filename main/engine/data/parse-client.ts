/**
 * parseFile in a worker thread, so reading, JSON parsing, mapping and hashing overlap the importing thread's
 * SQLite writes (each is about half of an import's CPU time). Same interface and errors as parseFile.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WinnowError, type ErrorCode } from '../util/errors';
import type { Mapping } from './formats';
import type { ParseOptions, ParsedBatch, ParsedSource } from './parse';

/** batches the worker may run ahead of the writer (each ~4,000 rows, ~2 MB for GSM8K-sized rows) */
const AHEAD = 3;

type FromWorker =
  | { t: 'head'; mapping: Mapping; recordFormat: string }
  | { t: 'batch'; batch: ParsedBatch }
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

export async function parseFileInWorker(path: string, opts: ParseOptions = {}): Promise<ParsedSource> {
  const entry = workerEntry();
  if (!entry) throw new WinnowError('internal', `import worker not found near ${dirname(fileURLToPath(import.meta.url))}; run "npm run build"`);
  // a roomier young generation: each row's strings and objects die young, and fewer scavenges promote fewer of them
  const worker = new Worker(entry.file, { eval: entry.eval, workerData: { path, opts, ahead: AHEAD }, resourceLimits: { maxYoungGenerationSizeMb: 64 } });
  const queue: FromWorker[] = [];
  let failure: unknown = null;
  let finished = false;
  let wake: (() => void) | null = null;
  const poke = () => { wake?.(); wake = null; };
  worker.on('message', (m: FromWorker) => { queue.push(m); poke(); });
  worker.on('error', (err) => { failure ??= new WinnowError('internal', `import worker failed: ${err.message}`); poke(); });
  worker.on('exit', (code) => {
    finished = true;
    if (code !== 0) failure ??= new WinnowError('internal', `import worker exited with code ${code}`);
    poke();
  });

  const next = async (): Promise<FromWorker> => {
    for (;;) {
      const m = queue.shift();
      if (m) {
        if (m.t === 'error') throw new WinnowError(m.error.code, m.error.message, m.error.details);
        return m;
      }
      if (failure) throw failure;
      if (finished) throw new WinnowError('internal', 'import worker stopped before the end of the file');
      await new Promise<void>((r) => { wake = r; });
    }
  };

  let head: FromWorker;
  try {
    head = await next();
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  if (head.t !== 'head') {
    await worker.terminate();
    throw new WinnowError('internal', `import worker sent "${head.t}" before the mapping`);
  }

  async function* batches(): AsyncGenerator<ParsedBatch> {
    try {
      for (;;) {
        const m = await next();
        if (m.t === 'end') return;
        if (m.t !== 'batch') throw new WinnowError('internal', `import worker sent "${m.t}" mid-file`);
        worker.postMessage({ t: 'more' });
        yield m.batch;
      }
    } finally {
      // the end, an error, or the importer stopping early (cancel): the worker is not needed any more
      await worker.terminate();
    }
  }
  return { mapping: head.mapping, recordFormat: head.recordFormat, batches: batches() };
}
