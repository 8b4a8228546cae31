/** What re-opening an export bundle (export/bundle.ts) looks up and recreates: rows by dataset, a subset, a layer mask. */
import type { Db } from './open';

/** An example's id by its dataset and row index; undefined when the dataset has no such row. */
export function exampleIdByRowReader(db: Db): (datasetId: number, rowIndex: number) => number | undefined {
  const get = db.prepare('SELECT id FROM examples WHERE dataset_id = ? AND row_index = ?').pluck();
  return (datasetId, rowIndex) => get.get(datasetId, rowIndex) as number | undefined;
}

/** The datasets with this content hash, the one named `name` first. */
export function datasetIdsByHash(db: Db, hash: string, name: string): number[] {
  return db.prepare('SELECT id FROM datasets WHERE hash = ? ORDER BY name = ? DESC, id').pluck().all(hash, name) as number[];
}

export function subsetNameTaken(db: Db, name: string): boolean {
  return !!db.prepare('SELECT 1 FROM subsets WHERE name = ?').get(name);
}

/** A new subset with these members; returns its id. */
export function insertSubsetWithMembers(db: Db, name: string, ruleJson: string, members: number[]): number {
  const subsetId = Number(
    db.prepare(`INSERT INTO subsets (name, rule_json, size, created_at) VALUES (?, ?, ?, datetime('now'))`).run(name, ruleJson, members.length).lastInsertRowid,
  );
  const addMember = db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (?, ?)');
  for (const id of members) addMember.run(subsetId, id);
  return subsetId;
}

/** The first model with these weights (checkpoint hash), else the first at this folder; null when neither. */
export function modelIdByHashOrPath(db: Db, hash: string, path: string): number | null {
  return (db.prepare('SELECT id FROM models WHERE hash = ? ORDER BY id').pluck().get(hash) as number | undefined) ??
    (db.prepare('SELECT id FROM models WHERE path = ? ORDER BY id').pluck().get(path) as number | undefined) ?? null;
}

export function layerMaskNameTaken(db: Db, name: string): boolean {
  return !!db.prepare('SELECT 1 FROM layer_masks WHERE name = ?').get(name);
}

/** A layer mask whose model may be unknown (null); returns its id. */
export function insertBundleLayerMask(db: Db, name: string, modelId: number | null, tensorsJson: string, provenanceJson: string): number {
  return Number(
    db.prepare(`INSERT INTO layer_masks (name, model_id, tensors_json, provenance_json, created_at) VALUES (?, ?, ?, ?, datetime('now'))`)
      .run(name, modelId, tensorsJson, provenanceJson).lastInsertRowid,
  );
}
