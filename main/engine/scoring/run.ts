/**
 * The scoring job: renders what is not rendered yet, then runs the planned passes with the fewest model calls:
 *  - forward loop over length-bucketed batches: per batch, one forward pass of the scored model (every token signal,
 *    mean_loss/ppl, counts, `embedding`, and the last layer's attention for `sstoken`), one of the reference model
 *    (`excess_loss`, `learnability`, `sstoken`), one over the answer-only sequences (`ifd`) and two for `rifd`
 *    (reverse prompt; instruction alone). Each batch's results are written in one transaction together with the
 *    run's cursor, so a killed job resumes at the next unfinished batch with no example missing or scored twice.
 *  - gradient pass (`fim`, `layer_grad_norm`, `grad_norm`, `grad_sim_base`; gradient-pass.ts): one backward pass per
 *    example, resumable at its last finished batch the same way.
 *  - LESS pass (`grad_sim`; less-pass.ts): LoRA gradients at each kept checkpoint of a warm-up run, resumable at its
 *    last finished checkpoint.
 */
import { getExample } from '../data/examples';
import { openProjectDb, getRender, writeExampleSignal, toBlob, renderKeyId, renderKeyOf, describeRenderKey, getRenderKey, listDatasets, scoreRunRenderKeyId, type Db, type StoredRender } from '../db';
import {
  findScoreRunOfJob, insertScoreRun, markScoreRunDone, markScoreRunEnded, markScoreRunRunning, recordThroughput, scoreRunCursorSetter, scoreRunHasResults,
  setScoreRunProgress, setScoreRunRenderKey, tokenScoreInserter,
} from '../db/score-runs';
import { countScopedRenders, datasetsOfSubset, pendingRenders } from '../db/score-rows';
import { writeExampleVectors } from '../db/vectors';
import { loadModel, disposeModel, type LoadedModel } from '../models';
import { applyAdapterFolder } from '../models/lora';
import { renderDataset } from '../data/renderDataset';
import { DEFAULT_RENDER } from '../data/render-key';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import { WinnowError } from '../util/errors';
import {
  ANSWER_ONLY_SIGNALS, ATTENTION_SIGNALS, DEFAULT_SSTOKEN_GAMMA, FORWARD_SIGNALS, GRADIENT_SIGNALS, HISTORY_SIGNALS, LATER_REFERENCE_SIGNALS, REVERSE_SIGNALS,
  LESS_SIGNALS, TEXT_SIGNALS, checkSignals,
} from './plan';
import { lessPass, targetSubsets } from './less-pass';
import { maskedMean } from './token-signals';
import { forwardBatch, rowsByMemory } from './passes/forward';
import { answerOnlyIds, answerSpan, ifdFrom } from './passes/answer-only';
import { assertModelRoles, excessLoss, historyModelOf, learnability, loadReference } from './passes/reference';
import { reverseRender } from './passes/reverse';
import { promptKeys, sstokenFrom } from './passes/sstoken';
import { gradientPass, type Scope as GradientScope } from './gradient-pass';
import type { Normalized } from '../data/formats';
import { recordDuplicatesForRun } from '../data/duplicates';
import { scopeLabel } from '../db/names';
import { etaFromTokens } from '../util/eta';
import type { ScoreParams } from './params';

export type { ScoreParams } from './params';
import { countScopeRows, describeRows, rowScopeSql } from './rows';

const TOKEN_SIGNAL_IDS = ['token_loss', 'token_entropy', 'token_prob', 'token_rank'] as const;

export function cancelled(): WinnowError {
  return new WinnowError('cancelled', 'cancelled');
}

function findOrCreateRun(db: Db, jobId: string, p: ScoreParams): number {
  const existing = findScoreRunOfJob(db, jobId);
  if (existing) return existing;
  return insertScoreRun(db, { modelId: p.modelId, refModelId: p.refModelId ?? null, datasetId: p.datasetId ?? null, signalsJson: JSON.stringify(p.signals), paramsJson: JSON.stringify(p), jobId });
}

type Scope = GradientScope;

