import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { WinnowError } from '../util/errors';
import { migrate } from './migrate';

export type Db = Database.Database;

/**
 * Open (or create) a project's SQLite file and bring its schema up to date.
 * WAL lets the UI read while a job writes; NORMAL sync is safe with WAL and much faster than FULL.
 */
export function openProjectDb(file: string, opts: { migrate?: boolean } = {}): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let db: Db;
  try {
    // Electron's engine host loads a better-sqlite3 build for Electron's ABI (see scripts/start.mjs)
    const nativeBinding = process.env.WINNOW_SQLITE_BINDING;
    db = new Database(file, nativeBinding ? { nativeBinding } : {});
  } catch (err) {
    throw new WinnowError('io_error', `${file}: cannot open project database: ${(err as Error).message}`);
  }
  // 16 KiB pages for new files (SQLite cannot change it once in WAL mode): a render's blobs are ~5 KB for a
  // 400-token example and spill into overflow chains on 4 KiB pages; measured ~30% faster render writes.
  if (db.pragma('page_count', { simple: true }) === 0) db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  // 64 MiB page cache: bulk imports and index builds touch far more than the 2 MiB default
  db.pragma('cache_size = -65536');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  if (opts.migrate !== false) migrate(db);
  return db;
}
