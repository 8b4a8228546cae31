/**
 * File names that come from data (dataset and subset names) and the one rule every export write goes through:
 * a path is resolved inside the chosen folder or refused. A name can never climb out (`..`), be absolute, carry a NUL,
 * be a Windows device name, or exceed what file systems accept.
 */
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
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
  if (isAbsolute(rel)) throw new WinnowError('bad_input', `refusing ${rel}: an absolute path; only paths inside ${root} are used`);
  const base = resolve(root);
  const full = resolve(base, rel);
  const r = relative(base, full);
  if (!r || r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
    throw new WinnowError('bad_input', `refusing ${rel}: it resolves outside the folder ${base}`);
  }
  refuseLinks(base, full, rel);
  return full;
}

/**
 * Symbolic links are never followed inside an export or bundle folder: a link at the file itself, or a linked folder
 * on the way to it, could point anywhere on the machine. The folder the user chose may itself be a link.
 */
function refuseLinks(base: string, full: string, rel: string): void {
  if (existsSync(full) && lstatSync(full).isSymbolicLink()) {
    throw new WinnowError('bad_input', `refusing ${rel}: it is a symbolic link inside ${base}; Winnow does not follow links in export or bundle folders`);
  }
  let parent = dirname(full);
  while (!existsSync(parent) && parent !== dirname(parent)) parent = dirname(parent);
  if (!existsSync(base)) return;
  const realBase = realpathSync(base);
  const realParent = realpathSync(parent);
  if (realParent !== realBase && !realParent.startsWith(realBase + sep)) {
    throw new WinnowError('bad_input', `refusing ${rel}: a linked folder on its path leads outside ${base}`);
  }
}

/** A name not in `taken`: `name`, else `name (2)`, `name (3)`, ... */
export function freeName(name: string, taken: (n: string) => boolean): string {
  if (!taken(name)) return name;
  for (let i = 2; ; i++) if (!taken(`${name} (${i})`)) return `${name} (${i})`;
}