/**
 * The run's render key: set when the run starts, the same on every resume (a resumed run must score the very tokens
 * its earlier batches scored).
 */
function bindRenderKey(db: Db, runId: number, keyId: number): void {
  const bound = scoreRunRenderKeyId(db, runId);
  if (bound === keyId) return;
  if (scoreRunHasResults(db, runId)) {
    const was = bound === null ? 'renders that were not recorded (it started before an update)' : describeRenderKey(getRenderKey(db, bound));
    throw new WinnowError('conflict', `score run ${runId} scored its first examples on ${was}, and would now render with ${describeRenderKey(getRenderKey(db, keyId))} (the model's tokenizer files changed?): start a new scoring`);
  }
  setScoreRunRenderKey(db, runId, keyId);
}

function scopeOf(db: Db, p: ScoreParams, keyId: number): Scope {
  const parts = ['r.render_key_id = ?'];
  const args: unknown[] = [keyId];
  if (p.datasetId !== undefined) {
    parts.push('e.dataset_id = ?');
    args.push(p.datasetId);
  }
  // a shard's rows; fim's draw is still over the whole file (`whole`), so N shards together draw what one run draws
  const whole = { sql: parts.join(' AND '), args: [...args] };
  if (p.onlySubsetId !== undefined) {
    parts.push('e.id IN (SELECT example_id FROM subset_members WHERE subset_id = ?)');
    args.push(p.onlySubsetId);
    return { sql: parts.join(' AND '), args, whole };
  }
  const rows = rowScopeSql(db, p.rows, p.datasetId);
  if (rows) {
    parts.push(rows.sql);
    args.push(...rows.args);
  }
  return { sql: parts.join(' AND '), args };
}

