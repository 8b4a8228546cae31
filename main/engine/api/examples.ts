/** One example as the model sees it: the rendered text, its tokens with roles and label mask, and their scores. */
import type { ExampleDetail, RenderInfo, TokenView } from '../../../preload/contract';
import {
  getRender, getExampleSignals, blobToFloat32, renderWriter, renderKeyId, renderKeyOf, getRenderKey, describeRenderKey, latestTokenScoredRenderKeyId, tokenScoresOnRender,
  type Db, type StoredRender, ROLE_ASSISTANT, ROLE_USER, ROLE_OTHER,
} from '../db';
import { getExample } from '../data/examples';
import { loadTokenizer } from '../models/tokenizer';
import type { WinnowTokenizer } from '../models/types';
import { countLabels, renderExample, type LabelPolicy } from '../data/render';
import { DEFAULT_RENDER } from '../data/render-key';
import { modelPath } from './models-registry';

const tokenizers = new Map<string, Promise<WinnowTokenizer>>();

/** Tokenizers are cached per model folder: loading a 50k-vocab tokenizer.json costs ~100 ms. */
export function tokenizerFor(dir: string): Promise<WinnowTokenizer> {
  let t = tokenizers.get(dir);
  if (!t) {
    t = loadTokenizer(dir);
    t.catch(() => tokenizers.delete(dir));
    tokenizers.set(dir, t);
  }
  return t;
}

export { DEFAULT_RENDER };

function roleName(r: number): TokenView['role'] {
  if (r === ROLE_ASSISTANT) return 'assistant';
  if (r === ROLE_USER) return 'user';
  if (r === ROLE_OTHER) return 'system';
  return 'template';
}

/**
 * One example as `modelId` sees it, with per-token values shown against the render they were computed on: the render
 * key of the latest run of this model that stored token values for the example (and the token values of this
 * model's runs on that same key, the latest of each signal), else the model's default render key (rendered here
 * when missing). Which render that is, is part of the answer (`render`).
 */
export async function exampleDetail(db: Db, exampleId: number, modelId: number): Promise<ExampleDetail> {
  const ex = getExample(db, exampleId);
  const tok = await tokenizerFor(modelPath(db, modelId));
  const scored = latestTokenScoredRenderKeyId(db, exampleId, modelId);
  let keyId = scored ?? renderKeyId(db, renderKeyOf(tok, DEFAULT_RENDER));
  let render = getRender(db, exampleId, keyId);
  if (!render && scored !== undefined) {
    // the scored render is gone (it cannot be: runs keep theirs; a re-mapped dataset drops both): show the default one
    keyId = renderKeyId(db, renderKeyOf(tok, DEFAULT_RENDER));
    render = getRender(db, exampleId, keyId);
  }
  const key = getRenderKey(db, keyId);
  let renderError: string | null = null;
  let renderedText = '';
  try {
    // rendering one example is cheap and gives the exact text the offsets point into (the same for any max tokens)
    const r = renderExample(tok, ex.messages as never, { labelPolicy: key.labelPolicy as LabelPolicy, maxTokens: key.maxTokens ?? undefined });
    renderedText = r.text;
    if (!render) {
      const fresh: StoredRender = {
        exampleId, renderKeyId: keyId, tokenIds: r.tokenIds, offsets: r.offsets, roles: r.roles, labelMask: r.labelMask,
        nTokens: r.tokenIds.length, nLabel: countLabels(r.labelMask), truncated: r.truncated,
      };
      // stored as a dataset render pass would store it: a row with nothing to learn is shown, never stored (it is a
      // render error there, and jobs must not score or train it)
      if (fresh.nLabel > 0) renderWriter(db)(fresh);
      render = fresh;
    }
  } catch (err) {
    renderError = (err as Error).message;
  }
  // a render of another tokenizer (the model's files changed since it was scored): its offsets do not point into this text
  const ownText = key.tokenizerId === tok.id;
  const tokens: TokenView[] = [];
  if (render) {
    const ids = render.tokenIds;
    for (let t = 0; t < ids.length; t++) {
      const start = render.offsets[2 * t]!;
      const end = render.offsets[2 * t + 1]!;
      tokens.push({
        id: ids[t]!,
        // the token's own characters in the rendered text; special tokens (no characters) show their piece
        text: ownText && end > start && renderedText ? renderedText.slice(start, end) : (tok.idToToken(ids[t]!) ?? ''),
        start,
        end,
        role: roleName(render.roles[t]!),
        label: render.labelMask[t] === 1,
      });
    }
  }
  // token signals of this model's runs on this render key, the latest run's value of each signal
  const rows = tokenScoresOnRender(db, exampleId, modelId, keyId);
  const tokenSignals: Record<string, Array<number | null>> = {};
  const runs = new Set<number>();
  for (const row of rows) {
    tokenSignals[row.signal] = Array.from(blobToFloat32(row.v), (x) => (Number.isNaN(x) ? null : x));
    runs.add(row.run);
  }
  const info: RenderInfo = {
    renderKeyId: keyId, tokenizerId: key.tokenizerId, templateHash: key.templateHash, labelPolicy: key.labelPolicy,
    maxTokens: key.maxTokens, renderer: key.renderer, description: describeRenderKey(key),
    scoreRunIds: [...runs].sort((a, b) => a - b),
  };
  return {
    id: ex.id,
    rowIndex: ex.rowIndex,
    raw: ex.raw,
    messages: Array.isArray(ex.messages) ? (ex.messages as ExampleDetail['messages']) : null,
    renderedText,
    tokenizerId: key.tokenizerId,
    render: info,
    tokens,
    truncated: render ? render.truncated : false,
    renderError,
    tokenSignals,
    signals: getExampleSignals(db, exampleId),
  };
}
