import type { Readable } from 'node:stream';
import { lines } from './lines';
import type { RecordItem } from './types';

/** Plain text: each blank-line-separated block (or each non-empty line) becomes `{ text }`. */
export async function* readText(stream: Readable, mode: 'block' | 'line'): AsyncGenerator<RecordItem> {
  let block: string[] = [];
  let startLine = 0;
  for await (const { n, text } of lines(stream)) {
    if (mode === 'line') {
      if (text.trim() !== '') yield { line: n, record: { text } };
      continue;
    }
    if (text.trim() === '') {
      if (block.length) yield { line: startLine, record: { text: block.join('\n') } };
      block = [];
    } else {
      if (!block.length) startLine = n;
      block.push(text);
    }
  }
  if (block.length) yield { line: startLine, record: { text: block.join('\n') } };
}
