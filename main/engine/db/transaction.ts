/**
 * A write transaction opened and closed by hand, for the work that awaits inside one (an import reading its file in
 * batches, a re-map yielding between pages): better-sqlite3's `db.transaction` runs a synchronous function only.
 */
import type { Db } from './open';

/** Takes the write lock now (IMMEDIATE), so a long transaction fails at its start, not at its first write. */
export function beginImmediate(db: Db): void {
  db.exec('BEGIN IMMEDIATE');
}

export function commit(db: Db): void {
  db.exec('COMMIT');
}

/** Rolls back the open transaction, if one is open (a failed COMMIT may have ended it already). */
export function rollbackIfOpen(db: Db): void {
  if (db.inTransaction) db.exec('ROLLBACK');
}
