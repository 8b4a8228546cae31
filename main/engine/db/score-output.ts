/**
 * The reads behind `winnow score --out` (cli/commands/score-output.ts): the rows a run covered in file order, and
 * for each row the run's stored values (token_scores, example_scores) or why it has none (render_errors).
 */
import type { Db } from './open';

export interface FileOrderRow { id: number; dataset_id: number; row_index: number }

/** The examples `where` keeps (a clause over `examples e` with its leading " WHERE ", or empty), in file order. */
export function examplesInFileOrder(db: Db, where: string, args: unknown[]): FileOrderRow[] {
  return db.prepare(`SELECT e.id, e.dataset_id, e.row_index FROM examples e${where} ORDER BY e.dataset_id, e.row_index`).all(...args) as FileOrderRow[];
}

export interface RunValueReaders {
  /** a token signal's float32 values for one row (undefined: the run stored none) */
  tokenValues(runId: number, exampleId: number, signal: string): Buffer | undefined;
  /** an example signal's value for one row (null: stored as not a number; undefined: none stored) */
  exampleValue(runId: number, exampleId: number, signal: string): number | null | undefined;
  /** why a row could not be rendered with a render key (undefined: no error recorded) */
  renderError(datasetId: number, rowIndex: number, renderKeyId: number): string | undefined;
}

/** Row-by-row readers of stored values, each statement prepared once for a whole file's rows. */
export function runValueReaders(db: Db): RunValueReaders {
  const token = db.prepare(`SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = ?`).pluck();
  const example = db.prepare('SELECT value FROM example_scores WHERE run_id = ? AND example_id = ? AND signal = ?').pluck();
  const error = db.prepare('SELECT reason FROM render_errors WHERE dataset_id = ? AND row_index = ? AND render_key_id = ?').pluck();
  return {
    tokenValues: (runId, exampleId, signal) => token.get(runId, exampleId, signal) as Buffer | undefined,
    exampleValue: (runId, exampleId, signal) => example.get(runId, exampleId, signal) as number | null | undefined,
    renderError: (datasetId, rowIndex, renderKeyId) => error.get(datasetId, rowIndex, renderKeyId) as string | undefined,
  };
}
