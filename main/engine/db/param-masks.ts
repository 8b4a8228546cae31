/**
 * Named parameter masks (migration 007): a `param_masks` row with the provenance and the ids of the gradient pass's
 * examples (migration 009), and one packed bitset per tensor in `param_mask_tensors`. Packing and what a mask means
 * are selection/ work (selection/param-masks.ts, selection/param-masks-store.ts).
 */
import type { Db } from './open';
import { toBlob } from './blobs';

export interface ParamMaskRowDb {
  id: number; name: string; model_id: number; method: string; trainable_params: number; scope_params: number;
  provenance_json: string; created_at: string;
}

export function paramMaskNameTaken(db: Db, name: string): boolean {
  return !!db.prepare('SELECT 1 FROM param_masks WHERE name = ?').get(name);
}

export function paramMaskRow(db: Db, id: number): ParamMaskRowDb | undefined {
  return db.prepare('SELECT * FROM param_masks WHERE id = ?').get(id) as ParamMaskRowDb | undefined;
}

export function paramMaskRowByName(db: Db, name: string): ParamMaskRowDb | undefined {
  return db.prepare('SELECT * FROM param_masks WHERE name = ?').get(name) as ParamMaskRowDb | undefined;
}

/** Every mask (of one model, when given), by id. */
export function listParamMaskRows(db: Db, modelId?: number): ParamMaskRowDb[] {
  return (modelId !== undefined
    ? db.prepare('SELECT * FROM param_masks WHERE model_id = ? ORDER BY id').all(modelId)
    : db.prepare('SELECT * FROM param_masks ORDER BY id').all()) as ParamMaskRowDb[];
}

/** A mask's tensors in the order they were stored, without their bits. */
export function paramMaskTensorRows(db: Db, maskId: number): Array<{ name: string; shape_json: string; selected: number }> {
  return db.prepare('SELECT tensor_name AS name, shape_json, selected FROM param_mask_tensors WHERE mask_id = ? ORDER BY rowid').all(maskId) as Array<{
    name: string; shape_json: string; selected: number;
  }>;
}

/** A mask's tensors in the order they were stored, with their packed bits. */
export function paramMaskBitRows(db: Db, maskId: number): Array<{ tensor_name: string; shape_json: string; bits: Buffer }> {
  return db.prepare('SELECT tensor_name, shape_json, bits FROM param_mask_tensors WHERE mask_id = ? ORDER BY rowid').all(maskId) as Array<{
    tensor_name: string; shape_json: string; bits: Buffer;
  }>;
}

/** A new mask row and its tensors' packed bits; returns its id. Run inside the caller's transaction. */
export function insertParamMask(
  db: Db,
  m: { name: string; modelId: number; method: string; trainableParams: number; scopeParams: number; provenanceJson: string; exampleIds?: Int32Array },
  tensors: Array<{ name: string; shape: number[]; selected: number; bits: Uint8Array }>,
): number {
  const r = db
    .prepare(`INSERT INTO param_masks (name, model_id, method, trainable_params, scope_params, provenance_json, example_ids, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, datetime('now'))`)
    .run(m.name, m.modelId, m.method, m.trainableParams, m.scopeParams, m.provenanceJson, m.exampleIds ? toBlob(m.exampleIds) : null);
  const maskId = Number(r.lastInsertRowid);
  const ins = db.prepare('INSERT INTO param_mask_tensors (mask_id, tensor_name, shape_json, selected, bits) VALUES (?, ?, ?, ?, ?)');
  for (const t of tensors) ins.run(maskId, t.name, JSON.stringify(t.shape), t.selected, toBlob(t.bits));
  return maskId;
}

/** The blob of a mask's example ids: null when it predates them, undefined when there is no such mask. */
export function paramMaskExampleIdsBlob(db: Db, id: number): Buffer | null | undefined {
  return db.prepare('SELECT example_ids FROM param_masks WHERE id = ?').pluck().get(id) as Buffer | null | undefined;
}
