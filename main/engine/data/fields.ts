/**
 * Field paths in a mapping: a record's own key (`question`, also one holding dots, as CSV headers may), a nested field
 * (`meta.source`, `instances[0].input`), the one item of a list expanded into rows (`instances[*].input`), or the
 * record itself (`$`, for JSONL lines that are bare strings).
 *
 * Expansion: a mapping naming `list[*]` makes one row per item of `list`, each row the parent record with `list`
 * holding only that item. Stored that way, a row maps the same on its own (re-mapped, exported and imported again).
 */
import { WinnowError } from '../util/errors';

type Rec = Record<string, unknown>;
const isObj = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `$`: the record itself */
export const SELF = '$';

type Step = { key: string } | { index: number } | { each: true };

const cache = new Map<string, Step[] | null>();
/** The steps of a path; null when the path is a plain key (the usual case, looked up directly). */
function steps(path: string): Step[] | null {
  let s = cache.get(path);
  if (s !== undefined) return s;
  if (!/[.[]/.test(path)) s = null;
  else {
    s = [];
    const re = /([^.[\]]+)|\[(\d+|\*)\]/g;
    let m: RegExpExecArray | null;
    let at = 0;
    while ((m = re.exec(path)) !== null) {
      const between = path.slice(at, m.index);
      if (between !== '' && between !== '.') { s = null; break; }
      if (m[1] !== undefined) s.push({ key: m[1] });
      else if (m[2] === '*') s.push({ each: true });
      else s.push({ index: Number(m[2]) });
      at = re.lastIndex;
    }
    if (s && at !== path.length) s = null;
  }
  if (cache.size > 1000) cache.clear();
  cache.set(path, s);
  return s;
}

/**
 * A field's value by path; undefined when absent. `[*]` takes the one item an expanded row holds; a list of several
 * there is an error naming the field (it is expanded at import, not when one row is mapped).
 */
export function getField(record: unknown, path: string, where: string): unknown {
  if (path === SELF) return record;
  if (!isObj(record)) return undefined;
  if (path in record) return record[path];
  const st = steps(path);
  if (!st) return undefined;
  let v: unknown = record;
  let sofar = '';
  for (const step of st) {
    if ('key' in step) {
      sofar = sofar ? `${sofar}.${step.key}` : step.key;
      v = isObj(v) ? v[step.key] : undefined;
    } else if ('index' in step) {
      sofar += `[${step.index}]`;
      v = Array.isArray(v) ? v[step.index] : undefined;
    } else {
      if (v === undefined || v === null) return undefined;
      if (!Array.isArray(v)) throw new WinnowError('parse_error', `${where}: field "${sofar}" must be a list (the mapping expands "${sofar}[*]")`);
      if (v.length !== 1) {
        throw new WinnowError('parse_error', `${where}: field "${sofar}" holds ${v.length} items; "${sofar}[*]" is expanded into one row per item when a file is imported`);
      }
      sofar += '[*]';
      v = v[0];
    }
    if (v === undefined) return undefined;
  }
  return v;
}

/** The list a mapping expands (`instances` for `instances[*].input`), or null. All `[*]` must name the same list. */
export function expandedList(mapping: object): string | null {
  let list: string | null = null;
  for (const v of Object.values(mapping)) {
    if (typeof v !== 'string') continue;
    const at = v.indexOf('[*]');
    if (at < 0) continue;
    const prefix = v.slice(0, at);
    if (!/^[^.[\]]+(\.[^.[\]]+)*$/.test(prefix)) throw new WinnowError('bad_input', `mapping: "${v}": only a field (or a dotted path of fields) can be expanded with [*]`);
    if (v.indexOf('[*]', at + 3) >= 0) throw new WinnowError('bad_input', `mapping: "${v}": one [*] per field`);
    if (list !== null && list !== prefix) throw new WinnowError('bad_input', `mapping: expands both "${list}[*]" and "${prefix}[*]"; expand one list`);
    list = prefix;
  }
  return list;
}

/**
 * The rows one record makes under an expanding mapping: the parent with `list` holding one item each. A record whose
 * list is missing, not a list or empty is an error naming the field.
 */
export function expandRecord(record: unknown, list: string, where: string): unknown[] {
  if (!isObj(record)) return [record];
  const keys = list.split('.');
  const v = getField(record, list, where);
  if (v === undefined || v === null) throw new WinnowError('parse_error', `${where}: field "${list}" is missing (the mapping expands "${list}[*]")`);
  if (!Array.isArray(v)) throw new WinnowError('parse_error', `${where}: field "${list}" must be a list (the mapping expands "${list}[*]")`);
  if (v.length === 0) throw new WinnowError('parse_error', `${where}: field "${list}" is an empty list: no rows to make`);
  if (v.length === 1) return [record];
  return v.map((item) => withPath(record, keys, [item]));
}

function withPath(rec: Rec, keys: string[], value: unknown): Rec {
  const [k, ...rest] = keys;
  return { ...rec, [k]: rest.length ? withPath(rec[k] as Rec, rest, value) : value };
}
