/** Migration 013 (loss_trajectories, S2L): a schema-12 project gains the table; rows go with their run or example. */
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../main/engine/db/migrate';
import { unmigratedProjectPerTest } from './helpers';

const fresh = unmigratedProjectPerTest();

describe('migration 013: loss trajectories', () => {
  it('adds loss_trajectories to a schema-12 project, keyed by (run, step, example), deleted with the run or the example', () => {
    const db = fresh();
    migrate(db, { upTo: 12 });
    db.prepare("INSERT INTO datasets (id,name,source_path,format,mapping_json,hash,created_at) VALUES (1,'d','p','jsonl','{}','h','t')").run();
    const ex = db.prepare("INSERT INTO examples (id,dataset_id,row_index,raw_json,messages_json,text_preview,norm_hash,n_chars) VALUES (?,1,?,'{}','[]','','h',0)");
    for (let i = 1; i <= 3; i++) ex.run(i, i - 1);
    db.prepare("INSERT INTO train_runs (id, config_json, status, created_at) VALUES (1, '{}', 'done', 't'), (2, '{}', 'done', 't')").run();
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'loss_trajectories'").get()).toBeUndefined();
    migrate(db);
    const ins = db.prepare('INSERT INTO loss_trajectories (run_id, step, example_id, loss) VALUES (?, ?, ?, ?)');
    for (const run of [1, 2]) for (const step of [10, 20]) for (let e = 1; e <= 3; e++) ins.run(run, step, e, run + step / 100 + e / 10);
    // one loss per (run, step, example)
    expect(() => ins.run(1, 10, 1, 0)).toThrow(/UNIQUE|PRIMARY KEY/);
    db.prepare('DELETE FROM train_runs WHERE id = 2').run();
    db.prepare('DELETE FROM examples WHERE id = 3').run();
    const left = db.prepare('SELECT run_id, step, example_id FROM loss_trajectories ORDER BY run_id, step, example_id').all();
    expect(left).toEqual([
      { run_id: 1, step: 10, example_id: 1 }, { run_id: 1, step: 10, example_id: 2 },
      { run_id: 1, step: 20, example_id: 1 }, { run_id: 1, step: 20, example_id: 2 },
    ]);
  });
});
