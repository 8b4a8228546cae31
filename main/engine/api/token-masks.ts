/**
 * Hand-edited (or policy-made) label masks of single examples, stored in `token_masks` per name, example and
 * tokenizer, next to the render's own mask. The mask length must match the render's tokens, so it can only apply to
 * the exact token sequence it was drawn on.
 */
import type { Db } from '../db';
import { blobToUint8, getRender, toBlob } from '../db';
import { WinnowError } from '../util/errors';
import { tokenizerFor } from './examples';
import { modelPath } from './models-registry';

export interface TokenMaskView {
  name: string;
  exampleId: number;
  tokenizerId: string;
  mask: number[];
  trainable: number;
  provenance: Record<string, unknown>;
}

interface MaskRowDb {
  name: string;
  example_id: number;
  tokenizer_id: string;
  mask: Buffer;
  provenance_json: string;
}

function toView(r: MaskRowDb): TokenMaskView {
  const mask = Array.from(blobToUint8(r.mask));
  return {
    name: r.name,
    exampleId: r.example_id,
    tokenizerId: r.tokenizer_id,
    mask,
    trainable: mask.reduce((a, b) => a + b, 0),
    provenance: JSON.parse(r.provenance_json) as Record<string, unknown>,
  };
}

export async function saveTokenMask(
  db: Db,
  i: { exampleId: number; modelId: number; name: string; mask: number[]; provenance?: Record<string, unknown> },
): Promise<TokenMaskView> {
  const tok = await tokenizerFor(modelPath(db, i.modelId));
  const render = getRender(db, i.exampleId, tok.id);
  if (!render) throw new WinnowError('not_found', `tokenMasks.save: example ${i.exampleId} has no render for tokenizer ${tok.id} — open it first`);
  if (i.mask.length !== render.nTokens) {
    throw new WinnowError('bad_input', `tokenMasks.save: field "mask" has ${i.mask.length} entries but example ${i.exampleId} has ${render.nTokens} tokens`);
  }
  const bad = i.mask.findIndex((v) => v !== 0 && v !== 1);
  if (bad >= 0) throw new WinnowError('bad_input', `tokenMasks.save: field "mask.${bad}" must be 0 or 1`);
  const provenance = { source: 'edited', at: new Date().toISOString(), ...(i.provenance ?? {}) };
  db.prepare(
    `INSERT INTO token_masks (name, example_id, tokenizer_id, mask, provenance_json) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(name, example_id, tokenizer_id) DO UPDATE SET mask = excluded.mask, provenance_json = excluded.provenance_json`,
  ).run(i.name, i.exampleId, tok.id, toBlob(Uint8Array.from(i.mask)), JSON.stringify(provenance));
  return getTokenMask(db, { exampleId: i.exampleId, modelId: i.modelId, name: i.name }) as Promise<TokenMaskView>;
}

/** The named mask of an example for the model's tokenizer, or null when none was saved. */
export async function getTokenMask(db: Db, i: { exampleId: number; modelId: number; name: string }): Promise<TokenMaskView | null> {
  const tok = await tokenizerFor(modelPath(db, i.modelId));
  const r = db
    .prepare('SELECT name, example_id, tokenizer_id, mask, provenance_json FROM token_masks WHERE name = ? AND example_id = ? AND tokenizer_id = ?')
    .get(i.name, i.exampleId, tok.id) as MaskRowDb | undefined;
  return r ? toView(r) : null;
}

export function deleteTokenMask(db: Db, i: { exampleId: number; name: string }): boolean {
  return db.prepare('DELETE FROM token_masks WHERE name = ? AND example_id = ?').run(i.name, i.exampleId).changes > 0;
}
