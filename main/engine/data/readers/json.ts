import type { Readable } from 'node:stream';
import type { RecordItem } from './types';
import { checkNotUtf16, parseFailure } from './source';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const LF = 10;
/** an object's bytes are kept up to this size in case it turns out to be one conversation ({"messages": [...]}) */
const WHOLE_OBJECT = 16 << 20;

const isSpace = (c: number) => c === 32 || c === LF || c === 13 || c === 9;
const isTurn = (m: unknown) => m !== null && typeof m === 'object' && !Array.isArray(m) &&
  ((typeof (m as Record<string, unknown>).role === 'string' && 'content' in m) || (typeof (m as Record<string, unknown>).from === 'string' && 'value' in m));

/** One item's bytes parsed on its own: the record, or an error naming the line of the file it starts on. */
function parseItem(bytes: Buffer, index: number, startLine: number): RecordItem {
  const text = bytes.toString('utf8');
  try {
    return { line: index, record: JSON.parse(text) as unknown };
  } catch (err) {
    return { line: index, error: `invalid JSON in the item starting on line ${startLine} of the file (${(err as Error).message})`, raw: text };
  }
}

/**
 * The stream's chunks, the first one holding at least 4 bytes (or the whole stream, if shorter), so the BOM and
 * UTF-16 checks see the first 4 bytes together however the stream cuts them. `first` marks that chunk.
 */
async function* chunksWithHead(stream: Readable): AsyncGenerator<{ b: Buffer; first: boolean }> {
  let head: Buffer | null = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (!head) { yield { b: chunk, first: false }; continue; }
    const b = Buffer.concat([head, chunk]);
    if (b.length < 4) { head = b; continue; }
    head = null;
    yield { b, first: true };
  }
  if (head && head.length) yield { b: head, first: true };
}

/**
 * The document's shape, checked once it has been read: not cut short, and an object holds a list (the one asked
 * for, when one was).
 */
function checkDocumentEnd(s: { top: 'none' | 'array' | 'object' | 'done'; n: number; isObject: boolean; lists: string[]; list?: string }): void {
  if (s.top !== 'done') throw parseFailure(`the file ends inside the JSON document (cut short?) after ${s.n} complete items`);
  if (s.isObject && s.lists.length === 0) {
    throw parseFailure('expected an array of records or an object with exactly one list field, found no list');
  }
  if (s.isObject && s.list !== undefined && !s.lists.includes(s.list)) {
    throw parseFailure(`the object holds no list "${s.list}" (its lists: ${s.lists.map((k) => `"${k}"`).join(', ')})`);
  }
}

/**
 * A JSON document: an array of records, or an object holding exactly one list of them (e.g. `{"data": [...]}`), or
 * one conversation (`{"messages": [...]}`, a single record). Streamed: each item of the list is cut out of the bytes
 * and parsed on its own, so a dump of hundreds of MB (ShareGPT's are ~700 MB) is never one string or one parsed tree,
 * and an item that is not valid JSON is reported alone (`line` is the 1-based item number; the message names the
 * line of the file it starts on). The document's own shape errors (no list, two lists, cut short) throw.
 */
