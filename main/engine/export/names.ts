/**
 * File names that come from data (dataset and subset names) and the one rule every export write goes through:
 * a path is resolved inside the chosen folder or refused. A name can never climb out (`..`), be absolute, carry a NUL,
 * be a Windows device name, or exceed what file systems accept.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { WinnowError } from '../util/errors';

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
/** bytes, leaving room for a suffix and an extension under the usual 255-byte limit */
const MAX_NAME_BYTES = 120;

/**
 * One safe file-name component from any string: letters, digits, `.`, `-`, `_` (other characters become `_`),
 * no leading dots, not a Windows reserved device name, at most MAX_NAME_BYTES bytes. Empty results take `fallback`.
 */
export function sanitizeFileName(name: string, fallback = 'unnamed'): string {
  let s = name
    .normalize('NFKC')
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .replace(/[^\p{L}\p{N}._-]+/gu, '_')
    .replace(/^[._]+|[._ ]+$/g, '');
  while (Buffer.byteLength(s, 'utf8') > MAX_NAME_BYTES) s = Array.from(s).slice(0, -1).join('');
  s = s.replace(/[._]+$/g, '');
  if (!s) s = fallback;
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  return s;
}

/** `rel` resolved under `root`; throws unless the result stays strictly inside `root`. */
export function insideDir(root: string, rel: string): string {
  if (rel.includes('\0')) throw new WinnowError('bad_input', `refusing a file name with a NUL byte under ${root}`);
  if (isAbsolute(rel)) throw new WinnowError('bad_input', `refusing to write ${rel}: export files are written only inside ${root}`);
  const base = resolve(root);
  const full = resolve(base, rel);
  const r = relative(base, full);
  if (!r || r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
    throw new WinnowError('bad_input', `refusing to write ${rel}: it resolves outside the export folder ${base}`);
  }
  return full;
}

/** A name not in `taken`: `name`, else `name (2)`, `name (3)`, ... */
export function freeName(name: string, taken: (n: string) => boolean): string {
  if (!taken(name)) return name;
  for (let i = 2; ; i++) if (!taken(`${name} (${i})`)) return `${name} (${i})`;
}
