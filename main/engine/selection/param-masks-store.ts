/**
 * Named parameter masks in the project database (migration 007): one row with the provenance, one bitset per tensor
 * that has a trainable entry. Tensors of a model that have no row are frozen under the mask. The ids of the examples
 * of the gradient pass are kept beside it (migration 009), and a pass under way keeps its state in `job_state`.
 */
import type { Db } from '../db';
import { blobToUint8, blobToInt32 } from '../db';
import {
  insertParamMask, listParamMaskRows, paramMaskBitRows, paramMaskExampleIdsBlob, paramMaskNameTaken, paramMaskRow, paramMaskRowByName,
  paramMaskTensorRows, type ParamMaskRowDb,
} from '../db/param-masks';
import { JOB_STATE, PassState } from '../db/pass-state';
import type { ParamMaskInfo } from '../../../preload/contract';
import { WinnowError } from '../util/errors';
import { packBits, unpackBits, type TensorMask } from './param-masks';

/** What a mask was made from: method and settings, data, token policy and the model's content hash. */
export interface ParamMaskProvenance {
  spec: string;
  method: 'salience' | 'gps';
  metric: string | null;
  /** what the metric computed: '|Σg|', '|w·Σg|', '(w·Σg)²' (absent in masks saved before it was recorded, when sq_wg
   * was w²·Σg² and every scope tensor was scored) */
  metricForm?: string | null;
  /** salience: 'linear' — the scope's linear weight matrices only; 'all' — every tensor of the scope */
  tensorsScored?: 'linear' | 'all';
  density: number | null;
  perRow: number | null;
  topk: 'global' | 'per_tensor' | 'per_row';
  scope: string;
  examples: number;
  seed: number;
  /** the eval split left out of the pass: what a training run on the same rows with this eval fraction and seed (and
   * the same token policy and max tokens) holds out; `heldOut` rows were left out. null: none was left out */
  evalSplit: { fraction: number; seed: number; heldOut: number } | null;
  subsetId: number | null;
  subsetName: string | null;
  datasetId: number | null;
  tokenPolicy: Record<string, unknown>;
  maxTokens: number;
  /** LoadedModel.hash: config.json and every tensor's bytes — a mask only fits the weights it was computed on */
  modelHash: string;
  modelPath: string;
  seconds: number;
}

function info(db: Db, r: ParamMaskRowDb): ParamMaskInfo {
  const p = JSON.parse(r.provenance_json) as ParamMaskProvenance;
  const tensors = paramMaskTensorRows(db, r.id).map((t) => ({ name: t.name, shape: JSON.parse(t.shape_json) as number[], selected: t.selected }));
  return {
    id: r.id,
    name: r.name,
    modelId: r.model_id,
    method: r.method as ParamMaskInfo['method'],
    // a mask saved before metricForm was recorded: its sq_wg was Σ_n (w·g_n)² = w²·Σ_n g_n², named for what it is
    metric: p.metric === 'sq_wg' && p.metricForm === undefined ? 'sq_wg_per_example' : p.metric,
    density: p.density,
    perRow: p.perRow,
    topk: p.topk,
    scope: p.scope,
    trainableParams: r.trainable_params,
    scopeParams: r.scope_params,
    tensors,
    provenance: p as unknown as Record<string, unknown>,
    createdAt: r.created_at,
  };
}

export function assertMaskNameFree(db: Db, name: string): void {
  if (!name.trim()) throw new WinnowError('bad_input', 'parameter mask: give it a name');
  if (paramMaskNameTaken(db, name)) throw new WinnowError('conflict', `a parameter mask named "${name}" already exists`);
}

export function saveParamMask(
  db: Db,
  opts: { name: string; modelId: number; scopeParams: number; provenance: ParamMaskProvenance; tensors: TensorMask[]; exampleIds?: Int32Array },
): ParamMaskInfo {
  const trainable = opts.tensors.reduce((a, t) => a + t.selected, 0);
  const id = db.transaction(() => {
    assertMaskNameFree(db, opts.name);
    return insertParamMask(
      db,
      { name: opts.name, modelId: opts.modelId, method: opts.provenance.method, trainableParams: trainable, scopeParams: opts.scopeParams, provenanceJson: JSON.stringify(opts.provenance), exampleIds: opts.exampleIds },
      opts.tensors.map((t) => ({ name: t.name, shape: t.shape, selected: t.selected, bits: packBits(t.mask) })),
    );
  })();
  return getParamMask(db, id);
}

export function getParamMask(db: Db, id: number): ParamMaskInfo {
  const r = paramMaskRow(db, id);
  if (!r) throw new WinnowError('not_found', `parameter mask ${id} not found`);
  return info(db, r);
}

export function findParamMaskByName(db: Db, name: string): ParamMaskInfo {
  const r = paramMaskRowByName(db, name);
  if (!r) throw new WinnowError('not_found', `no parameter mask named "${name}" in this project`);
  return info(db, r);
}

export function listParamMasks(db: Db, modelId?: number): ParamMaskInfo[] {
  return listParamMaskRows(db, modelId).map((r) => info(db, r));
}

/** The mask's entries per tensor (1 = trainable), unpacked. */
export function loadParamMaskBits(db: Db, id: number): Map<string, { shape: number[]; mask: Uint8Array }> {
  getParamMask(db, id);
  const rows = paramMaskBitRows(db, id);
  const out = new Map<string, { shape: number[]; mask: Uint8Array }>();
  for (const r of rows) {
    const shape = JSON.parse(r.shape_json) as number[];
    out.set(r.tensor_name, { shape, mask: unpackBits(blobToUint8(r.bits), shape.reduce((a, b) => a * b, 1)) });
  }
  return out;
}

/** The examples of the mask's gradient pass, or null for a mask saved before they were recorded. */
export function paramMaskExampleIds(db: Db, id: number): Int32Array | null {
  const b = paramMaskExampleIdsBlob(db, id);
  if (b === undefined) throw new WinnowError('not_found', `parameter mask ${id} not found`);
  return b ? blobToInt32(b) : null;
}

/** The saved state of a parameter-mask job's gradient pass (cursor, example ids, running sums). */
export function paramMaskPassState(db: Db, jobId: string): PassState {
  return new PassState(db, jobId, 'param_mask', JOB_STATE);
}
