/**
 * One test per migration that had none of its own (003–007, 009), as 001, 002 and 008 are tested in
 * migrations.test.ts: apply up to N-1, insert data, apply N, then check the schema it adds and that the data
 * survived (and that what it adds enforces what it says: foreign keys, uniqueness, cascades).
 */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../../main/engine/db/open';
import { migrate } from '../../../main/engine/db/migrate';
import { unmigratedProjectPerTest } from './helpers';

const fresh = unmigratedProjectPerTest();

const columns = (db: Db, table: string) => db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[];
const indexes = (db: Db, table: string) => db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all(table) as string[];
const tables = (db: Db) => db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[];
/** the query plan's detail lines */
const plan = (db: Db, sql: string, ...args: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail).join('\n');

function dataset(db: Db, id = 1): void {
  db.prepare(`INSERT INTO datasets (id, name, source_path, format, mapping_json, hash, created_at) VALUES (?, 'd', 'p', 'jsonl:text', '{}', 'h', 't')`).run(id);
}
function example(db: Db, id: number, datasetId = 1): void {
  db.prepare(`INSERT INTO examples (id, dataset_id, row_index, raw_json, messages_json, text_preview, norm_hash, n_chars)
    VALUES (?, ?, ?, '{"text":"x"}', '', 'x', 'h', 1)`).run(id, datasetId, id);
}
function model(db: Db, id: number, path: string): void {
  db.prepare(`INSERT INTO models (id, name, path, architecture, config_json, hash, created_at) VALUES (?, 'm', ?, 'llama', '{}', 'h', 't')`).run(id, path);
}
function scoreRun(db: Db, id: number, modelId: number | null = null): void {
  db.prepare(`INSERT INTO score_runs (id, model_id, dataset_id, signals_json, params_json, status, created_at) VALUES (?, ?, 1, '[]', '{}', 'done', 't')`).run(id, modelId);
}

