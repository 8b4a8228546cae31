import type Database from 'better-sqlite3';
import { WinnowError } from '../util/errors';
import { migrations, type Migration } from './migrations';

type Db = Database.Database;

export function appliedVersions(db: Db): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  return (db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[]);
}

/**
 * Apply pending migrations in order, each in its own transaction so a failing one leaves the
 * file at the previous version. `upTo` exists so tests can step through them one at a time.
 */
export function migrate(db: Db, opts: { upTo?: number; list?: Migration[] } = {}): number[] {
  const list = opts.list ?? migrations;
  const done = new Set(appliedVersions(db));
  const maxKnown = list.length ? list[list.length - 1].version : 0;
  const newest = Math.max(0, ...done);
  if (newest > maxKnown) {
    throw new WinnowError('unsupported',
      `project database is at schema version ${newest}, newer than this Winnow knows (${maxKnown}); update Winnow`);
  }
  const applied: number[] = [];
  for (const m of list) {
    if (done.has(m.version)) continue;
    if (opts.upTo !== undefined && m.version > opts.upTo) break;
    const run = db.transaction(() => {
      m.up(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
        .run(m.version, m.name, new Date().toISOString());
    });
    try {
      run();
    } catch (err) {
      throw new WinnowError('internal', `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
    }
    applied.push(m.version);
  }
  return applied;
}
