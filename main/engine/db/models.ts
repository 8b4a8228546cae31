/** The `models` table: registered model folders. Checking a folder's files is models/ work (api/models-registry.ts). */
import type { Db } from './open';
import { WinnowError } from '../util/errors';

export interface ModelRowDb { id: number; name: string; path: string; architecture: string; config_json: string; hash: string; train_run_id: number | null }

export function findModelIdByPath(db: Db, dir: string): number | undefined {
  const r = db.prepare('SELECT id FROM models WHERE path = ?').get(dir) as { id: number } | undefined;
  return r?.id;
}

/** A model's folder; undefined when there is no such model (callers word their own message). */
export function findModelPath(db: Db, id: number): string | undefined {
  return db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(id) as string | undefined;
}

export function updateModelConfig(db: Db, id: number, c: { configJson: string; hash: string; architecture: string }): void {
  db.prepare('UPDATE models SET config_json = ?, hash = ?, architecture = ? WHERE id = ?').run(c.configJson, c.hash, c.architecture, id);
}

export function insertModel(db: Db, m: { name: string; path: string; architecture: string; configJson: string; hash: string; trainRunId: number | null }): number {
  const info = db
    .prepare(`INSERT INTO models (name, path, architecture, config_json, hash, created_at, train_run_id) VALUES (?, ?, ?, ?, ?, datetime('now'), ?)`)
    .run(m.name, m.path, m.architecture, m.configJson, m.hash, m.trainRunId);
  return Number(info.lastInsertRowid);
}

/** A model's row; a missing id is an error naming it. */
export function modelRow(db: Db, id: number): ModelRowDb {
  const r = db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRowDb | undefined;
  if (!r) throw new WinnowError('not_found', `model ${id} not found in this project`);
  return r;
}

export function listModelRows(db: Db): ModelRowDb[] {
  return db.prepare('SELECT * FROM models ORDER BY id').all() as ModelRowDb[];
}

export function modelPath(db: Db, id: number): string {
  const r = db.prepare('SELECT path FROM models WHERE id = ?').get(id) as { path: string } | undefined;
  if (!r) throw new WinnowError('not_found', `model ${id} not found in this project`);
  return r.path;
}

/** The model an import renders with: the project's active model (project_meta), else the first registered one. */
export function importRenderModelId(db: Db): number | undefined {
  const id =
    (db.prepare(`SELECT value FROM project_meta WHERE key = 'active_model_id'`).pluck().get() as string | undefined) ??
    (db.prepare('SELECT id FROM models ORDER BY id LIMIT 1').pluck().get() as number | undefined);
  return id === undefined ? undefined : Number(id);
}

/** A model's row; undefined where there is none (the caller's error names what it needed it for). */
export function findModelRow(db: Db, id: number): ModelRowDb | undefined {
  return db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRowDb | undefined;
}

/** Remove a model's row only (a caller taking back a model it just added; housekeeping removes one with what uses it). */
export function deleteModelRow(db: Db, id: number): void {
  db.prepare('DELETE FROM models WHERE id = ?').run(id);
}
