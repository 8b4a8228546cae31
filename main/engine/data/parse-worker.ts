/**
 * Worker-thread entry of an import's parsing (built as `import-worker.js`): runs parseFile and posts its batches to
 * the importing thread, at most a few ahead of what that thread has written (memory stays flat however big the file).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorValue } from '../util/errors';
import { parseFile, type ParseOptions } from './parse';

const port = parentPort!;
const { path, opts, ahead } = workerData as { path: string; opts: ParseOptions; ahead: number };
let credits = ahead;
let wake: (() => void) | null = null;
port.on('message', (m: { t: 'more' }) => {
  if (m.t !== 'more') return;
  credits++;
  wake?.();
  wake = null;
});

async function main(): Promise<void> {
  try {
    const src = await parseFile(path, opts);
    port.postMessage({ t: 'head', mapping: src.mapping, recordFormat: src.recordFormat });
    for await (const batch of src.batches) {
      while (credits === 0) await new Promise<void>((r) => { wake = r; });
      credits--;
      // the rows' bytes are moved, not copied
      port.postMessage({ t: 'batch', batch }, [batch.raw.buffer as ArrayBuffer]);
    }
    port.postMessage({ t: 'end' });
  } catch (err) {
    port.postMessage({ t: 'error', error: toErrorValue(err) });
  }
  port.close();
}

void main();
