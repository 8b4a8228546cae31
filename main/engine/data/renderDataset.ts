import type { Db } from '../db/open';
import { getDataset } from '../db/datasets';
import { examplesAfter } from './examples';
import { clearRenderErrors, renderedIdsReader, renderErrorWriter, renderKeyId, renderKeyOf, renderWriter } from '../db/renders';
import type { WinnowTokenizer } from '../models/types';
import { WinnowError } from '../util/errors';
import { countLabels, hasEmptyResponse, renderExample, type LabelPolicy } from './render';

export interface RenderDatasetOptions {
  labelPolicy: LabelPolicy;
  maxTokens?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface RenderDatasetResult {
  /** the render key the rows were rendered under (db/renders.ts) */
  renderKeyId: number;
  rendered: number;
  /** already rendered with this tokenizer and the same options */
  cached: number;
  errors: number;
  truncated: number;
}

const BATCH = 1000;

/**
 * Render every example of a dataset under one render key (the tokenizer, its chat template and `opts`) into
 * `renders`. Renders of other keys are never touched. Each batch commits on its own, so a cancelled run keeps its
 * work and the next run resumes (already-rendered rows are skipped). Rows that cannot be rendered, or leave nothing
 * to learn, go to render_errors under the same key instead.
 */
export async function renderDataset(db: Db, datasetId: number, tok: WinnowTokenizer, opts: RenderDatasetOptions): Promise<RenderDatasetResult> {
  const total = getDataset(db, datasetId).rowCount;
  const keyId = renderKeyId(db, renderKeyOf(tok, opts));
  // one lookup per batch (ids are contiguous in a batch's range), not one per row
  const cachedIn = renderedIdsReader(db);
  const write = renderWriter(db);
  const writeError = renderErrorWriter(db, datasetId, keyId);
  clearRenderErrors(db, datasetId, keyId);

  const res: RenderDatasetResult = { renderKeyId: keyId, rendered: 0, cached: 0, errors: 0, truncated: 0 };
  let after = 0;
  let done = 0;
  for (;;) {
    if (opts.signal?.aborted) throw new WinnowError('cancelled', `rendering dataset ${datasetId} cancelled after ${done} of ${total} rows`);
    const batch = examplesAfter(db, datasetId, after, BATCH);
    if (batch.length === 0) break;
    const cached = new Set(cachedIn(keyId, batch[0].id, batch[batch.length - 1].id));
    db.transaction(() => {
      for (const ex of batch) {
        if (cached.has(ex.id)) { res.cached++; continue; }
        let reason: string | null = null;
        try {
          const r = renderExample(tok, ex.messages, { labelPolicy: opts.labelPolicy, maxTokens: opts.maxTokens });
          const nLabel = countLabels(r.labelMask);
          if (nLabel === 0) {
            reason = r.truncated ? `no trainable tokens (all of them fall after max_tokens ${opts.maxTokens})`
              : hasEmptyResponse(ex.messages) ? 'no trainable tokens (the response is empty)' : 'no trainable tokens';
          } else {
            write({
              exampleId: ex.id, renderKeyId: keyId, tokenIds: r.tokenIds, offsets: r.offsets, roles: r.roles,
              labelMask: r.labelMask, nTokens: r.tokenIds.length, nLabel, truncated: r.truncated,
            });
            res.rendered++;
            if (r.truncated) res.truncated++;
          }
        } catch (err) {
          reason = err instanceof Error ? err.message : String(err);
        }
        if (reason !== null) {
          writeError(ex.rowIndex, reason);
          res.errors++;
        }
      }
    })();
    after = batch[batch.length - 1].id;
    done += batch.length;
    opts.onProgress?.(done, total);
    // let the event loop run between batches so cancellation and progress messages get through
    await new Promise((r) => setImmediate(r));
  }
  return res;
}
