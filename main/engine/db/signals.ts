import type { Db } from './open';
import { WinnowError } from '../util/errors';

const SIGNAL_NAME = /^[a-z][a-z0-9_]*$/;

export function assertSignalName(name: string): void {
  if (!SIGNAL_NAME.test(name) || name.length > 64) {
    throw new WinnowError('bad_input', `signal "${name}" is not a valid signal id (lowercase letters, digits, _; starts with a letter)`);
  }
}

/** Signal columns currently present in example_signals. */
export function listSignalColumns(db: Db): string[] {
  const cols = db.prepare('SELECT name FROM pragma_table_info(\'example_signals\')').pluck().all() as string[];
  return cols.filter((c) => c !== 'example_id');
}

/**
 * Add a REAL column (and its index) for a per-example signal if it is missing. The name is validated
 * because it is spliced into DDL.
 */
export function ensureSignalColumn(db: Db, name: string): void {
  assertSignalName(name);
  if (name === 'example_id') throw new WinnowError('bad_input', `signal "${name}" is reserved`);
  if (listSignalColumns(db).includes(name)) return;
  db.transaction(() => {
    db.exec(`ALTER TABLE example_signals ADD COLUMN "${name}" REAL`);
    db.exec(`CREATE INDEX IF NOT EXISTS "idx_example_signals_${name}" ON example_signals("${name}")`);
  })();
}

/**
 * Record one run's values of a signal: history in example_scores, latest in example_signals.
 * Non-finite values are stored as NULL (they cannot be sorted meaningfully).
 */
export function writeExampleSignal(db: Db, runId: number | null, signal: string, values: Iterable<[number, number | null]>): void {
  ensureSignalColumn(db, signal);
  const hist = db.prepare('INSERT OR REPLACE INTO example_scores (run_id, example_id, signal, value) VALUES (?, ?, ?, ?)');
  const latest = db.prepare(`INSERT INTO example_signals (example_id, "${signal}") VALUES (?, ?)
    ON CONFLICT(example_id) DO UPDATE SET "${signal}" = excluded."${signal}"`);
  db.transaction(() => {
    for (const [exampleId, v] of values) {
      const value = v === null || !Number.isFinite(v) ? null : v;
      if (runId !== null) hist.run(runId, exampleId, signal, value);
      latest.run(exampleId, value);
    }
  })();
}

export function getExampleSignals(db: Db, exampleId: number): Record<string, number | null> {
  const row = db.prepare('SELECT * FROM example_signals WHERE example_id = ?').get(exampleId) as Record<string, number | null> | undefined;
  const out: Record<string, number | null> = {};
  for (const c of listSignalColumns(db)) out[c] = row ? row[c] ?? null : null;
  return out;
}

/**
 * Several signals of the same examples at once: one upsert per example instead of one per example and signal
 * (writeExampleSignal's cost at a million rows). Rows are [exampleId, value per signal in `signals` order].
 */
export function writeExampleSignals(db: Db, runId: number | null, signals: string[], rows: Iterable<Array<number | null>>): void {
  if (signals.length === 0) return;
  for (const s of signals) ensureSignalColumn(db, s);
  const cols = signals.map((s) => `"${s}"`).join(', ');
  const latest = db.prepare(`INSERT INTO example_signals (example_id, ${cols}) VALUES (?${', ?'.repeat(signals.length)})
    ON CONFLICT(example_id) DO UPDATE SET ${signals.map((s) => `"${s}" = excluded."${s}"`).join(', ')}`);
  const hist = db.prepare('INSERT OR REPLACE INTO example_scores (run_id, example_id, signal, value) VALUES (?, ?, ?, ?)');
  const clean = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : v);
  db.transaction(() => {
    for (const row of rows) {
      if (row.length !== signals.length + 1) throw new WinnowError('bad_input', `signal row for example ${row[0]} has ${row.length - 1} values, expected ${signals.length}`);
      const values = row.slice(1).map(clean);
      latest.run(row[0], ...values);
      if (runId !== null) signals.forEach((s, i) => hist.run(runId, row[0], s, values[i]));
    }
  })();
}

/** One signal column of the example_signals rows with ids in [lo, hi], as two arrays in id order (ids, values). */
export function signalColumnInIdRange(db: Db, signal: string, lo: number, hi: number): { ids: number[]; values: Array<number | null> } {
  const where = `FROM example_signals WHERE example_id BETWEEN ? AND ? ORDER BY example_id`;
  return { ids: db.prepare(`SELECT example_id ${where}`).pluck().all(lo, hi) as number[], values: db.prepare(`SELECT "${signal}" ${where}`).pluck().all(lo, hi) as Array<number | null> };
}

/**
 * Record a dataset's current values of an example column under a run (example_scores), as they are: the duplicate
 * columns, which the import computes, recorded for a scoring run that asked for them.
 */
export function recordColumnForRun(db: Db, runId: number, column: string, datasetId: number): void {
  assertSignalName(column);
  db.prepare(`INSERT OR REPLACE INTO example_scores (run_id, example_id, signal, value)
    SELECT ?, e.id, ?, s."${column}" FROM examples e JOIN example_signals s ON s.example_id = e.id WHERE e.dataset_id = ?`).run(runId, column, datasetId);
}

/** Reads one example column's value of an example (null where it has none); `column` is one of listSignalColumns. */
export function exampleColumnReader(db: Db, column: string): (exampleId: number) => number | null {
  const stmt = db.prepare(`SELECT "${column}" FROM example_signals WHERE example_id = ?`).pluck();
  return (exampleId) => (stmt.get(exampleId) ?? null) as number | null;
}
