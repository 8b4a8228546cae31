import type { Readable } from 'node:stream';

export interface Line {
  n: number;
  text: string;
  /** the line's bytes (a view into the chunk read), for callers that store the line as it was */
  bytes: Buffer;
}

const LF = 10;
const CR = 13;

/**
 * Lines of a byte stream (a file, gunzipped if need be), numbered from 1, without their terminator (\n or \r\n),
 * in batches: one batch per chunk read, so a consumer pays one await per chunk rather than per line (it matters at a
 * million rows). Lines are found in the bytes and decoded one by one: a line of plain ASCII becomes a one-byte string
 * (fast to parse, hash and store) even when other lines of the same chunk are not ASCII, and decoding whole chunks
 * was a third of a JSONL import's parsing time. '\n' never occurs inside a UTF-8 sequence, so splitting first is exact;
 * invalid UTF-8 becomes U+FFFD as with any decoder. A leading BOM is dropped. Written by hand rather than with
 * readline so stream errors surface as rejections of the iterator.
 */
export async function* lineBatches(stream: Readable): AsyncGenerator<Line[]> {
  let rest: Buffer | null = null;
  let n = 0;
  let first = true;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (rest) buf = Buffer.concat([rest, buf]);
    if (first && buf.length >= 3) {
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
      first = false;
    }
    const out: Line[] = [];
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf(LF, start)) !== -1) {
      const end = nl > start && buf[nl - 1] === CR ? nl - 1 : nl;
      out.push({ n: ++n, text: buf.toString('utf8', start, end), bytes: buf.subarray(start, end) });
      start = nl + 1;
    }
    // copied, so the chunk is not kept alive by a short tail
    rest = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
    if (out.length) yield out;
  }
  if (rest && first && rest.length >= 3 && rest[0] === 0xef && rest[1] === 0xbb && rest[2] === 0xbf) rest = rest.subarray(3);
  if (rest && rest.length > 0) {
    const end = rest[rest.length - 1] === CR ? rest.length - 1 : rest.length;
    yield [{ n: ++n, text: rest.toString('utf8', 0, end), bytes: rest.subarray(0, end) }];
  }
}
