/**
 * UDS as a one-pass subset rule: the candidate rows (a dataset's, or every row) in id order, in batches of
 * `batchSize`, each scored by the model in one forward pass and cut to its best `keep` share (selection/uds.ts) —
 * what a UDS training run would keep in one epoch over the rows in that order. Every row is rendered with the
 * model's tokenizer first; rows with no trainable token are not candidates. It lives beside training because it reads
 * rows as training does (selection sits below training); the `select` job gets it from jobs/runners.ts.
 */
import type { Db } from '../db';
import { renderKeyId, renderKeyOf } from '../db';
import { findModelPath } from '../db/models';
import { scopeDatasetIds } from '../db/training';
import { loadModel, disposeModel } from '../models';
import { renderDataset } from '../data/renderDataset';
import { DEFAULT_RENDER } from '../data/render-key';
import { WinnowError } from '../util/errors';
import type { SubsetRule } from '../../../preload/contract';
import { isTrainable, trainCandidateIds, type TrainExample } from './data';
import { createTokenMasker } from '../selection/token-policy';
import { UdsSelector, udsScoreBatch } from '../selection/uds';

export type UdsRule = Extract<SubsetRule, { kind: 'uds' }>;

export async function udsSelect(
  db: Db,
  rule: UdsRule,
  datasetId: number | undefined,
  hooks: { onProgress?: (done: number, total: number) => void } = {},
): Promise<{ ids: number[]; provenance: Record<string, unknown> }> {
  const path = findModelPath(db, rule.modelId);
  if (!path) throw new WinnowError('not_found', `UDS: field "modelId": model ${rule.modelId} not found`);
  const model = await loadModel(path);
  try {
    const render = { ...DEFAULT_RENDER, maxTokens: rule.maxTokens };
    const datasets = scopeDatasetIds(db, null, datasetId);
    for (const d of datasets) await renderDataset(db, d, model.tokenizer, render);
    const keyId = renderKeyId(db, renderKeyOf(model.tokenizer, render));
    const ids = trainCandidateIds(db, null, datasetId);
    const masker = createTokenMasker(db, { renderKeyId: keyId, modelId: rule.modelId, policy: { kind: 'response' } }, ids);
    const rows: TrainExample[] = [];
    for (const id of ids) {
      const m = masker(id);
      if (isTrainable(m)) rows.push({ exampleId: id, ids: m!.ids, weights: m!.mask });
    }
    if (!rows.length) throw new WinnowError('bad_input', `UDS: none of the ${ids.length} rows has a rendered response to score`);
    const sel = new UdsSelector({ keep: rule.keep, bufferSize: rule.bufferSize, lambda: rule.lambda, seed: rule.seed });
    const padId = model.tokenizer.padId ?? model.tokenizer.eosId ?? 0;
    const picked: number[] = [];
    for (let i = 0; i < rows.length; i += rule.batchSize) {
      const batch = rows.slice(i, i + rule.batchSize);
      const sc = await udsScoreBatch(model, model.weights, batch, { padId, maxTokens: rule.maxTokens, seed: rule.seed });
      for (const k of sel.select(sc.utility, sc.sketches).kept) picked.push(batch[k]!.exampleId);
      hooks.onProgress?.(Math.min(i + rule.batchSize, rows.length), rows.length);
    }
    return { ids: picked.sort((a, b) => a - b), provenance: { candidates: rows.length } };
  } finally {
    disposeModel(model);
  }
}
