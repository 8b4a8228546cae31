import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { migrate, appliedVersions } from '../../../main/engine/db/migrate';
import { migrations } from '../../../main/engine/db/migrations';
import { tempDir } from './helpers';

let cleanup: () => void = () => {};
afterEach(() => cleanup());

function fresh(): { file: string; db: Db } {
  const t = tempDir();
  cleanup = t.cleanup;
  const file = join(t.dir, 'project.winnow');
  return { file, db: openProjectDb(file, { migrate: false }) };
}

function objects(db: Db, type: 'table' | 'index' | 'trigger'): string[] {
  return db.prepare("SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all(type) as string[];
}

describe('migrations', () => {
  it('are numbered 1..n without gaps', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('001 creates every table of the data model with its indexes', () => {
    const { db } = fresh();
    expect(migrate(db, { upTo: 1 })).toEqual([1]);
    const tables = objects(db, 'table');
    for (const t of ['project_meta', 'datasets', 'examples', 'render_errors', 'import_skips', 'models', 'renders',
      'score_runs', 'example_signals', 'example_scores', 'token_scores', 'layer_scores', 'subsets', 'subset_members',
      'token_masks', 'layer_masks', 'train_runs', 'train_metrics', 'exports', 'jobs', 'schema_migrations']) {
      expect(tables).toContain(t);
    }
    expect(tables).not.toContain('examples_fts');
    const idx = objects(db, 'index');
    for (const i of ['idx_examples_norm_hash', 'idx_renders_tokenizer', 'idx_example_scores_example', 'idx_subset_members_example', 'idx_jobs_status']) {
      expect(idx).toContain(i);
    }
    // UNIQUE(dataset_id,row_index) is enforced
    db.prepare("INSERT INTO datasets (id,name,source_path,format,mapping_json,hash,created_at) VALUES (1,'d','p','text','{}','h','t')").run();
    const ins = db.prepare("INSERT INTO examples (dataset_id,row_index,raw_json,messages_json,text_preview,norm_hash,n_chars) VALUES (1,0,'{}','[]','','h',0)");
    ins.run();
    expect(() => ins.run()).toThrow(/UNIQUE/);
    // foreign keys are on: an example of a missing dataset is refused
    expect(() => db.prepare("INSERT INTO examples (dataset_id,row_index,raw_json,messages_json,text_preview,norm_hash,n_chars) VALUES (99,0,'{}','[]','','h',0)").run()).toThrow(/FOREIGN KEY/);
    db.close();
  });

  it('002 creates the FTS table, indexes existing examples and follows deletions', () => {
    const { db } = fresh();
    migrate(db, { upTo: 1 });
    db.prepare("INSERT INTO datasets (id,name,source_path,format,mapping_json,hash,created_at) VALUES (1,'d','p','text','{}','h','t')").run();
    db.prepare("INSERT INTO examples (id,dataset_id,row_index,raw_json,messages_json,text_preview,norm_hash,n_chars) VALUES (7,1,0,'{}','[]','purple elephants','h',0)").run();
    expect(migrate(db, { upTo: 2 })).toEqual([2]);
    expect(objects(db, 'table')).toContain('examples_fts');
    expect(objects(db, 'trigger')).toContain('examples_fts_delete');
    const hit = () => db.prepare("SELECT rowid FROM examples_fts WHERE examples_fts MATCH 'elephant*'").pluck().all();
    expect(hit()).toEqual([7]);
    db.prepare('DELETE FROM examples WHERE id = 7').run();
    expect(hit()).toEqual([]);
    db.close();
  });

  it('008 makes the search index contentless with the same matches, marks it complete, drops the hash index', () => {
    const { db } = fresh();
    migrate(db, { upTo: 7 });
    db.prepare("INSERT INTO datasets (id,name,source_path,format,mapping_json,hash,created_at) VALUES (1,'d','p','text','{}','h','t'), (2,'e','p','text','{}','h','t')").run();
    const ins = db.prepare("INSERT INTO examples (id,dataset_id,row_index,raw_json,messages_json,text_preview,norm_hash,n_chars) VALUES (?,1,?,'{}','[]','','h',0)");
    const fts = db.prepare('INSERT INTO examples_fts (rowid, text) VALUES (?, ?)');
    ['purple elephants', 'green frogs', 'purple frogs'].forEach((t, i) => { ins.run(i + 5, i); fts.run(i + 5, t); });
    const hit = (q: string) => db.prepare('SELECT rowid FROM examples_fts WHERE examples_fts MATCH ? ORDER BY rowid').pluck().all(q);
    const before = ['purple', 'frog*', 'elephants'].map(hit);
    expect(migrate(db, { upTo: 8 })).toEqual([8]);
    expect(['purple', 'frog*', 'elephants'].map(hit)).toEqual(before);
    expect(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'examples_fts'").pluck().get()).toMatch(/content = ''/);
    expect(db.prepare('SELECT id, text_indexed_upto FROM datasets ORDER BY id').all()).toEqual([{ id: 1, text_indexed_upto: 7 }, { id: 2, text_indexed_upto: 0 }]);
    expect(objects(db, 'index')).not.toContain('idx_examples_norm_hash');
    expect(db.prepare("SELECT name FROM pragma_table_info('subsets')").pluck().all()).toContain('stale_reason');
    // deletions still reach the (contentless) index
    db.prepare('DELETE FROM examples WHERE id = 5').run();
    expect(hit('purple')).toEqual([7]);
    db.close();
  });

  it('records each migration and re-opening is idempotent', () => {
    const { file, db } = fresh();
    expect(migrate(db)).toEqual(migrations.map((m) => m.version));
    const schema1 = db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
    db.close();
    const again = openProjectDb(file);
    expect(appliedVersions(again)).toEqual(migrations.map((m) => m.version));
    expect(migrate(again)).toEqual([]);
    expect(again.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all()).toEqual(schema1);
    expect(again.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(again.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(again.pragma('busy_timeout', { simple: true })).toBe(5000);
    again.close();
  });

  it('a failing migration rolls back and leaves the previous version', () => {
    const { db } = fresh();
    const bad = [...migrations, { version: migrations.length + 1, name: 'broken', up: (d: Database.Database) => {
      d.exec('CREATE TABLE half_done (x INTEGER)');
      d.exec('THIS IS NOT SQL');
    } }];
    expect(() => migrate(db, { list: bad })).toThrow(/migration \d+ \(broken\) failed/);
    expect(appliedVersions(db)).toEqual(migrations.map((m) => m.version));
    expect(objects(db, 'table')).not.toContain('half_done');
    db.close();
  });

  it('refuses a database from a newer Winnow', () => {
    const { db } = fresh();
    migrate(db);
    db.prepare("INSERT INTO schema_migrations VALUES (999, 'future', 't')").run();
    expect(() => migrate(db)).toThrow(/schema version 999/);
    db.close();
  });
});
