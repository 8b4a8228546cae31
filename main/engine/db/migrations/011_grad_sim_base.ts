import type Database from 'better-sqlite3';
import type { Migration } from './types';

/**
 * `grad_sim` became LESS's form (LoRA gradients at a warm-up run's checkpoints, scoring/less-pass.ts); the cosine of
 * the base model's plain gradients that every earlier `grad_sim` is stays under its own name, `grad_sim_base`, so no
 * stored number changes meaning. Renamed wherever the name is stored:
 * - example_scores.signal (each run's values) and the example_signals column with its index (the latest values);
 * - the signal lists of score runs (signals_json, params_json) and of score jobs (jobs.params_json), so a run that was
 *   interrupted resumes as the base form it started as;
 * - subset rules that rank or filter by it (a `signal` field of rule_json, at any depth).
 * A project with no grad_sim anywhere is left as it is.
 */
const OLD = 'grad_sim';
const NEW = 'grad_sim_base';

/** `signals` arrays and `signal` fields renamed at any depth; true when something changed */
function renameIn(v: unknown): boolean {
  let changed = false;
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if (x === OLD) {
        v[i] = NEW;
        changed = true;
      } else if (renameIn(x)) changed = true;
    });
  } else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(o)) {
      if (k === 'signal' && x === OLD) {
        o[k] = NEW;
        changed = true;
      } else if (k === 'signals' || typeof x === 'object') {
        if (renameIn(x)) changed = true;
      }
    }
  }
  return changed;
}

function rewrite(db: Database.Database, table: string, key: string, col: string, where = ''): void {
  const rows = db.prepare(`SELECT ${key} AS k, ${col} AS v FROM ${table} WHERE ${col} LIKE '%"${OLD}"%' ${where}`).all() as Array<{ k: unknown; v: string }>;
  const put = db.prepare(`UPDATE ${table} SET ${col} = ? WHERE ${key} = ?`);
  for (const r of rows) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.v);
    } catch {
      continue; // not JSON: nothing of ours to rename
    }
    if (renameIn(parsed)) put.run(JSON.stringify(parsed), r.k);
  }
}

export const m011: Migration = {
  version: 11,
  name: 'grad_sim_base',
  up(db) {
    db.prepare('UPDATE example_scores SET signal = ? WHERE signal = ?').run(NEW, OLD);
    const cols = db.prepare(`SELECT name FROM pragma_table_info('example_signals')`).pluck().all() as string[];
    if (cols.includes(OLD)) {
      if (cols.includes(NEW)) throw new Error(`example_signals has both ${OLD} and ${NEW} columns`);
      db.exec(`DROP INDEX IF EXISTS "idx_example_signals_${OLD}"`);
      db.exec(`ALTER TABLE example_signals RENAME COLUMN "${OLD}" TO "${NEW}"`);
      db.exec(`CREATE INDEX IF NOT EXISTS "idx_example_signals_${NEW}" ON example_signals("${NEW}")`);
    }
    rewrite(db, 'score_runs', 'id', 'signals_json');
    rewrite(db, 'score_runs', 'id', 'params_json');
    rewrite(db, 'jobs', 'id', 'params_json', `AND kind = 'score'`);
    rewrite(db, 'subsets', 'id', 'rule_json');
  },
};
