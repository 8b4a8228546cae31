/**
 * The `generate` and `eval` jobs: one model (a base, a train run's merged model, or a base + a LoRA adapter) on a
 * held-out set (a subset's rows, or a data file), row by row:
 * - the completion of each prompt (generate always; eval when exact_match is asked), and its final answer against the
 *   reference's (metrics.ts extractAnswer: the run's answer regex, else GSM8K's `#### N`, else the last number);
 * - accuracy: the label the model finds most likely after the prompt, among the record's choices or the set's labels;
 * - the loss of each token of the reference conversation (the Playground colours the reference answer by it) and the
 *   token-weighted loss and perplexity over the answer tokens.
 * Rows are saved in eval_rows per finished batch, so a cancelled or crashed job resumes after the last saved batch and
 * ends with the same rows as a straight run (greedy decoding is deterministic; sampling draws per row index). The
 * metrics are computed from the saved rows when the last one is in (metricsOf), and stored with the run.
 */
import type { Db } from '../db/open';
import { openProjectDb } from '../db/open';
import { evalRowTotals, evalRowWriter, evalRunForJob, markEvalRunDone, markEvalRunRunning, savedEvalRowIndexes, setEvalRunStatus, subsetExamplesForEval, type EvalRunJobRowDb, type NewEvalRow } from '../db/eval-runs';
import { renderExample } from '../data/render';
import { messagesReader } from '../data/examples';
import type { Normalized } from '../data/formats';
import { eosIds, generate } from '../models/generate';
import { disposeModel, loadModel, type LoadedModel } from '../models/model';
import { applyAdapterFolder } from '../models/lora';
import { WinnowError } from '../util/errors';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import { answersMatch, compileAnswerRegex, extractAnswer, normaliseAnswer } from './metrics';
import { choiceReference, generationConfigEos, pickLabel, promptTurns, readDataRows, renderPrompt, rowChoices, tokenNll } from './prompt';

export type EvalMetric = 'exact_match' | 'accuracy' | 'loss';

/** What an eval run was asked (eval_runs.params_json). */
export interface EvalParams {
  metrics: EvalMetric[];
  answerRegex?: string;
  /** accuracy: the labels to choose among (default: every distinct reference of the set's rows without choices) */
  labels?: string[];
  maxNewTokens: number;
  temperature?: number;
  seed?: number;
  batchSize: number;
  /** the reference render's token limit (loss) */
  maxTokens: number;
  /** the first N rows of the subset or file */
  limit?: number;
}

export interface EvalMetrics {
  n: number;
  exact_match: number | null;
  accuracy: number | null;
  loss: number | null;
  perplexity: number | null;
  /** answer tokens the loss is over */
  tokens: number;
}

interface HeldOutRow {
  index: number;
  exampleId: number | null;
  record: Record<string, unknown>;
  norm: Normalized;
}

/** The held-out rows of a run: its subset's examples in id order, or its data file's records; the first `limit`. */
export async function heldOutRows(db: Db, run: { subsetId: number | null; dataPath: string | null; limit?: number }): Promise<HeldOutRow[]> {
  let rows: HeldOutRow[];
  if (run.subsetId !== null) {
    const read = messagesReader(db);
    const ex = subsetExamplesForEval(db, run.subsetId, run.limit);
    rows = ex.map((e, i) => ({ index: i, exampleId: e.id, record: JSON.parse(e.rawJson) as Record<string, unknown>, norm: read(e) }));
  } else if (run.dataPath !== null) {
    rows = (await readDataRows(run.dataPath)).slice(0, run.limit ?? Infinity).map((r) => ({ index: r.index, exampleId: null, record: r.record, norm: r.norm }));
  } else {
    throw new WinnowError('bad_input', 'an evaluation needs held-out rows: a subset or a data file');
  }
  if (!rows.length) throw new WinnowError('bad_input', 'the held-out set has no rows');
  return rows;
}

/**
 * The metrics of the saved rows: exact_match and accuracy are the share of rows checked that were right (null when
 * none was checked); loss is Σ token NLL / Σ answer tokens over every row (token-weighted), perplexity exp(loss).
 */
export function metricsOf(db: Db, evalRunId: number): EvalMetrics {
  const r = evalRowTotals(db, evalRunId);
  const loss = r.t ? r.s! / r.t : null;
  return { n: r.n, exact_match: r.em, accuracy: r.acc, loss, perplexity: loss === null ? null : Math.exp(loss), tokens: r.t ?? 0 };
}

async function loadEvalModel(run: EvalRunJobRowDb): Promise<LoadedModel> {
  const m = await loadModel(run.model_path);
  if (run.adapter_path) applyAdapterFolder(m, run.adapter_path);
  return m;
}

