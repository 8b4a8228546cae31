/**
 * `winnow score --out` format, one line per example in file order:
 * {"index": i, "input_ids": [...], "label_mask": [...], "token": {"token_loss": [...]}, "example": {"mean_loss": x}}
 * input_ids and label_mask are the render the run scored (its render key: the model's tokenizer and template, the run's
 * max tokens), and token arrays align with them (null where a position has no prediction). Rows that could not be
 * rendered with that key are written as {"index": i, "error": "..."} so none disappears silently.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { blobToFloat32, getRender, scoreRunRenderKeyId, type Db } from '../../engine/db';
import { examplesInFileOrder, runValueReaders } from '../../engine/db/score-output';
import { WinnowError } from '../../engine/util/errors';
import { TOKEN_SIGNALS, type RowScope } from '../../../preload/contract';
import { scopeWhere } from '../../engine/scoring/rows';

/** `rows`: the rows the run covered (--subset, --sample); `onlyExampleIds`: a `--shard` run writes its own rows only (each with its file index, as always). */
export function writeScoresJsonl(db: Db, opts: { runId: number; datasetId?: number; rows?: RowScope; signals: string[]; out: string; onlyExampleIds?: Set<number> }): { rows: number; errors: number } {
  const keyId = scoreRunRenderKeyId(db, opts.runId);
  if (keyId === null) throw new WinnowError('not_found', `score run ${opts.runId} has no recorded render key: its input_ids are not known`);
  // only the rows the run covered (--subset, --sample), in file order
  const { where, args } = scopeWhere(db, opts.rows, opts.datasetId);
  const examples = examplesInFileOrder(db, where, args);
  const tokenSignals = opts.signals.filter((s) => (TOKEN_SIGNALS as readonly string[]).includes(s));
  const exampleSignals = opts.signals.filter((s) => !(TOKEN_SIGNALS as readonly string[]).includes(s));
  const read = runValueReaders(db);
  const fd = openSync(opts.out, 'w');
  let rows = 0;
  let errors = 0;
  try {
    for (const e of examples) {
      if (opts.onlyExampleIds && !opts.onlyExampleIds.has(e.id)) continue;
      const render = getRender(db, e.id, keyId);
      if (!render) {
        const reason = read.renderError(e.dataset_id, e.row_index, keyId) ?? 'not scored';
        writeSync(fd, JSON.stringify({ index: e.row_index, error: reason }) + '\n');
        errors++;
        continue;
      }
      const token: Record<string, Array<number | null>> = {};
      for (const s of tokenSignals) {
        const blob = read.tokenValues(opts.runId, e.id, s);
        token[s] = blob ? Array.from(blobToFloat32(blob), (x) => (Number.isNaN(x) ? null : x)) : [];
      }
      const example: Record<string, number | null> = {};
      for (const s of exampleSignals) example[s] = read.exampleValue(opts.runId, e.id, s) ?? null;
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
