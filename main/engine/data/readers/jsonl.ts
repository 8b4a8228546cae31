import type { Readable } from 'node:stream';
import { lineBatches, type LineRange } from './lines';
import type { RecordItem } from './types';

/** JSON Lines; with a range, the lines starting in it (numbered within it: see lineBatches). */
export async function* readJsonl(stream: Readable, range?: LineRange): AsyncGenerator<RecordItem[]> {
  for await (const batch of lineBatches(stream, range)) {
    const out: RecordItem[] = [];
    for (const { n, text, bytes } of batch) {
      if (text.trim() === '') continue;
      try {
        out.push({ line: n, record: JSON.parse(text), raw: text, rawBytes: bytes });
      } catch (err) {
        out.push({ line: n, error: `invalid JSON (${(err as Error).message})`, raw: text });
      }
    }
    if (out.length) yield out;
  }
}
