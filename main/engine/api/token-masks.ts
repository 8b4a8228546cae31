/**
 * Hand-edited (or policy-made) label masks of single examples, stored in `token_masks` per name, example and render
 * key, with the token ids they were drawn on, next to the render's own mask. A mask applies to the render it was
 * drawn on, and to a render whose tokens are a prefix of those (the same row at a lower max tokens): never to other
 * tokens (db/renders.ts tokenMaskFor).
 */
import type { Db } from '../db';
import type { TokenMaskInfo } from '../../../preload/contract';
import { describeRenderKey, getRender, getRenderKey, renderKeyId, renderKeyOf, tokenMaskFor, writeTokenMask } from '../db';
import { deleteTokenMaskRows } from '../db/token-masks';
import { WinnowError } from '../util/errors';
import { DEFAULT_RENDER } from '../data/render-key';
import { tokenizerFor } from './examples';
import { modelPath } from './models-registry';

/** A mask as the contract describes it (`tokenMasks.get` / `tokenMasks.save`). */
export type TokenMaskView = TokenMaskInfo;

/** The render a mask call is about: `renderKeyId` when given, else the model's default render key. */
async function keyOf(db: Db, modelId: number, renderKey: number | undefined): Promise<number> {
  if (renderKey !== undefined) {
    getRenderKey(db, renderKey);
    return renderKey;
  }
  return renderKeyId(db, renderKeyOf(await tokenizerFor(modelPath(db, modelId)), DEFAULT_RENDER));
}

export async function saveTokenMask(
  db: Db,
  i: { exampleId: number; modelId: number; name: string; mask: number[]; provenance?: Record<string, unknown>; renderKeyId?: number },
): Promise<TokenMaskView> {
  const keyId = await keyOf(db, i.modelId, i.renderKeyId);
  const render = getRender(db, i.exampleId, keyId);
  if (!render) {
    throw new WinnowError('not_found', `tokenMasks.save: example ${i.exampleId} has no render with ${describeRenderKey(getRenderKey(db, keyId))} — open it first`);
  }
  if (i.mask.length !== render.nTokens) {
    throw new WinnowError('bad_input', `tokenMasks.save: field "mask" has ${i.mask.length} entries but example ${i.exampleId} has ${render.nTokens} tokens`);
  }
  const bad = i.mask.findIndex((v) => v !== 0 && v !== 1);
  if (bad >= 0) throw new WinnowError('bad_input', `tokenMasks.save: field "mask.${bad}" must be 0 or 1`);
  const provenance = { source: 'edited', at: new Date().toISOString(), ...(i.provenance ?? {}) };
  writeTokenMask(db, { name: i.name, exampleId: i.exampleId, renderKeyId: keyId, tokenIds: render.tokenIds, mask: Uint8Array.from(i.mask), provenance });
  return (await getTokenMask(db, { exampleId: i.exampleId, modelId: i.modelId, name: i.name, renderKeyId: keyId }))!;
}

/** The named mask that applies to the example's render (`renderKeyId`, else the model's default one), or null. */
export async function getTokenMask(db: Db, i: { exampleId: number; modelId: number; name: string; renderKeyId?: number }): Promise<TokenMaskView | null> {
  const keyId = await keyOf(db, i.modelId, i.renderKeyId);
  const render = getRender(db, i.exampleId, keyId);
  const m = render && tokenMaskFor(db, i.name, render);
  if (!m) return null;
  const mask = Array.from(m.mask);
  return {
    name: m.name, exampleId: m.exampleId, tokenizerId: getRenderKey(db, m.renderKeyId).tokenizerId, renderKeyId: m.renderKeyId, mask,
    trainable: mask.reduce((a, b) => a + b, 0), provenance: m.provenance,
  };
}

export function deleteTokenMask(db: Db, i: { exampleId: number; name: string }): boolean {
  return deleteTokenMaskRows(db, i.name, i.exampleId);
}