describe('migration', () => {
  it('003 links jobs, runs and models, keeping existing rows', () => {
    const db = fresh();
    migrate(db, { upTo: 2 });
    dataset(db);
    model(db, 1, '/models/a');
    scoreRun(db, 1, 1);
    db.prepare(`INSERT INTO train_runs (id, model_id, config_json, status, created_at) VALUES (1, 1, '{}', 'done', 't')`).run();
    db.prepare(`INSERT INTO jobs (id, kind, status, params_json, created_at, updated_at) VALUES ('j1', 'score', 'done', '{}', 't', 't')`).run();
    expect(migrate(db, { upTo: 3 })).toEqual([3]);

    expect(columns(db, 'jobs')).toContain('stats_json');
    expect(columns(db, 'score_runs')).toContain('job_id');
    expect(columns(db, 'train_runs')).toEqual(expect.arrayContaining(['job_id', 'out_model_id']));
    expect(columns(db, 'models')).toContain('train_run_id');
    expect(indexes(db, 'score_runs')).toContain('idx_score_runs_job');
    expect(indexes(db, 'train_runs')).toContain('idx_train_runs_job');
    expect(indexes(db, 'models')).toContain('idx_models_path');
    // existing rows are kept, with the new columns empty
    expect(db.prepare('SELECT id, stats_json FROM jobs').all()).toEqual([{ id: 'j1', stats_json: null }]);
    expect(db.prepare('SELECT id, model_id, job_id FROM score_runs').all()).toEqual([{ id: 1, model_id: 1, job_id: null }]);
    expect(db.prepare('SELECT id, job_id, out_model_id FROM train_runs').all()).toEqual([{ id: 1, job_id: null, out_model_id: null }]);

    // a model path is registered once
    expect(() => model(db, 2, '/models/a')).toThrow(/UNIQUE/);
    // a trained model points at its run and back; deleting the model clears the run's link
    model(db, 2, '/models/b');
    db.prepare('UPDATE train_runs SET out_model_id = 2, job_id = ? WHERE id = 1').run('j1');
    db.prepare('UPDATE models SET train_run_id = 1 WHERE id = 2').run();
    expect(plan(db, 'SELECT id FROM train_runs WHERE job_id = ?', 'j1')).toMatch(/idx_train_runs_job/);
    db.prepare('DELETE FROM models WHERE id = 2').run();
    expect(db.prepare('SELECT out_model_id FROM train_runs WHERE id = 1').pluck().get()).toBeNull();
    expect(() => db.prepare('UPDATE train_runs SET out_model_id = 99 WHERE id = 1').run()).toThrow(/FOREIGN KEY/);
  });

  it('004 adds per-example vectors that go with their run and their example', () => {
    const db = fresh();
    migrate(db, { upTo: 3 });
    dataset(db);
    example(db, 1);
    example(db, 2);
    scoreRun(db, 1);
    expect(tables(db)).not.toContain('example_vectors');
    expect(migrate(db, { upTo: 4 })).toEqual([4]);

    expect(columns(db, 'example_vectors')).toEqual(['run_id', 'example_id', 'signal', 'dim', 'vector']);
    expect(indexes(db, 'example_vectors')).toContain('idx_example_vectors_example');
    const ins = db.prepare(`INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, 'embedding', 2, ?)`);
    const vec = Buffer.from(new Float32Array([0.5, -1]).buffer);
    ins.run(1, 1, vec);
    ins.run(1, 2, vec);
    expect(() => ins.run(1, 1, vec)).toThrow(/UNIQUE|PRIMARY KEY/);
    expect(() => ins.run(1, 99, vec)).toThrow(/FOREIGN KEY/);
    const back = db.prepare('SELECT vector FROM example_vectors WHERE run_id = 1 AND example_id = 1').pluck().get() as Buffer;
    expect(Array.from(new Float32Array(back.buffer, back.byteOffset, 2))).toEqual([0.5, -1]);
    // deleting an example or the run takes its vectors along
    db.prepare('DELETE FROM examples WHERE id = 2').run();
    expect(db.prepare('SELECT example_id FROM example_vectors').pluck().all()).toEqual([1]);
    db.prepare('DELETE FROM score_runs WHERE id = 1').run();
    expect(db.prepare('SELECT COUNT(*) FROM example_vectors').pluck().get()).toBe(0);
  });

  it('005 replaces the render index by two covering sort indexes, keeping the renders', () => {
    const db = fresh();
    migrate(db, { upTo: 4 });
    dataset(db);
    const ins = db.prepare(`INSERT INTO renders (example_id, tokenizer_id, token_ids, offsets, roles, label_mask, n_tokens, n_label, label_policy)
      VALUES (?, 'tok', x'00', x'00', x'00', x'00', ?, ?, 'assistant')`);
    for (let i = 1; i <= 5; i++) {
      example(db, i);
      ins.run(i, 10 * (6 - i), i);
    }
    expect(indexes(db, 'renders')).toContain('idx_renders_tokenizer');
    expect(migrate(db, { upTo: 5 })).toEqual([5]);

    expect(indexes(db, 'renders')).toEqual(['idx_renders_tok_nlabel', 'idx_renders_tok_ntokens']);
    expect(db.prepare('SELECT COUNT(*) FROM renders').pluck().get()).toBe(5);
    // the token-count sort is served by the covering index, without visiting the table's blobs
    const byTokens = `SELECT example_id FROM renders WHERE tokenizer_id = ? ORDER BY n_tokens, example_id`;
    expect(plan(db, byTokens, 'tok')).toMatch(/USING COVERING INDEX idx_renders_tok_ntokens/);
    expect(db.prepare(byTokens).pluck().all('tok')).toEqual([5, 4, 3, 2, 1]);
    expect(plan(db, `SELECT example_id FROM renders WHERE tokenizer_id = ? ORDER BY n_label DESC, example_id`, 'tok')).toMatch(/USING COVERING INDEX idx_renders_tok_nlabel/);
  });

  it('006 adds the scoring pass state, keyed by run, pass and key, deleted with its run', () => {
    const db = fresh();
    migrate(db, { upTo: 5 });
    dataset(db);
    scoreRun(db, 1);
    scoreRun(db, 2);
    expect(migrate(db, { upTo: 6 })).toEqual([6]);

    expect(columns(db, 'score_pass_state')).toEqual(['run_id', 'pass', 'key', 'value']);
    const put = db.prepare(`INSERT OR REPLACE INTO score_pass_state (run_id, pass, key, value) VALUES (?, 'gradient', ?, ?)`);
    put.run(1, 'cursor', Buffer.from([3]));
    put.run(1, 'cursor', Buffer.from([7])); // a later batch replaces it
    put.run(2, 'cursor', Buffer.from([1]));
    expect(db.prepare(`SELECT run_id, value FROM score_pass_state ORDER BY run_id`).all()).toEqual([
      { run_id: 1, value: Buffer.from([7]) }, { run_id: 2, value: Buffer.from([1]) },
    ]);
    expect(() => put.run(99, 'cursor', null)).toThrow(/FOREIGN KEY/);
    db.prepare('DELETE FROM score_runs WHERE id = 1').run();
    expect(db.prepare('SELECT run_id FROM score_pass_state').pluck().all()).toEqual([2]);
    expect(db.prepare('SELECT COUNT(*) FROM score_runs').pluck().get()).toBe(1);
  });

  it('007 adds named parameter masks with per-tensor bitsets, removed with their mask or model', () => {
    const db = fresh();
    migrate(db, { upTo: 6 });
    model(db, 1, '/models/a');
    expect(migrate(db, { upTo: 7 })).toEqual([7]);

    expect(columns(db, 'param_masks')).toEqual(['id', 'name', 'model_id', 'method', 'trainable_params', 'scope_params', 'provenance_json', 'created_at']);
    expect(columns(db, 'param_mask_tensors')).toEqual(['mask_id', 'tensor_name', 'shape_json', 'selected', 'bits']);
    const mask = db.prepare(`INSERT INTO param_masks (id, name, model_id, method, trainable_params, scope_params, provenance_json, created_at)
      VALUES (?, ?, 1, 'salience', 3, 16, '{}', 't')`);
    mask.run(1, 'top');
    expect(() => mask.run(2, 'top')).toThrow(/UNIQUE/);
    const tensor = db.prepare(`INSERT INTO param_mask_tensors (mask_id, tensor_name, shape_json, selected, bits) VALUES (?, ?, '[4,4]', 3, ?)`);
    tensor.run(1, 'layers.0.wq', Buffer.from([0b00000111, 0]));
    expect(() => tensor.run(1, 'layers.0.wq', Buffer.from([0, 0]))).toThrow(/UNIQUE|PRIMARY KEY/);
    expect(() => tensor.run(9, 'x', Buffer.from([0]))).toThrow(/FOREIGN KEY/);
    expect(db.prepare('SELECT bits FROM param_mask_tensors').pluck().get()).toEqual(Buffer.from([7, 0]));
    // deleting the model deletes its masks and their bitsets
    db.prepare('DELETE FROM models WHERE id = 1').run();
    expect(db.prepare('SELECT COUNT(*) FROM param_masks').pluck().get()).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM param_mask_tensors').pluck().get()).toBe(0);
  });

  it('009 adds job state keyed by job and the masks\' example ids, keeping existing masks', () => {
    const db = fresh();
    migrate(db, { upTo: 8 });
    model(db, 1, '/models/a');
    db.prepare(`INSERT INTO param_masks (id, name, model_id, method, trainable_params, scope_params, provenance_json, created_at)
      VALUES (1, 'old', 1, 'gps', 1, 4, '{"k":1}', 't')`).run();
    expect(tables(db)).not.toContain('job_state');
    expect(migrate(db, { upTo: 9 })).toEqual([9]);

    expect(columns(db, 'job_state')).toEqual(['job_id', 'pass', 'key', 'value']);
    expect(columns(db, 'param_masks')).toContain('example_ids');
    // a mask saved before the migration has no example list
    expect(db.prepare('SELECT name, provenance_json, example_ids FROM param_masks').all()).toEqual([{ name: 'old', provenance_json: '{"k":1}', example_ids: null }]);
    const ids = Buffer.from(new Int32Array([5, 2, 9]).buffer);
    db.prepare(`UPDATE param_masks SET example_ids = ? WHERE id = 1`).run(ids);
    const back = db.prepare('SELECT example_ids FROM param_masks WHERE id = 1').pluck().get() as Buffer;
    expect(Array.from(new Int32Array(back.buffer, back.byteOffset, 3))).toEqual([5, 2, 9]);
    const put = db.prepare(`INSERT INTO job_state (job_id, pass, key, value) VALUES (?, 'param_mask', ?, ?)`);
    put.run('job-a', 'cursor', Buffer.from([1]));
    put.run('job-b', 'cursor', Buffer.from([2]));
    expect(() => put.run('job-a', 'cursor', null)).toThrow(/UNIQUE|PRIMARY KEY/);
    db.prepare(`DELETE FROM job_state WHERE job_id = 'job-a'`).run();
    expect(db.prepare('SELECT job_id FROM job_state').pluck().all()).toEqual(['job-b']);
  });
});