export async function* readJson(stream: Readable, pick: { list?: string; lists?: string[] } = {}): AsyncGenerator<RecordItem[]> {
  let depth = 0; // open containers
  let inStr = false;
  let esc = false;
  let top: 'none' | 'array' | 'object' | 'done' = 'none';
  let itemLevel = -1; // depth at which the list's items sit: 1 in a top-level array, 2 in the object's list
  let item: Buffer[] | null = null; // bytes of the current item read so far (earlier chunks)
  let itemStart = -1; // where the current item starts in this chunk (-1: in an earlier chunk)
  let itemLine = 0;
  let line = 1;
  let n = 0;
  // a top-level object: its keys, the lists seen, and its bytes while it may be one conversation
  let expectKey = false;
  let key: Buffer[] | null = null;
  let keyStart = -1;
  let lastKey = '';
  const lists: string[] = [];
  let doc: Buffer[] | null = null;
  let docBytes = 0;
  let isObject = false;
  let whole = false; // the object's list is a conversation's turns: the object is the record

  /** The items that end in this chunk (scanning from `i`); what is unfinished is carried over. */
  const scan = (b: Buffer, i: number): RecordItem[] => {
    if (doc && docBytes < WHOLE_OBJECT) { doc.push(b); docBytes += b.length; }
    const out: RecordItem[] = [];
    const endItem = (at: number) => {
      const part = b.subarray(itemStart < 0 ? 0 : itemStart, at);
      const bytes = item!.length ? Buffer.concat([...item!, part]) : part;
      item = null;
      n++;
      const it = parseItem(bytes, n, itemLine);
      if (n === 1 && top === 'object') {
        // the rest of the turns are not records either: the whole object is parsed at the end
        if (isTurn(it.record)) whole = true;
        else doc = null;
      }
      if (!whole) out.push(it);
    };
    for (; i < b.length; i++) {
      const c = b[i];
      if (c === LF) line++;
      if (inStr) {
        if (esc) esc = false;
        else if (c === BACKSLASH) esc = true;
        else if (c === QUOTE) {
          inStr = false;
          if (key) {
            lastKey = Buffer.concat([...key, b.subarray(keyStart < 0 ? 0 : keyStart, i)]).toString('utf8');
            key = null;
          }
        }
        continue;
      }
      if (isSpace(c)) continue;
      if (top === 'none') {
        if (c === 91) { top = 'array'; itemLevel = 1; depth = 1; continue; }
        if (c === 123) { top = 'object'; isObject = true; depth = 1; expectKey = true; doc = [b.subarray(i)]; docBytes = b.length - i; continue; }
        throw parseFailure(`expected an array of records or an object holding one list of them, found ${JSON.stringify(String.fromCharCode(c))} on line ${line}`);
      }
      if (top === 'done') {
        throw parseFailure(`text after the end of the JSON document, on line ${line}` +
          '; if the file is JSON Lines (one record per line), name it .jsonl');
      }
      const atItems = depth === itemLevel;
      if (c === COMMA) {
        if (item && atItems) endItem(i);
        if (depth === 1 && top === 'object') expectKey = true;
        continue;
      }
      if (c === 93 || c === 125) { // ] }
        if (item && atItems) endItem(i);
        depth--;
        if (depth === 0) top = 'done';
        else if (top === 'object' && depth === 1) itemLevel = -1; // the list (or another value) closed
        continue;
      }
      if (c === COLON) {
        if (depth === 1 && top === 'object') expectKey = false;
        continue;
      }
      if (!item && atItems) {
        item = [];
        itemStart = i;
        itemLine = line;
      }
      if (c === QUOTE) {
        inStr = true;
        if (depth === 1 && top === 'object' && expectKey) { key = []; keyStart = i + 1; }
      } else if (c === 91 || c === 123) { // [ {
        if (depth === 1 && top === 'object' && c === 91) {
          lists.push(lastKey);
          pick.lists?.push(lastKey);
          // the list asked for; with none asked, the first (a preview lists them all) or the only one
          if (pick.list !== undefined ? lastKey === pick.list : lists.length === 1) itemLevel = 2;
          else if (pick.list === undefined && !pick.lists) {
            throw parseFailure(`the object holds several lists (${lists.map((k) => `"${k}"`).join(', ')}); ` +
              `pick one with the mapping's "list" (e.g. {"list": "${lists[0]}"})`);
          }
        }
        depth++;
      }
    }
    // carry what is unfinished into the next chunk
    if (item) { (item as Buffer[]).push(Buffer.from(b.subarray(itemStart < 0 ? 0 : itemStart))); itemStart = -1; }
    if (key) { (key as Buffer[]).push(Buffer.from(b.subarray(keyStart < 0 ? 0 : keyStart))); keyStart = -1; }
    return out;
  };

  for await (const { b, first } of chunksWithHead(stream)) {
    // the first chunk: not UTF-16, and a UTF-8 BOM skipped
    if (first) checkNotUtf16(b.subarray(0, 4));
    const out = scan(b, first && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0);
    if (out.length) yield out;
  }
  if (top === 'none') return;
  checkDocumentEnd({ top, n, isObject, lists, list: pick.list });
  if (whole) {
    if (docBytes >= WHOLE_OBJECT) throw parseFailure('a single conversation object over 16 MB; save it as JSONL (one record per line)');
    yield [parseItem(Buffer.concat(doc!), 1, 1)];
  }
}