export async function runScoreJob(ctx: JobContext): Promise<JobOutcome> {
  const p = jobParams('score', ctx);
  checkSignals(p.signals);
  const want = new Set(p.signals);
  const has = (list: readonly string[]) => list.some((s) => want.has(s));
  const needRef = has(LATER_REFERENCE_SIGNALS);
  const historyModelId = historyModelOf(p);
  const needHis = has(HISTORY_SIGNALS);
  if (needRef && !p.refModelId) {
    throw new WinnowError('bad_input', `${LATER_REFERENCE_SIGNALS.filter((s) => want.has(s)).join(', ')} need a reference model, the LATER one: refModelId (CLI --ref-model DIR)`);
  }
  if (needHis && !historyModelId) {
    throw new WinnowError('bad_input', `sstoken needs a history model, the EARLIER one (e.g. the base model the scored one was tuned from): historyModelId (CLI --history-model DIR)`);
  }
  const db = openProjectDb(ctx.dbPath);
  let model: LoadedModel | null = null;
  let ref: LoadedModel | null = null;
  let his: LoadedModel | null = null;
  try {
    const runId = findOrCreateRun(db, ctx.jobId, p);
    markScoreRunRunning(db, runId);
    ctx.progress({ current: 0, total: 0, message: 'loading model' });
    model = await loadModel(p.projectModelPath);
    if (p.adapterPath) {
      ctx.progress({ current: 0, total: 0, message: 'applying the LoRA adapter' });
      applyAdapterFolder(model, p.adapterPath);
    }
    // swapped roles (where the project knows which model came from which) and a mismatched reference are refused
    // before any rendering or scoring
    assertModelRoles(db, { ...p, historyModelId });
    if (needRef) ref = await loadReference(db, p.refModelId!, model, p.modelId);
    if (needHis) his = historyModelId === p.refModelId && ref ? ref : await loadReference(db, historyModelId!, model, p.modelId);
    const keyId = renderKeyId(db, renderKeyOf(model.tokenizer, { ...DEFAULT_RENDER, maxTokens: p.maxTokens }));
    bindRenderKey(db, runId, keyId);
    const datasetIds = p.datasetId !== undefined
      ? [p.datasetId]
      : listDatasets(db).map((d) => d.id);
    const scopeDatasets = [...datasetIds];
    const targets = want.has('grad_sim') ? targetSubsets(p) : want.has('grad_sim_base') && p.targetSubsetId !== undefined ? [p.targetSubsetId] : [];
    for (const t of targets) {
      // the target set may come from another dataset: it is differentiated too, so it must be rendered
      for (const d of datasetsOfSubset(db, t)) if (!datasetIds.includes(d)) datasetIds.push(d);
    }
    for (const d of datasetIds) {
      ctx.progress({ current: 0, total: 0, message: 'rendering examples' });
      await renderDataset(db, d, model.tokenizer, { ...DEFAULT_RENDER, maxTokens: p.maxTokens });
    }
    const scope = scopeOf(db, p, keyId);
    const stats: Record<string, number> = { runId };
    if (has(FORWARD_SIGNALS) || needRef || needHis || has(ANSWER_ONLY_SIGNALS) || has(REVERSE_SIGNALS)) {
      Object.assign(stats, await forwardLoop(ctx, db, runId, p, model, ref, his, scope, keyId));
    }
    if (his && his !== ref) disposeModel(his);
    his = null;
    if (ref) {
      disposeModel(ref);
      ref = null;
    }
    if (has(GRADIENT_SIGNALS)) Object.assign(stats, await gradientPass(ctx, db, runId, p, model, scope, keyId));
    if (has(LESS_SIGNALS)) Object.assign(stats, await lessPass(ctx, db, runId, p, model, scope, keyId));
    if (has(TEXT_SIGNALS)) {
      // exact_dup / near_dup: the import's values, recorded under this run (computed where a dataset lacks them)
      if (ctx.isCancelled()) throw cancelled();
      const aborted = { get aborted() { return ctx.isCancelled(); } } as AbortSignal;
      const text = await recordDuplicatesForRun(db, runId, scopeDatasets, {
        signal: aborted,
        onProgress: (done, total) => ctx.progress({ current: done, total, message: `duplicates: ${done}/${total} rows` }),
      });
      stats.textExamples = text.examples;
      if (text.computed.length) ctx.log('info', `duplicates were missing for dataset(s) ${text.computed.join(', ')}: computed now`);
    }
    markScoreRunDone(db, runId);
    const rows = describeRows(db, p.rows, countScopeRows(db, p.rows, p.datasetId));
    return { message: `scored ${stats.examples ?? stats.gradientExamples ?? stats.textExamples ?? 0} examples of ${scopeLabel(db, { subsetId: p.subsetId, datasetId: p.datasetId })}${p.rows && p.rows.kind !== 'all' ? ` · ${rows}` : ''}`, stats: { ...stats, rows } };
  } catch (err) {
    try {
      markScoreRunEnded(db, ctx.jobId, err instanceof WinnowError && err.code === 'cancelled' ? 'cancelled' : 'failed', (err as Error).message);
    } catch {
      // the database itself may be the problem; the job error says so
    }
    throw err;
  } finally {
    if (his && his !== ref) disposeModel(his);
    if (ref) disposeModel(ref);
    if (model) disposeModel(model);
    db.close();
  }
}

