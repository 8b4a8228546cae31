/**
 * Per-tensor layer scores (`layer_scores`, written by layer scoring runs) and named layer masks (`layer_masks`: exact
 * HF tensor names + provenance). What a layer spec resolves to is selection/ work; this file only stores and reads.
 */
import type { Db } from './open';
import type { LayerMaskInfo } from '../../../preload/contract';
import { WinnowError } from '../util/errors';

/**
 * layer_scores rows of a whole block: layer_grad_norm's ‖g_block‖₂ (mean over examples of the norm of the block's
 * whole gradient) is not a sum of its tensors' rows, so it is stored as a row of its own with this kind and a name no
 * checkpoint tensor has.
 */
export const BLOCK_ROW_KIND = 'block';

/**
 * Latest per-block score of a signal for a model, from layer scoring runs: the block's own row where the run stored
 * one (layer_grad_norm: mean ‖g_block‖₂ over the block's whole gradient), else the sum over the block's tensors (fim:
 * Σ ‖F_tensor‖_F, as surgical fine-tuning sums them). layer_grad_norm runs stored before block rows existed have
 * only per-tensor norms, whose sum is not ‖g_block‖: they are not used, and the error says to score again.
 */
export function layerBlockScores(db: Db, modelId: number, spec: string): Map<number, number> | undefined {
  const m = /^top:\d+:([a-z_]+)$/.exec(spec.trim());
  if (!m) return undefined;
  const signal = m[1]!;
  const blockRows = signal === 'layer_grad_norm';
  const run = db
    .prepare(
      `SELECT r.id FROM score_runs r JOIN layer_scores l ON l.run_id = r.id WHERE r.model_id = ? AND l.signal = ? ${blockRows ? 'AND l.kind = ?' : ''}
       ORDER BY r.id DESC LIMIT 1`,
    )
    .pluck()
    .get(modelId, signal, ...(blockRows ? [BLOCK_ROW_KIND] : [])) as number | undefined;
  if (!run) {
    if (blockRows && db.prepare(`SELECT 1 FROM score_runs r JOIN layer_scores l ON l.run_id = r.id WHERE r.model_id = ? AND l.signal = ?`).get(modelId, signal)) {
      throw new WinnowError('bad_input', `layers "${spec.trim()}": this model's layer_grad_norm scores are from a run that stored per-tensor norms only (their sum is not the block's gradient norm ‖g_block‖); score layer_grad_norm again`);
    }
    return new Map();
  }
  const rows = (blockRows
    ? db.prepare(`SELECT block, value AS v FROM layer_scores WHERE run_id = ? AND signal = ? AND kind = ? AND block IS NOT NULL`).all(run, signal, BLOCK_ROW_KIND)
    : db.prepare(`SELECT block, SUM(value) AS v FROM layer_scores WHERE run_id = ? AND signal = ? AND kind != ? AND block IS NOT NULL GROUP BY block`).all(run, signal, BLOCK_ROW_KIND)) as Array<{ block: number; v: number }>;
  return new Map(rows.map((r) => [r.block, r.v]));
}

/** Each tensor's latest score per signal: the value from the newest run of the model that scored that signal. */
export function latestLayerScores(db: Db, modelId: number): Array<{ name: string; signal: string; value: number }> {
  return db
    .prepare(
      `SELECT l.tensor_name AS name, l.signal, l.value FROM layer_scores l
       WHERE l.run_id = (SELECT MAX(r.id) FROM score_runs r JOIN layer_scores x ON x.run_id = r.id WHERE r.model_id = ? AND x.signal = l.signal)`,
    )
    .all(modelId) as Array<{ name: string; signal: string; value: number }>;
}

/** The parameters of the newest run of the model that scored each layer signal. */
export function latestLayerRunParams(db: Db, modelId: number): Array<{ signal: string; params_json: string }> {
  return db
    .prepare(
      `SELECT l.signal, r.params_json FROM score_runs r JOIN (SELECT DISTINCT run_id, signal FROM layer_scores) l ON l.run_id = r.id
       WHERE r.id = (SELECT MAX(r2.id) FROM score_runs r2 JOIN layer_scores x ON x.run_id = r2.id WHERE r2.model_id = ? AND x.signal = l.signal)`,
    )
    .all(modelId) as Array<{ signal: string; params_json: string }>;
}

interface MaskRowDb { id: number; name: string; model_id: number; tensors_json: string; provenance_json: string }
const toInfo = (r: MaskRowDb): LayerMaskInfo => ({
  id: r.id,
  name: r.name,
  modelId: r.model_id,
  tensors: JSON.parse(r.tensors_json),
  provenance: JSON.parse(r.provenance_json),
});

/** Stores a layer mask under a new name; a name already taken is a conflict naming it. */
export function insertLayerMask(db: Db, name: string, modelId: number, tensors: string[], provenance: unknown): LayerMaskInfo {
  if (db.prepare('SELECT 1 FROM layer_masks WHERE name = ?').get(name)) throw new WinnowError('conflict', `a layer mask named "${name}" already exists`);
  const info = db
    .prepare(`INSERT INTO layer_masks (name, model_id, tensors_json, provenance_json, created_at) VALUES (?, ?, ?, ?, datetime('now'))`)
    .run(name, modelId, JSON.stringify(tensors), JSON.stringify(provenance));
  return toInfo(db.prepare('SELECT * FROM layer_masks WHERE id = ?').get(Number(info.lastInsertRowid)) as MaskRowDb);
}

export function listLayerMasks(db: Db, modelId?: number): LayerMaskInfo[] {
  const rows = (modelId !== undefined
    ? db.prepare('SELECT * FROM layer_masks WHERE model_id = ? ORDER BY id').all(modelId)
    : db.prepare('SELECT * FROM layer_masks ORDER BY id').all()) as MaskRowDb[];
  return rows.map(toInfo);
}

export function getLayerMask(db: Db, id: number): LayerMaskInfo {
  const r = db.prepare('SELECT * FROM layer_masks WHERE id = ?').get(id) as MaskRowDb | undefined;
  if (!r) throw new WinnowError('not_found', `layer mask ${id} not found`);
  return toInfo(r);
}
