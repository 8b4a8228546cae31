/**
 * `winnow score --out` format, one line per example in file order:
 * {"index": i, "input_ids": [...], "label_mask": [...], "token": {"token_loss": [...]}, "example": {"mean_loss": x}}
 * input_ids and label_mask are the render the run scored (its render key: the model's tokenizer and template, the run's
 * max tokens), and token arrays align with them (null where a position has no prediction). Rows that could not be
 * rendered with that key are written as {"index": i, "error": "..."} so none disappears silently.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { blobToFloat32, getRender, scoreRunRenderKeyId, type Db } from '../engine/db';
import { WinnowError } from '../engine/util/errors';
import { TOKEN_SIGNALS, type RowScope } from '../../preload/contract';
import { rowScopeSql } from '../engine/scoring/rows';

/** `rows`: the rows the run covered (--subset, --sample); `onlyExampleIds`: a `--shard` run writes its own rows only (each with its file index, as always). */
export function writeScoresJsonl(db: Db, opts: { runId: number; datasetId?: number; rows?: RowScope; signals: string[]; out: string; onlyExampleIds?: Set<number> }): { rows: number; errors: number } {
  const keyId = scoreRunRenderKeyId(db, opts.runId);
  if (keyId === null) throw new WinnowError('not_found', `score run ${opts.runId} has no recorded render key: its input_ids are not known`);
  // only the rows the run covered (--subset, --sample), in file order
  const where: string[] = [];
  const args: unknown[] = [];
  if (opts.datasetId !== undefined) {
    where.push('e.dataset_id = ?');
    args.push(opts.datasetId);
  }
  const scope = rowScopeSql(db, opts.rows, opts.datasetId);
  if (scope) {
    where.push(scope.sql);
    args.push(...scope.args);
  }
  const examples = db.prepare(`SELECT e.id, e.dataset_id, e.row_index FROM examples e ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.dataset_id, e.row_index`)
    .all(...args) as Array<{ id: number; dataset_id: number; row_index: number }>;
  const tokenSignals = opts.signals.filter((s) => (TOKEN_SIGNALS as readonly string[]).includes(s));
  const exampleSignals = opts.signals.filter((s) => !(TOKEN_SIGNALS as readonly string[]).includes(s));
  const tokenStmt = db.prepare(`SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = ?`).pluck();
  const exStmt = db.prepare('SELECT value FROM example_scores WHERE run_id = ? AND example_id = ? AND signal = ?').pluck();
  const errStmt = db.prepare('SELECT reason FROM render_errors WHERE dataset_id = ? AND row_index = ? AND render_key_id = ?').pluck();
  const fd = openSync(opts.out, 'w');
  let rows = 0;
  let errors = 0;
  try {
    for (const e of examples) {
      if (opts.onlyExampleIds && !opts.onlyExampleIds.has(e.id)) continue;
      const render = getRender(db, e.id, keyId);
      if (!render) {
        const reason = (errStmt.get(e.dataset_id, e.row_index, keyId) as string | undefined) ?? 'not scored';
        writeSync(fd, JSON.stringify({ index: e.row_index, error: reason }) + '\n');
        errors++;
        continue;
      }
      const token: Record<string, Array<number | null>> = {};
      for (const s of tokenSignals) {
        const blob = tokenStmt.get(opts.runId, e.id, s) as Buffer | undefined;
        token[s] = blob ? Array.from(blobToFloat32(blob), (x) => (Number.isNaN(x) ? null : x)) : [];
      }
      const example: Record<string, number | null> = {};
      for (const s of exampleSignals) example[s] = (exStmt.get(opts.runId, e.id, s) as number | null | undefined) ?? null;
      writeSync(
        fd,
        JSON.stringify({ index: e.row_index, input_ids: Array.from(render.tokenIds), label_mask: Array.from(render.labelMask), token, example }) + '\n',
      );
      rows++;
    }
  } finally {
    closeSync(fd);
  }
  return { rows, errors };
}