async function forwardLoop(
  ctx: JobContext,
  db: Db,
  runId: number,
  p: ScoreParams,
  model: LoadedModel,
  ref: LoadedModel | null,
  his: LoadedModel | null,
  scope: Scope,
  keyId: number,
): Promise<Record<string, number>> {
  const total = countScopedRenders(db, scope);
  // pending: rendered, not yet scored by this run (length_tokens is written for every scored example)
  const pending = pendingRenders(db, scope, runId);
  let done = total - pending.length;
  setScoreRunProgress(db, runId, total, done);

  const want = new Set(p.signals);
  const tokenSignals = TOKEN_SIGNAL_IDS.filter((s) => want.has(s));
  const wantIfd = want.has('ifd');
  const wantRifd = want.has('rifd');
  const wantSs = ATTENTION_SIGNALS.some((s) => want.has(s));
  const gamma = p.sstokenGamma ?? DEFAULT_SSTOKEN_GAMMA;
  const insertToken = tokenScoreInserter(db);
  const setCursor = scoreRunCursorSetter(db);
  const bosId = model.tokenizer.bosId;
  const passesPerBatch = 1 + (ref ? 1 : 0) + (his && his !== ref ? 1 : 0) + (wantIfd ? 1 : 0) + (wantRifd ? 2 : 0);
  const started = Date.now();
  let tokensDone = 0;
  let tokensLeft = pending.reduce((a, r) => a + r.n, 0);

  for (let i = 0; i < pending.length; ) {
    if (ctx.isCancelled()) throw cancelled();
    // length-bucketed batch: pending is sorted by length, so neighbours pad little
    const maxLen = pending[Math.min(i + p.batchSize, pending.length) - 1]!.n;
    const batch = pending.slice(i, i + Math.min(p.batchSize, rowsByMemory(maxLen, model.config.vocabSize)));
    i += batch.length;
    const renders = batch.map((b) => getRender(db, b.id, keyId)!);
    const seqs = renders.map((r) => r.tokenIds);
    const main = await forwardBatch(model, seqs, {
      entropy: want.has('token_entropy'),
      rank: want.has('token_rank'),
      embedding: want.has('embedding'),
      attentionKeys: wantSs ? renders.map((r) => promptKeys(r.labelMask)) : undefined,
    });
    const refOut = ref ? await forwardBatch(ref, seqs, { entropy: false, rank: false, embedding: false }) : null;
    const hisOut = his ? (his === ref ? refOut : await forwardBatch(his, seqs, { entropy: false, rank: false, embedding: false })) : null;
    const ifd = wantIfd ? await ifdForBatch(model, renders, main.tokens.map((s) => s.token_loss), bosId) : null;
    const rifd = wantRifd
      ? await rifdForBatch(model, renders.map((r) => getExample(db, r.exampleId).messages as Normalized), p.maxTokens, bosId)
      : null;

    const perExample = new Map<string, Array<[number, number | null]>>();
    const put = (signal: string, id: number, v: number | null) => {
      if (!perExample.has(signal)) perExample.set(signal, []);
      perExample.get(signal)!.push([id, v]);
    };
    db.transaction(() => {
      renders.forEach((r, b) => {
        const s = main.tokens[b]!;
        for (const sig of tokenSignals) insertToken(runId, r.exampleId, sig, toBlob(s[sig]));
        const mean = maskedMean(s.token_loss, r.labelMask);
        if (want.has('mean_loss')) put('mean_loss', r.exampleId, mean);
        if (want.has('ppl')) put('ppl', r.exampleId, mean === null ? null : Math.exp(mean));
        if (refOut) {
          const refLoss = refOut.tokens[b]!.token_loss;
          if (want.has('excess_loss')) insertToken(runId, r.exampleId, 'excess_loss', toBlob(excessLoss(s.token_loss, refLoss)));
          if (want.has('learnability')) put('learnability', r.exampleId, learnability(mean, maskedMean(refLoss, r.labelMask)));
        }
        if (hisOut && wantSs) {
          insertToken(runId, r.exampleId, 'sstoken', toBlob(sstokenFrom(s.token_loss, hisOut.tokens[b]!.token_loss, main.keyAttention![b]!, r.labelMask, gamma)));
        }
        if (ifd) put('ifd', r.exampleId, ifd[b]!);
        if (rifd) put('rifd', r.exampleId, rifd[b]!);
        let response = 0;
        for (let t = 0; t < r.nTokens; t++) if (r.roles[t] === 2) response++;
        if (want.has('response_tokens')) put('response_tokens', r.exampleId, response);
        if (want.has('trainable_tokens')) put('trainable_tokens', r.exampleId, r.nLabel);
        put('length_tokens', r.exampleId, r.nTokens);
      });
      if (main.embeddings) writeExampleVectors(db, runId, 'embedding', renders.map((r, b) => [r.exampleId, main.embeddings![b]!]));
      for (const [signal, values] of perExample) writeExampleSignal(db, runId, signal, values);
      done += batch.length;
      setCursor(runId, done);
    })();
    // the rows' rendered lengths (the ones the plan sorted by), so done + left stays the pending total
    const batchTokens = batch.reduce((a, b) => a + b.n, 0);
    tokensDone += batchTokens;
    tokensLeft -= batchTokens;
    // length buckets go shortest first: time left follows the tokens left, not the examples left (util/eta.ts)
    const rate = etaFromTokens({ examplesDone: done - (total - pending.length), tokensDone, tokensLeft, seconds: (Date.now() - started) / 1000 });
    ctx.progress({
      current: done,
      total,
      message: `scored ${done}/${total}`,
      etaSeconds: rate.etaSeconds,
      stats: { examplesPerSec: Math.round(rate.examplesPerSec * 10) / 10, tokensPerSec: Math.round(rate.tokensPerSec), tokensLeft, runId },
    });
    await new Promise((r) => setImmediate(r));
  }
  const secs = (Date.now() - started) / 1000;
  if (pending.length && secs > 0) {
    // throughput per forward pass over one example: plan.ts multiplies by the number of passes
    recordThroughput(db, 'score_examples_per_sec', (pending.length * passesPerBatch) / secs);
    // and per token, which the plan's estimate uses: long rows cost more than short ones (util/eta.ts)
    if (tokensDone > 0) {
      recordThroughput(db, 'score_tokens_per_sec', (tokensDone * passesPerBatch) / secs);
    }
  }
  return {
    examples: total, tokensPerSec: Math.round(tokensDone / Math.max(secs, 1e-3)),
    examplesPerSec: Math.round((10 * pending.length) / Math.max(secs, 1e-3)) / 10, seconds: Math.round(secs * 10) / 10,
  };
}

