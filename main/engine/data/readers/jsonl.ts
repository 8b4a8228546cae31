import type { Readable } from 'node:stream';
import { lineBatches, type LineRange } from './lines';
import type { RecordItem } from './types';

const ARRAY_HINT = 'the file looks like one JSON array, not JSON Lines (one object per line): name it .json';

/** JSON Lines; with a range, the lines starting in it (numbered within it: see lineBatches). */
export async function* readJsonl(stream: Readable, range?: LineRange): AsyncGenerator<RecordItem[]> {
  // a JSON array saved as .jsonl fails on its first line: say so there rather than "invalid JSON" on every line
  let firstOfFile = !range || range.start === 0;
  for await (const batch of lineBatches(stream, range)) {
    const out: RecordItem[] = [];
    for (const { n, text, bytes } of batch) {
      if (text.trim() === '') continue;
      const first = firstOfFile;
      firstOfFile = false;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (err) {
        const hint = first && text.trimStart().startsWith('[') ? `; ${ARRAY_HINT}` : '';
        out.push({ line: n, error: `invalid JSON (${(err as Error).message})${hint}`, raw: text });
        continue;
      }
      if (first && Array.isArray(record) && record.length > 0 && record.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) {
        out.push({ line: n, error: `a list of ${record.length} records on one line; ${ARRAY_HINT}`, raw: text });
      } else out.push({ line: n, record, raw: text, rawBytes: bytes });
    }
    if (out.length) yield out;
  }
}
