import type { Readable } from 'node:stream';

/**
 * Lines of a text stream, numbered from 1, without their terminator (\n or \r\n).
 * Written by hand rather than with readline so stream errors surface as rejections of the iterator.
 */
export async function* lines(stream: Readable): AsyncGenerator<{ n: number; text: string }> {
  let buf = '';
  let n = 0;
  let first = true;
  for await (const chunk of stream as AsyncIterable<string>) {
    buf += first ? chunk.replace(/^\uFEFF/, '') : chunk;
    first = false;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf('\n', start)) !== -1) {
      const end = nl > start && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield { n: ++n, text: buf.slice(start, end) };
      start = nl + 1;
    }
    buf = buf.slice(start);
  }
  if (buf.length > 0) yield { n: ++n, text: buf.endsWith('\r') ? buf.slice(0, -1) : buf };
}
