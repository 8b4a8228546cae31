import type { Readable } from 'node:stream';
import { lineBatches } from './lines';
import type { RecordItem } from './types';

/** Plain text: each blank-line-separated block (or each non-empty line) becomes `{ text }`. */
export async function* readText(stream: Readable, mode: 'block' | 'line'): AsyncGenerator<RecordItem[]> {
  let block: string[] = [];
  let startLine = 0;
  for await (const batch of lineBatches(stream)) {
    const out: RecordItem[] = [];
    for (const { n, text } of batch) {
      if (mode === 'line') {
        if (text.trim() !== '') out.push({ line: n, record: { text } });
        continue;
      }
      if (text.trim() === '') {
        if (block.length) out.push({ line: startLine, record: { text: block.join('\n') } });
        block = [];
      } else {
        if (!block.length) startLine = n;
        block.push(text);
      }
    }
    if (out.length) yield out;
  }
  if (block.length) yield [{ line: startLine, record: { text: block.join('\n') } }];
}
