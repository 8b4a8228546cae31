/** Migration 012 (eval runs): a schema-11 project gains the evaluation tables, its train runs untouched, and rows cascade with their run. */
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../main/engine/db/migrate';
import { toBlob } from '../../../main/engine/db/blobs';
import { unmigratedProjectPerTest } from './helpers';

const fresh = unmigratedProjectPerTest();

describe('migration 012: eval runs', () => {
  it('adds eval_runs and eval_rows to a schema-11 project; deleting a train run deletes its evaluations and their rows', () => {
    const db = fresh();
    migrate(db, { upTo: 11 });
    db.prepare("INSERT INTO models (id,name,path,architecture,config_json,hash,created_at) VALUES (1,'a','/a','llama','{}','h','t')").run();
    db.prepare("INSERT INTO train_runs (id, model_id, config_json, status, step, total_steps, created_at) VALUES (7, 1, '{}', 'done', 3, 3, 't')").run();
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name IN ('eval_runs', 'eval_rows')").pluck().all()).toEqual([]);
    expect(migrate(db, { upTo: 12 })).toEqual([12]);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'eval_%' ORDER BY name").pluck().all();
    expect(tables).toEqual(['eval_rows', 'eval_runs']);
    expect(db.prepare('SELECT id, status, step FROM train_runs').all()).toEqual([{ id: 7, status: 'done', step: 3 }]);
    const run = (train: number | null) => Number(db.prepare(`INSERT INTO eval_runs (kind, model_id, train_run_id, model_path, params_json, status, created_at)
      VALUES ('eval', 1, ?, '/a', '{}', 'done', 't')`).run(train).lastInsertRowid);
    const base = run(null);
    const tuned = run(7);
    const row = db.prepare(`INSERT INTO eval_rows (eval_run_id, row_index, prompt, token_texts, label_mask, token_loss, loss_sum, loss_tokens) VALUES (?, 0, 'p', '[]', ?, ?, 0, 0)`);
    row.run(base, toBlob(new Uint8Array(0)), toBlob(new Float32Array(0)));
    row.run(tuned, toBlob(new Uint8Array(0)), toBlob(new Float32Array(0)));
    db.prepare('DELETE FROM train_runs WHERE id = 7').run();
    expect(db.prepare('SELECT id FROM eval_runs').pluck().all()).toEqual([base]);
    expect(db.prepare('SELECT eval_run_id FROM eval_rows').pluck().all()).toEqual([base]);
  });
});
