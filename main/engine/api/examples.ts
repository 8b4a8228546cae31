/** One example as the model sees it: the rendered text, its tokens with roles and label mask, and their scores. */
import type { ExampleDetail, TokenView } from '../../../preload/contract';
import { getExample, getRender, getExampleSignals, blobToFloat32, renderWriter, type Db, ROLE_ASSISTANT, ROLE_USER, ROLE_OTHER } from '../db';
import { loadTokenizer } from '../models/tokenizer';
import type { WinnowTokenizer } from '../models/types';
import { renderExample, type RenderOptions } from '../data/render';
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

export const DEFAULT_RENDER: RenderOptions = { labelPolicy: 'assistant', maxTokens: 512 };

function roleName(r: number): TokenView['role'] {
  if (r === ROLE_ASSISTANT) return 'assistant';
  if (r === ROLE_USER) return 'user';
  if (r === ROLE_OTHER) return 'system';
  return 'template';
}

export async function exampleDetail(db: Db, exampleId: number, modelId: number): Promise<ExampleDetail> {
  const ex = getExample(db, exampleId);
  const tok = await tokenizerFor(modelPath(db, modelId));
  let render = getRender(db, exampleId, tok.id);
  let renderError: string | null = null;
  let renderedText = '';
  try {
    // rendering one example is cheap and gives the exact text the offsets point into
    const r = renderExample(tok, ex.messages as never, DEFAULT_RENDER);
    renderedText = r.text;
    if (!render) {
      renderWriter(db)({
        exampleId,
        tokenizerId: tok.id,
        tokenIds: r.tokenIds,
        offsets: r.offsets,
        roles: r.roles,
        labelMask: r.labelMask,
        nTokens: r.tokenIds.length,
        nLabel: r.labelMask.reduce((a, b) => a + b, 0),
        truncated: r.truncated,
        labelPolicy: DEFAULT_RENDER.labelPolicy,
        maxTokens: DEFAULT_RENDER.maxTokens ?? null,
      });
      render = getRender(db, exampleId, tok.id);
    }
  } catch (err) {
    renderError = (err as Error).message;
  }
  const tokens: TokenView[] = [];
  if (render) {
    const ids = render.tokenIds;
    for (let t = 0; t < ids.length; t++) {
      const start = render.offsets[2 * t]!;
      const end = render.offsets[2 * t + 1]!;
      tokens.push({
        id: ids[t]!,
        // the token's own characters in the rendered text; special tokens (no characters) show their piece
        text: end > start && renderedText ? renderedText.slice(start, end) : (tok.idToToken(ids[t]!) ?? ''),
        start,
        end,
        role: roleName(render.roles[t]!),
        label: render.labelMask[t] === 1,
      });
    }
  }
  // token signals of the most recent run of this model that scored this example
  const rows = db
    .prepare(
      `SELECT ts.signal, ts."values" AS v FROM token_scores ts JOIN score_runs r ON r.id = ts.run_id
       WHERE ts.example_id = ? AND r.model_id = ? ORDER BY ts.run_id ASC`,
    )
    .all(exampleId, modelId) as Array<{ signal: string; v: Buffer }>;
  const tokenSignals: Record<string, Array<number | null>> = {};
  for (const row of rows) {
    tokenSignals[row.signal] = Array.from(blobToFloat32(row.v), (x) => (Number.isNaN(x) ? null : x));
  }
  return {
    id: ex.id,
    rowIndex: ex.rowIndex,
    raw: ex.raw,
    messages: Array.isArray(ex.messages) ? (ex.messages as ExampleDetail['messages']) : null,
    renderedText,
    tokenizerId: tok.id,
    tokens,
    truncated: render ? render.truncated : false,
    renderError,
    tokenSignals,
    signals: getExampleSignals(db, exampleId),
  };
}
