/**
 * Parquet copies of the subset and the scores (hyparquet-writer). Column types follow the values: all strings →
 * STRING, all integers in int32 → INT32, all numbers → DOUBLE, all booleans → BOOLEAN, anything else (objects,
 * lists, mixed) → JSON text, so every row keeps its values.
 */
import { parquetWriteFile } from 'hyparquet-writer';

type Basic = 'STRING' | 'INT32' | 'DOUBLE' | 'BOOLEAN' | 'JSON';

function columnType(values: unknown[]): Basic {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return 'STRING';
  if (present.every((v) => typeof v === 'string')) return 'STRING';
  if (present.every((v) => typeof v === 'boolean')) return 'BOOLEAN';
  if (present.every((v) => typeof v === 'number')) {
    return present.every((v) => Number.isInteger(v) && Math.abs(v as number) <= 0x7fffffff) ? 'INT32' : 'DOUBLE';
  }
  return 'JSON';
}

export interface Column {
  name: string;
  values: unknown[];
  type?: Basic;
}

export function writeParquet(file: string, columns: Column[]): void {
  parquetWriteFile({
    filename: file,
    columnData: columns.map((c) => {
      const type = c.type ?? columnType(c.values);
      // DOUBLE columns take NaN for missing in some readers: keep null
      const data = c.values.map((v) => (v === undefined ? null : typeof v === 'number' && !Number.isFinite(v) ? null : v));
      return { name: c.name, data: data as never, type, nullable: true };
    }),
    createdBy: 'winnow',
  });
}

/** Rows of JSON objects → columns in first-seen key order; a non-object row becomes `{ value: row }`. */
export function rowsToColumns(rows: unknown[], lead: Column[] = []): Column[] {
  const keys: string[] = [];
  const seen = new Set(lead.map((c) => c.name));
  const objs = rows.map((r) => (r !== null && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : { value: r }));
  for (const o of objs) {
    for (const k of Object.keys(o)) {
      if (seen.has(k)) continue;
      seen.add(k);
      keys.push(k);
    }
  }
  return [...lead, ...keys.map((k) => ({ name: k, values: objs.map((o) => (k in o ? o[k] : null)) }))];
}
