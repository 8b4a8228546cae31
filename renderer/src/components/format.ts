/** Number and time formatting used across screens (tabular, compact, never "NaN"). */

export function fmtNum(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  return value.toLocaleString('en-US', { maximumSignificantDigits: digits });
}

export function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function fmtEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function fmtPercent(part: number, whole: number): string {
  if (!whole) return '—';
  return `${((100 * part) / whole).toFixed(1)}%`;
}

/** Parses an optional numeric input; empty → undefined, garbage → NaN (callers show it as invalid). */
export function parseOptionalNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return Number(t);
}

/**
 * "1 row", "2 rows", "1,234 trees": the count (formatted) and the word in the number it needs. `many` for words whose
 * plural is not word + "s" ("1 batch" / "2 batches").
 */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${fmtNum(n)} ${n === 1 ? one : many}`;
}

/** "12.3 MiB", "1.25 GiB" */
export function fmtBytes(b: number): string {
  return b < 1024 ** 3 ? `${(b / 1024 ** 2).toFixed(1)} MiB` : `${(b / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * The number a row is shown with everywhere in the UI: its item number in the imported file, from 1 (the engine
 * stores `row_index` from 0, in file order). One helper so the table, the detail, the map and the error lists agree.
 */
export function rowNumber(rowIndex: number): number {
  return rowIndex + 1;
}