/** The answer-only pass of one batch: IFD per render (null where there is no answer to score). */
async function ifdForBatch(model: LoadedModel, renders: StoredRender[], condLoss: Float32Array[], bosId: number | null): Promise<Array<number | null>> {
  const spans = renders.map((r) => answerSpan(r.roles));
  const idx: number[] = [];
  const seqs: Int32Array[] = [];
  spans.forEach((span, b) => {
    if (!span) return;
    const ids = answerOnlyIds(renders[b]!.tokenIds, span, bosId);
    if (ids.length < 2) return;
    idx.push(b);
    seqs.push(ids);
  });
  const out: Array<number | null> = renders.map(() => null);
  if (!seqs.length) return out;
  const alone = await forwardBatch(model, seqs, { entropy: false, rank: false, embedding: false });
  idx.forEach((b, k) => (out[b] = ifdFrom(condLoss[b]!, alone.tokens[k]!.token_loss, spans[b]!, bosId !== null)));
  return out;
}

/**
 * rifd's two passes over one batch: the reverse-prompt renders (Q scored after the response) and Q's tokens after
 * BOS alone. null where the row has no instruction/response pair.
 */
async function rifdForBatch(model: LoadedModel, messages: Normalized[], maxTokens: number, bosId: number | null): Promise<Array<number | null>> {
  const out: Array<number | null> = messages.map(() => null);
  const idx: number[] = [];
  const cond: Int32Array[] = [];
  const alone: Int32Array[] = [];
  const spans: Array<[number, number]> = [];
  messages.forEach((m, b) => {
    const rev = reverseRender(model.tokenizer, m, maxTokens);
    const span = rev ? answerSpan(rev.roles) : null;
    if (!rev || !span) return;
    const ids = answerOnlyIds(rev.tokenIds, span, bosId);
    if (ids.length < 2) return;
    idx.push(b);
    cond.push(rev.tokenIds);
    alone.push(ids);
    spans.push(span);
  });
  if (!idx.length) return out;
  const w = { entropy: false, rank: false, embedding: false };
  // the reverse renders are longer than the rows; keep each pass under the logits budget
  const rows = rowsByMemory(Math.max(...cond.map((c) => c.length)), model.config.vocabSize);
  for (let i = 0; i < idx.length; i += rows) {
    const c = await forwardBatch(model, cond.slice(i, i + rows), w);
    const a = await forwardBatch(model, alone.slice(i, i + rows), w);
    c.tokens.forEach((t, k) => (out[idx[i + k]!] = ifdFrom(t.token_loss, a.tokens[k]!.token_loss, spans[i + k]!, bosId !== null)));
  }
  return out;
}