export async function runEvalJob(ctx: JobContext): Promise<JobOutcome> {
  const { evalRunId } = jobParams('eval', ctx);
  const db = openProjectDb(ctx.dbPath);
  let m: LoadedModel | null = null;
  try {
    const run = evalRunForJob(db, evalRunId);
    if (!run) throw new WinnowError('not_found', `evaluation run ${evalRunId} not found`);
    const p = JSON.parse(run.params_json) as EvalParams;
    const re = compileAnswerRegex(p.answerRegex);
    const rows = await heldOutRows(db, { subsetId: run.subset_id, dataPath: run.data_path, limit: p.limit });
    markEvalRunRunning(db, evalRunId, ctx.jobId, rows.length);
    const done = new Set(savedEvalRowIndexes(db, evalRunId));
    const todo = rows.filter((r) => !done.has(r.index));
    const generates = run.kind === 'generate' || p.metrics.includes('exact_match');
    const accuracy = p.metrics.includes('accuracy');
    const setLabels = p.labels ?? [...new Set(rows.filter((r) => rowChoices(r.record) === null).map((r) => promptTurns(r.norm).reference?.trim()).filter((x): x is string => !!x))];
    m = await loadEvalModel(run);
    const eos = eosIds(m.config, m.tokenizer, generationConfigEos(m.dir));
    const save = evalRowWriter(db, evalRunId);
    let finished = done.size;
    ctx.progress({ current: finished, total: rows.length, message: `${finished} of ${rows.length} rows` });
    for (let at = 0; at < todo.length; at += p.batchSize) {
      if (ctx.isCancelled()) throw new WinnowError('cancelled', `stopped after ${finished} of ${rows.length} rows (saved); resume to finish`);
      const part = todo.slice(at, at + p.batchSize);
      const prompts = part.map((r) => renderPrompt(m!, r.norm));
      const gens = generates
        ? await generate(m, prompts.map((x) => x.ids), {
          maxNewTokens: p.maxNewTokens, temperature: p.temperature, seed: p.seed, eosIds: eos, batchSize: p.batchSize, indices: part.map((r) => r.index),
        })
        : null;
      const out: NewEvalRow[] = [];
      for (let i = 0; i < part.length; i++) {
        const row = part[i]!;
        const refText = promptTurns(row.norm).reference;
        const completion = gens ? gens[i]!.text : null;
        let prediction: string | null = null;
        let refAnswer: string | null = null;
        let correct: number | null = null;
        if (gens && p.metrics.includes('exact_match') && refText !== null) {
          refAnswer = (re ? extractAnswer(refText, re) : null) ?? extractAnswer(refText);
          prediction = extractAnswer(completion!, re);
          correct = answersMatch(prediction, refAnswer) ? 1 : 0;
        }
        let labelPrediction: string | null = null;
        let labelCorrect: number | null = null;
        if (accuracy && refText !== null) {
          const choices = rowChoices(row.record);
          const labels = choices ?? setLabels;
          if (labels.length >= 2) {
            const reference = choices ? choiceReference(refText, choices) : refText.trim();
            labelPrediction = (await pickLabel(m, prompts[i]!.ids, labels)).label;
            labelCorrect = normaliseAnswer(labelPrediction) === normaliseAnswer(reference) ? 1 : 0;
          }
        }
        // the reference conversation's tokens, each with the loss of predicting it (NaN for the first: nothing predicts it)
        const r = renderExample(m.tokenizer, row.norm, { labelPolicy: 'last_assistant', maxTokens: Math.min(p.maxTokens, m.config.maxPositions) });
        const ids = Array.from(r.tokenIds);
        const nll = await tokenNll(m, ids);
        const loss = new Float32Array(ids.length).fill(NaN);
        let sum = 0;
        let n = 0;
        for (let t = 1; t < ids.length; t++) {
          loss[t] = nll[t - 1]!;
          if (r.labelMask[t]) {
            sum += nll[t - 1]!;
            n++;
          }
        }
        const texts = ids.map((_, t) => r.text.slice(r.offsets[2 * t]!, r.offsets[2 * t + 1]!));
        out.push({
          rowIndex: row.index, exampleId: row.exampleId, prompt: prompts[i]!.text, reference: refText, completion, finishReason: gens ? gens[i]!.finishReason : null,
          prediction, referenceAnswer: refAnswer, correct, labelPrediction, labelCorrect, tokenTexts: texts, labelMask: r.labelMask, tokenLoss: loss, lossSum: sum, lossTokens: n,
        });
      }
      db.transaction(() => {
        for (const o of out) save(o);
      })();
      finished += part.length;
      ctx.progress({ current: finished, total: rows.length, message: `${finished} of ${rows.length} rows` });
    }
    const metrics = metricsOf(db, evalRunId);
    markEvalRunDone(db, evalRunId, metrics);
    const stats: Record<string, number | string> = { evalRunId, rows: metrics.n };
    for (const k of ['exact_match', 'accuracy', 'loss', 'perplexity'] as const) if (metrics[k] !== null) stats[k] = metrics[k];
    const shown = (['exact_match', 'accuracy', 'perplexity'] as const).filter((k) => metrics[k] !== null).map((k) => `${k} ${metrics[k]!.toFixed(3)}`);
    return { stats, message: `${run.kind === 'generate' ? 'generated' : 'evaluated'} ${metrics.n} rows${shown.length ? ': ' + shown.join(', ') : ''}` };
  } catch (err) {
    const status = err instanceof WinnowError && err.code === 'cancelled' ? 'cancelled' : 'failed';
    setEvalRunStatus(db, evalRunId, status);
    throw err;
  } finally {
    if (m) disposeModel(m);
    db.close();
  }
}
