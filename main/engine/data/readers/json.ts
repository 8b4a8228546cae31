import type { Readable } from 'node:stream';
import type { RecordItem } from './types';
import { checkNotUtf16 } from './source';

const BATCH = 1000;

/**
 * A JSON document: an array of records, or an object holding exactly one array (e.g. `{"data": [...]}`).
 * Read whole: JSON arrays cannot be split safely without a streaming parser, and such files are small in practice.
 */
export async function* readJson(stream: Readable): AsyncGenerator<RecordItem[]> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<string>) text += chunk;
  checkNotUtf16(text.slice(0, 4));
  text = text.replace(/^\uFEFF/, '');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    yield [{ line: lineOfError(text, err as Error), error: `invalid JSON (${(err as Error).message})` }];
    return;
  }
  let items: unknown[];
  if (Array.isArray(doc)) items = doc;
  else if (doc !== null && typeof doc === 'object') {
    const lists = Object.entries(doc).filter(([, v]) => Array.isArray(v));
    if (lists.length === 1 && isTurns(lists[0][1] as unknown[])) {
      // one conversation saved as a file ({"messages": [...]}): the object is the record, not its list of turns
      yield [{ line: 1, record: doc }];
      return;
    }
    if (lists.length !== 1) {
      yield [{ line: 1, error: `expected an array of records or an object with exactly one list field, found ${lists.length} list fields${lists.length ? ` (${lists.map(([k]) => `"${k}"`).join(', ')})` : ''}` }];
      return;
    }
    items = lists[0][1] as unknown[];
  } else {
    yield [{ line: 1, error: 'expected an array of records' }];
    return;
  }
  for (let i = 0; i < items.length; i += BATCH) yield items.slice(i, i + BATCH).map((record, k) => ({ line: i + k + 1, record }));
}

const isTurns = (list: unknown[]) => list.length > 0 && list.every((m) => m !== null && typeof m === 'object' &&
  ((typeof (m as Record<string, unknown>).role === 'string' && 'content' in m) || (typeof (m as Record<string, unknown>).from === 'string' && 'value' in m)));

/** Line number of a JSON.parse error when the engine reports a position. */
function lineOfError(text: string, err: Error): number {
  const m = /position (\d+)/.exec(err.message);
  if (!m) return 1;
  const pos = Number(m[1]);
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
