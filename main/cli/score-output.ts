/**
 * `winnow score --out` format, one line per example in file order:
 * {"index": i, "input_ids": [...], "label_mask": [...], "token": {"token_loss": [...]}, "example": {"mean_loss": x}}
 * Token arrays align with input_ids (null where a position has no prediction). Rows that could not be rendered are
 * written as {"index": i, "error": "..."} so none disappears silently.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { blobToFloat32, getRender, type Db } from '../engine/db';
import { TOKEN_SIGNALS } from '../../preload/contract';

export function writeScoresJsonl(db: Db, opts: { runId: number; datasetId?: number; signals: string[]; out: string }): { rows: number; errors: number } {
  const tokenizerId = db
    .prepare('SELECT r.tokenizer_id FROM renders r JOIN example_scores s ON s.example_id = r.example_id WHERE s.run_id = ? LIMIT 1')
    .pluck()
    .get(opts.runId) as string | undefined;
  const examples = (opts.datasetId !== undefined
    ? db.prepare('SELECT id, dataset_id, row_index FROM examples WHERE dataset_id = ? ORDER BY row_index').all(opts.datasetId)
    : db.prepare('SELECT id, dataset_id, row_index FROM examples ORDER BY dataset_id, row_index').all()) as Array<{ id: number; dataset_id: number; row_index: number }>;
  const tokenSignals = opts.signals.filter((s) => (TOKEN_SIGNALS as readonly string[]).includes(s));
  const exampleSignals = opts.signals.filter((s) => !(TOKEN_SIGNALS as readonly string[]).includes(s));
  const tokenStmt = db.prepare(`SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = ?`).pluck();
  const exStmt = db.prepare('SELECT value FROM example_scores WHERE run_id = ? AND example_id = ? AND signal = ?').pluck();
  const errStmt = db.prepare('SELECT reason FROM render_errors WHERE dataset_id = ? AND row_index = ? AND tokenizer_id = ?').pluck();
  const fd = openSync(opts.out, 'w');
  let rows = 0;
  let errors = 0;
  try {
    for (const e of examples) {
      const render = tokenizerId ? getRender(db, e.id, tokenizerId) : null;
      if (!render) {
        const reason = (tokenizerId ? (errStmt.get(e.dataset_id, e.row_index, tokenizerId) as string | undefined) : undefined) ?? 'not scored';
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
