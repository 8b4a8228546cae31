import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { WinnowError } from '../../util/errors';
import type { FileFormat } from './types';

/** File name without a trailing .gz, so `train.jsonl.gz` is read as JSONL. */
export function innerName(path: string): string {
  return basename(path).replace(/\.gz$/i, '');
}

export function formatFromPath(path: string): FileFormat {
  // a folder: the `datasets` library's save_to_disk output or processed cache (readers/arrow.ts)
  if (isFolder(path)) return 'arrow';
  const name = innerName(path).toLowerCase();
  const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
  switch (ext) {
    case 'jsonl': case 'ndjson': return 'jsonl';
    case 'json': return /\.gz$/i.test(path) || !isJsonLines(path) ? 'json' : 'jsonl';
    case 'csv': return 'csv';
    case 'tsv': case 'tab': return 'tsv';
    case 'txt': case 'text': case 'md': return 'txt';
    case 'arrow':
      if (/\.gz$/i.test(path)) throw new WinnowError('unsupported', `${basename(path)}: gzipped Arrow is not supported; gunzip it first`);
      return 'arrow';
    case 'parquet': case 'pq':
      // Parquet compresses inside the file; a gzipped one cannot be read a row group at a time
      if (/\.gz$/i.test(path)) throw new WinnowError('unsupported', `${basename(path)}: gzipped Parquet is not supported; gunzip it first`);
      return 'parquet';
    default:
      throw new WinnowError('unsupported', `${basename(path)}: unknown file type ".${ext}" (expected .jsonl, .json, .csv, .tsv, .txt, optionally .gz, .parquet, .arrow, or a datasets save_to_disk folder)`);
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const SNIFF = 64 << 10;

/**
 * Whether a .json file is really JSON Lines (common on dataset hubs, and what Hugging Face `datasets` accepts): its
 * first value is an object that ends within the first 64 KB and is followed by another value.
 */
function isJsonLines(path: string): boolean {
  let head: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(SNIFF);
      head = head.subarray(0, readSync(fd, head, 0, SNIFF, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false; // the reader reports a missing or unreadable file in its usual words
  }
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (i < head.length && (head[i] === 32 || head[i] === 10 || head[i] === 13 || head[i] === 9)) i++;
  if (head[i] !== 123) return false;
  let depth = 0;
  let inStr = false;
  let esc = false;
  for (; i < head.length; i++) {
    const c = head[i];
    if (inStr) {
      if (esc) esc = false;
      else if (c === 92) esc = true;
      else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 123 || c === 91) depth++;
    else if ((c === 125 || c === 93) && --depth === 0) break;
  }
  for (i++; i < head.length; i++) {
    const c = head[i];
    if (c === 123 || c === 91) return true;
    if (!(c === 32 || c === 10 || c === 13 || c === 9)) return false;
  }
  return false;
}

/** The file's bytes, gunzipped when the name ends in .gz. */
export function openBytes(path: string): Readable {
  // 1 MiB reads: fewer chunks (each one an await and a line-splitting pass) at a million rows
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const out: Readable = /\.gz$/i.test(path) ? file.pipe(createGunzip({ chunkSize: 1 << 20 })) : file;
  // errors on the file stream do not propagate through pipe(); forward them so the reader sees them
  if (out !== file) file.on('error', (err) => out.destroy(err));
  return out;
}

/** A UTF-8 text stream of the file, gunzipped when the name ends in .gz. */
export function openText(path: string): Readable {
  const out = openBytes(path);
  out.setEncoding('utf8');
  return out;
}

/** Errors of a file's own shape that a reader cannot tie to one record: ioError names the file. */
const PARSE = 'WINNOW_PARSE';
export const parseFailure = (message: string): Error => Object.assign(new Error(message), { code: PARSE });

/**
 * UTF-16 text (Windows "Unicode" saves) would come through as invalid JSON or one garbled column on every line: it is
 * named instead, from its byte-order mark or the NUL byte beside each ASCII character. `head` holds the first bytes
 * as read, or as decoded to UTF-8 text (a BOM then reads as two U+FFFD).
 */
export function checkNotUtf16(head: Uint8Array | string): void {
  const at = (i: number) => (typeof head === 'string' ? head.charCodeAt(i) : head[i]);
  const n = head.length;
  if (n < 2) return;
  const bom = typeof head === 'string' ? at(0) === 0xfffd && at(1) === 0xfffd : (at(0) === 0xff && at(1) === 0xfe) || (at(0) === 0xfe && at(1) === 0xff);
  const nuls = n >= 4 && ((at(1) === 0 && at(3) === 0 && at(0) !== 0) || (at(0) === 0 && at(2) === 0 && at(1) !== 0));
  if ((bom && n >= 4 && (at(2) === 0 || at(3) === 0)) || nuls) {
    throw parseFailure('the file is UTF-16 encoded; save it as UTF-8');
  }
}

export function ioError(path: string, err: unknown): WinnowError {
  if (err instanceof WinnowError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === PARSE) return new WinnowError('parse_error', `${basename(path)}: ${e.message}`);
  if (e.code === 'ENOENT') return new WinnowError('not_found', `${basename(path)}: file not found (${path})`);
  if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR') return new WinnowError('parse_error', `${basename(path)}: not a valid gzip file (${e.message})`);
  return new WinnowError('io_error', `${basename(path)}: ${e.message}`);
}
