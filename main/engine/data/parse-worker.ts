/**
 * Worker-thread entry of an import's parsing (built as `import-worker.js`): runs parseFile and posts its batches to
 * the importing thread, at most a few ahead of what that thread has written (memory stays flat however big the file).
 * Given pieces of a plain JSONL file (several workers share it), it parses them one after the other and says after
 * each how many lines it had, so the importing thread can number lines across pieces.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorValue } from '../util/errors';
import { parseFile, type ParseOptions } from './parse';

const port = parentPort!;
const { path, opts, ahead, pieces } = workerData as {
  path: string; opts: ParseOptions; ahead: number;
  /** pieces of the file for this worker, in file order; absent: the whole file */
  pieces?: Array<{ index: number; start: number; end: number }>;
};
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
    let mapping = opts.mapping;
    for (const [i, piece] of (pieces ?? [null]).entries()) {
      const src = await parseFile(path, { ...opts, mapping, ...(piece ? { range: { start: piece.start, end: piece.end } } : {}) });
      if (i === 0) port.postMessage({ t: 'head', mapping: src.mapping, recordFormat: src.recordFormat });
      mapping = src.mapping;
      for await (const batch of src.batches) {
        while (credits === 0) await new Promise<void>((r) => { wake = r; });
        credits--;
        // the rows' bytes are moved, not copied
        port.postMessage({ t: 'batch', piece: piece?.index ?? 0, batch }, [batch.raw.buffer as ArrayBuffer]);
      }
      if (piece) port.postMessage({ t: 'pieceEnd', piece: piece.index, lines: src.lineCount() });
    }
    port.postMessage({ t: 'end' });
  } catch (err) {
    port.postMessage({ t: 'error', error: toErrorValue(err) });
  }
  port.close();
}

void main();
