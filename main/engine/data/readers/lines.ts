import type { Readable } from 'node:stream';
import { checkNotUtf16 } from './source';
import type { LineRange } from './types';

export interface Line {
  n: number;
  text: string;
  /** the line's bytes (a view into the chunk read), for callers that store the line as it was */
  bytes: Buffer;
}

const LF = 10;
const CR = 13;

export type { LineRange } from './types';

/**
 * Lines of a byte stream (a file, gunzipped if need be), numbered from 1, without their terminator (\n or \r\n),
 * in batches: one batch per chunk read, so a consumer pays one await per chunk rather than per line (it matters at a
 * million rows). Lines are found in the bytes and decoded one by one: a line of plain ASCII becomes a one-byte string
 * (fast to parse, hash and store) even when other lines of the same chunk are not ASCII, and decoding whole chunks
 * was a third of a JSONL import's parsing time. '\n' never occurs inside a UTF-8 sequence, so splitting first is exact;
 * invalid UTF-8 becomes U+FFFD as with any decoder. A leading BOM is dropped. Written by hand rather than with
 * readline so stream errors surface as rejections of the iterator.
 *
 * With a range, only the lines starting in it are given (numbered from 1 within it): the partial line before
 * `start` belongs to the previous range, and the line running past `end` to this one.
 */
export async function* lineBatches(stream: Readable, range?: LineRange): AsyncGenerator<Line[]> {
  let rest: Buffer | null = null;
  let pos = range?.from ?? 0; // file offset of the next unread byte of `rest` + chunks
  let n = 0;
  let skipping = range !== undefined && range.start > 0; // up to and including the first '\n' read
  let bomCheck = !skipping;
  const end = range?.end ?? Infinity;
  const done = () => { if (range?.counted) range.counted.lines = n; };
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (rest) buf = Buffer.concat([rest, buf]);
    let start = 0;
    if (skipping) {
      const nl = buf.indexOf(LF);
      if (nl === -1) { pos += buf.length; rest = null; continue; }
      start = nl + 1;
      skipping = false;
    }
    // the first bytes decide (a first line shorter than 4 bytes holds no BOM)
    if (bomCheck && (buf.length - start >= 4 || buf.indexOf(LF, start) !== -1)) {
      checkNotUtf16(buf.subarray(start, start + 4));
      if (buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
      bomCheck = false;
    }
    const out: Line[] = [];
    let nl: number;
    while (pos + start < end && (nl = buf.indexOf(LF, start)) !== -1) {
      const e = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
      out.push({ n: ++n, text: buf.toString('utf8', start, e), bytes: buf.subarray(start, e) });
      start = nl + 1;
    }
    if (pos + start >= end) {
      if (out.length) yield out;
      done();
      return;
    }
    // copied, so the chunk is not kept alive by a short tail
    rest = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
    pos += start;
    if (out.length) yield out;
  }
  if (rest && bomCheck && rest.length >= 3 && rest[0] === 0xef && rest[1] === 0xbb && rest[2] === 0xbf) rest = rest.subarray(3);
  if (rest && rest.length > 0 && !skipping && pos < end) {
    const e = rest[rest.length - 1] === CR ? rest.length - 1 : rest.length;
    yield [{ n: ++n, text: rest.toString('utf8', 0, e), bytes: rest.subarray(0, e) }];
  }
  done();
}
