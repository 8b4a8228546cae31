/**
 * Migration 011: every grad_sim stored before LESS's form existed is the base model's cosine, and becomes
 * grad_sim_base wherever the name is stored (run values, the latest column and its index, run and job signal lists,
 * subset rules); other signals, and names that only contain "grad_sim", are left as they were.
 */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../../main/engine/db/open';
import { migrate } from '../../../main/engine/db/migrate';
import { listSignalColumns, writeExampleSignal } from '../../../main/engine/db/signals';
import { unmigratedProjectPerTest } from './helpers';

const fresh = unmigratedProjectPerTest();

/** A schema-10 project with grad_sim (and grad_norm) values from two runs, a job and a subset rule naming it. */
function legacyProject(db: Db): void {
  migrate(db, { upTo: 10 });
  db.prepare("INSERT INTO datasets (id,name,source_path,format,mapping_json,hash,created_at) VALUES (1,'d','p','jsonl','{}','h','t')").run();
  const ex = db.prepare("INSERT INTO examples (id,dataset_id,row_index,raw_json,messages_json,text_preview,norm_hash,n_chars) VALUES (?,1,?,'{}','[]','','h',0)");
  for (let i = 1; i <= 3; i++) ex.run(i, i - 1);
  db.prepare("INSERT INTO models (id,name,path,architecture,config_json,hash,created_at) VALUES (1,'a','/a','llama','{}','h','t')").run();
  const run = db.prepare("INSERT INTO score_runs (id, model_id, signals_json, params_json, status, created_at) VALUES (?, 1, ?, ?, 'done', 't')");
  run.run(1, JSON.stringify(['grad_norm', 'grad_sim']), JSON.stringify({ signals: ['grad_norm', 'grad_sim'], targetSubsetId: 1, note: 'grad_sim' }));
  run.run(2, JSON.stringify(['mean_loss']), JSON.stringify({ signals: ['mean_loss'] }));
  writeExampleSignal(db, 1, 'grad_sim', [[1, 0.5], [2, -0.25], [3, null]]);
  writeExampleSignal(db, 1, 'grad_norm', [[1, 3], [2, 4], [3, 5]]);
  writeExampleSignal(db, 1, 'grad_sim_x', [[1, 7]]);
  db.prepare(`INSERT INTO jobs (id, kind, status, params_json, current, total, message, created_at, updated_at) VALUES (?, ?, 'cancelled', ?, 0, 0, '', 't', 't')`)
    .run('j1', 'score', JSON.stringify({ signals: ['grad_sim'], targetSubsetId: 1 }));
  db.prepare(`INSERT INTO jobs (id, kind, status, params_json, current, total, message, created_at, updated_at) VALUES (?, ?, 'done', ?, 0, 0, '', 't', 't')`)
    .run('j2', 'train', JSON.stringify({ tokenSignal: 'grad_sim' }));
  db.prepare("INSERT INTO subsets (id, name, rule_json, size, created_at) VALUES (1, 'top sim', ?, 2, 't')").run(JSON.stringify({ kind: 'top_percent', signal: 'grad_sim', percent: 50 }));
  db.prepare("INSERT INTO subsets (id, name, rule_json, size, created_at) VALUES (2, 'top norm', ?, 2, 't')").run(JSON.stringify({ kind: 'top_percent', signal: 'grad_norm', percent: 50 }));
}

describe('migration 011: grad_sim → grad_sim_base', () => {
  it('renames the stored values, the column, the signal lists and the rules, and nothing else', () => {
    const db = fresh();
    legacyProject(db);
    migrate(db);
    const scores = db.prepare('SELECT signal, example_id, value FROM example_scores WHERE run_id = 1 ORDER BY signal, example_id').all();
    expect(scores).toEqual([
      { signal: 'grad_norm', example_id: 1, value: 3 }, { signal: 'grad_norm', example_id: 2, value: 4 }, { signal: 'grad_norm', example_id: 3, value: 5 },
      { signal: 'grad_sim_base', example_id: 1, value: 0.5 }, { signal: 'grad_sim_base', example_id: 2, value: -0.25 }, { signal: 'grad_sim_base', example_id: 3, value: null },
      { signal: 'grad_sim_x', example_id: 1, value: 7 },
    ]);
    const cols = listSignalColumns(db);
    expect(cols).toContain('grad_sim_base');
    expect(cols).not.toContain('grad_sim');
    expect(cols).toContain('grad_sim_x');
    expect(db.prepare('SELECT grad_sim_base FROM example_signals ORDER BY example_id').pluck().all()).toEqual([0.5, -0.25, null]);
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'example_signals'").pluck().all();
    expect(indexes).toContain('idx_example_signals_grad_sim_base');
    expect(indexes).not.toContain('idx_example_signals_grad_sim');
    const r1 = db.prepare('SELECT signals_json, params_json FROM score_runs WHERE id = 1').get() as { signals_json: string; params_json: string };
    expect(JSON.parse(r1.signals_json)).toEqual(['grad_norm', 'grad_sim_base']);
    // a free-text field that happens to say grad_sim is not a signal list
    expect(JSON.parse(r1.params_json)).toEqual({ signals: ['grad_norm', 'grad_sim_base'], targetSubsetId: 1, note: 'grad_sim' });
    expect(JSON.parse(db.prepare("SELECT params_json FROM jobs WHERE id = 'j1'").pluck().get() as string)).toEqual({ signals: ['grad_sim_base'], targetSubsetId: 1 });
    expect(JSON.parse(db.prepare("SELECT params_json FROM jobs WHERE id = 'j2'").pluck().get() as string)).toEqual({ tokenSignal: 'grad_sim' });
    expect(JSON.parse(db.prepare('SELECT rule_json FROM subsets WHERE id = 1').pluck().get() as string)).toMatchObject({ signal: 'grad_sim_base' });
    expect(JSON.parse(db.prepare('SELECT rule_json FROM subsets WHERE id = 2').pluck().get() as string)).toMatchObject({ signal: 'grad_norm' });
    // a new LESS value is written under grad_sim, beside the old ones
    writeExampleSignal(db, 2, 'grad_sim', [[1, 0.01]]);
    expect(db.prepare('SELECT grad_sim, grad_sim_base FROM example_signals WHERE example_id = 1').get()).toEqual({ grad_sim: 0.01, grad_sim_base: 0.5 });
  });

  it('leaves a project without grad_sim as it was', () => {
    const db = fresh();
    migrate(db, { upTo: 10 });
    db.prepare("INSERT INTO models (id,name,path,architecture,config_json,hash,created_at) VALUES (1,'a','/a','llama','{}','h','t')").run();
    db.prepare("INSERT INTO score_runs (id, model_id, signals_json, params_json, status, created_at) VALUES (1, 1, '[\"mean_loss\"]', 'not json', 'done', 't')").run();
    migrate(db);
    expect(listSignalColumns(db)).not.toContain('grad_sim_base');
    expect(db.prepare('SELECT params_json FROM score_runs').pluck().get()).toBe('not json');
  });
});
