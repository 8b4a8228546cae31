/**
 * Render keys of models (db/renders.ts has the concept): the key a model's renders get with given options, and the
 * model's default render key — the one the Data screen's token counts and render errors, the token view of a row no
 * run has scored, and hand-edited masks drawn there are read under.
 */
import type { Db } from '../db/open';
import { findModelPath } from '../db/models';
import { findRenderKeyId, renderKeyOf, type RenderKey } from '../db/renders';
import { tokenizerIdentity } from '../models/tokenizer';
import type { RenderOptions } from './render';

/** The default render options: the assistant turns are learned, 512 tokens at most. */
export const DEFAULT_RENDER: RenderOptions = { labelPolicy: 'assistant', maxTokens: 512 };

/** The render key of a model folder's tokenizer with `opts` (no tokenizer is built). */
export function renderKeyForDir(dir: string, opts: RenderOptions): RenderKey {
  return renderKeyOf(tokenizerIdentity(dir), opts);
}

/**
 * The stored id of a model's default render key, or null when nothing was rendered with it yet (or the model or its
 * tokenizer files are gone).
 */
export function defaultRenderKeyId(db: Db, modelId: number | null): number | null {
  if (modelId === null) return null;
  const dir = findModelPath(db, modelId);
  if (!dir) return null;
  try {
    return findRenderKeyId(db, renderKeyForDir(dir, DEFAULT_RENDER));
  } catch {
    return null;
  }
}
