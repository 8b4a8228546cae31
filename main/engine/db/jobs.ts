/** The `jobs` table: the job queue of a project (jobs/manager.ts), one row per job with its params and progress. */
import type { Db } from './open';

export interface JobDbRow {
  id: string;
  kind: string;
  status: string;
  params_json: string;
  current: number;
  total: number;
  message: string;
  error_json: string | null;
  stats_json: string | null;
  created_at: string;
  updated_at: string;
}

/** The fields of a job row that change while it runs; those left out stay as they are. */
export interface JobPatchDb { status?: string; current?: number; total?: number; message?: string; statsJson?: string; errorJson?: string | null }

/** Jobs a dead engine left running or queued. */
export function unfinishedJobs(db: Db): Array<{ id: string; kind: string; params_json: string }> {
  return db.prepare(`SELECT id, kind, params_json FROM jobs WHERE status IN ('running','queued')`).all() as Array<{ id: string; kind: string; params_json: string }>;
}

/** Fails a job with its error (as JSON) and message. */
export function jobFailer(db: Db): (jobId: string, errorJson: string, message: string) => void {
  const mark = db.prepare(`UPDATE jobs SET status='failed', error_json=?, message=?, updated_at=datetime('now') WHERE id=?`);
  return (jobId, errorJson, message) => void mark.run(errorJson, message, jobId);
}

export function insertQueuedJob(db: Db, id: string, kind: string, paramsJson: string): void {
  db.prepare(
    `INSERT INTO jobs (id, kind, status, params_json, current, total, message, created_at, updated_at)
         VALUES (?, ?, 'queued', ?, 0, 0, 'queued', datetime('now'), datetime('now'))`,
  ).run(id, kind, paramsJson);
}

export function jobRow(db: Db, jobId: string): JobDbRow | undefined {
  return db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(jobId) as JobDbRow | undefined;
}

/** The newest jobs first. */
export function recentJobRows(db: Db, limit: number): JobDbRow[] {
  return db.prepare(`SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?`).all(limit) as JobDbRow[];
}

export function jobParamsJson(db: Db, jobId: string): string | undefined {
  return (db.prepare(`SELECT params_json FROM jobs WHERE id = ?`).get(jobId) as { params_json: string } | undefined)?.params_json;
}

export function finishedJobIds(db: Db): string[] {
  return db.prepare(`SELECT id FROM jobs WHERE status IN ('done', 'failed', 'cancelled')`).pluck().all() as string[];
}

export function deleteJob(db: Db, jobId: string): void {
  db.prepare('DELETE FROM jobs WHERE id = ?').run(jobId);
}

/** Writes the given fields of a job and its updated_at. */
export function updateJob(db: Db, jobId: string, patch: JobPatchDb): void {
  const sets: string[] = [`updated_at = datetime('now')`];
  const vals: unknown[] = [];
  if (patch.status !== undefined) { sets.push('status = ?'); vals.push(patch.status); }
  if (patch.current !== undefined) { sets.push('current = ?'); vals.push(patch.current); }
  if (patch.total !== undefined) { sets.push('total = ?'); vals.push(patch.total); }
  if (patch.message !== undefined) { sets.push('message = ?'); vals.push(patch.message); }
  if (patch.statsJson !== undefined) { sets.push('stats_json = ?'); vals.push(patch.statsJson); }
  if (patch.errorJson !== undefined) { sets.push('error_json = ?'); vals.push(patch.errorJson); }
  db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...vals, jobId);
}
