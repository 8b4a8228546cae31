import type { Readable } from 'node:stream';
import { lines } from './lines';
import type { RecordItem } from './types';

export async function* readJsonl(stream: Readable): AsyncGenerator<RecordItem> {
  for await (const { n, text } of lines(stream)) {
    if (text.trim() === '') continue;
    try {
      yield { line: n, record: JSON.parse(text), raw: text };
    } catch (err) {
      yield { line: n, error: `invalid JSON (${(err as Error).message})`, raw: text };
    }
  }
}
