/**
 * One task metric over rows, with the per-row answers: the engine side of `winnow eval`, the WiSE-FT sweep and the
 * app's eval jobs (a report's fields are the CLI's report format; callers add fields, never rename them).
 *   exact_match  greedy (or sampled) completion of each prompt; its final answer against the reference's
 *                (metrics.ts extractAnswer: --answer-regex, else GSM8K's `#### N`, else the last number)
 *   accuracy     each row's label (its last assistant turn) against the label the model finds most likely after the
 *                prompt, Σ log p over the label's tokens, among --labels or every distinct reference in the file
 *   pass_at_1    one completion per code record that ships tests, run with the tests in a sandboxed child process
 *                (code-exec.ts), only when the caller opts in
 *   loss         mean NLL over the rows' last-assistant-turn tokens (text records: every token but BOS), perplexity exp(loss)
 */
import * as tf from '@tensorflow/tfjs';
import { renderExample } from '../data/render';
import { forward } from '../models/forward';
import type { LoadedModel } from '../models/model';
import { WinnowError } from '../util/errors';
import { answersMatch, compileAnswerRegex, extractAnswer, lossReport, meanOf, normaliseAnswer } from './metrics';
import { generateRows, promptTurns, renderPrompt, type DataRow, type SamplingFlags } from './rows';
import { completionProgram, DEFAULT_CODE_LIMITS, recordTests, runCodeTests, type CodeLimits } from './code-exec';

export const PASS_AT_1_REFUSAL = 'pass_at_1 runs the model\'s code on this machine; it runs only when you allow it with --allow-code-execution (the allowCodeExecution option for an eval job). Read docs/security-reliability.md first';

export const METRICS = ['exact_match', 'accuracy', 'pass_at_1', 'loss'] as const;
export type Metric = (typeof METRICS)[number];

/** −log p(ids[t+1] | ids[..t]) for t = 0..T-2 */
export async function tokenNll(m: LoadedModel, ids: number[]): Promise<Float32Array> {
  const T = ids.length;
  if (T < 2) return new Float32Array(0);
  const picked = tf.tidy(() => {
    const logits = forward(m.config, m.weights, tf.tensor2d([ids], [1, T], 'int32'));
    const logp = tf.logSoftmax(tf.reshape(tf.slice(logits, [0, 0, 0], [1, T - 1, m.config.vocabSize]), [T - 1, m.config.vocabSize]));
    const flat = Int32Array.from({ length: T - 1 }, (_, t) => t * m.config.vocabSize + ids[t + 1]!);
    return tf.neg(tf.gather(tf.reshape(logp, [-1]), tf.tensor1d(flat, 'int32')));
  });
  const out = (await picked.data()) as Float32Array;
  picked.dispose();
  return out;
}

/** a multiple-choice record's options: its "choices" (or "options") list of strings, else null */
export function rowChoices(record: Record<string, unknown>): string[] | null {
  const c = record.choices ?? record.options;
  return Array.isArray(c) && c.length >= 2 && c.every((x) => typeof x === 'string') ? (c as string[]) : null;
}

/** the reference of a multiple-choice row: a choice's text, its 0-based index, or its letter (A, B, …) */
export function choiceReference(answer: string, choices: string[]): string {
  const a = answer.trim();
  const byText = choices.find((c) => normaliseAnswer(c) === normaliseAnswer(a));
  if (byText !== undefined) return byText;
  if (/^\d+$/.test(a) && Number(a) < choices.length) return choices[Number(a)]!;
  const letter = /^\(?([A-Za-z])\)?[.:]?$/.exec(a);
  if (letter) {
    const i = letter[1]!.toUpperCase().charCodeAt(0) - 65;
    if (i < choices.length) return choices[i]!;
  }
  return a;
}

/**
 * The label the model finds most likely after the prompt: Σ log p over each label's tokens. Returns the label and
 * every label's score.
 */
export async function pickLabel(m: LoadedModel, promptIds: number[], labels: string[]): Promise<{ label: string; logprobs: Record<string, number> }> {
  const scores: number[] = [];
  for (const l of labels) {
    const ids = m.tokenizer.encode(l, { addSpecialTokens: false }).ids;
    const nll = await tokenNll(m, [...promptIds, ...ids]);
    let s = 0;
    for (let t = promptIds.length - 1; t < nll.length; t++) s -= nll[t]!;
    scores.push(s);
  }
  let best = 0;
  scores.forEach((s, i) => {
    if (s > scores[best]!) best = i;
  });
  return { label: labels[best]!, logprobs: Object.fromEntries(labels.map((l, i) => [l, scores[i]!])) };
}

export interface EvalOptions {
  metric: string;
  /** the data file's name, for messages */
  dataName: string;
  answerRegex?: string;
  /** accuracy's label set, comma-separated (default: every distinct reference in `all`) */
  labels?: string;
  maxTokens?: number;
  flags: SamplingFlags;
  quiet: boolean;
  /** pass_at_1 refuses without it */
  allowCodeExecution?: boolean;
  codeLimits?: Partial<CodeLimits>;
  checkCancel?: () => void;
  /** loss: each row's exact Σ NLL as [file index, sum] (a `--shard` run keeps them for winnow merge) */
  onNllSums?: (sums: Array<[number, number]>) => void;
}

/** Check a metric name (before any model is loaded). */
export function checkMetric(metric: string): Metric {
  if (!METRICS.includes(metric as Metric)) throw new WinnowError('bad_input', `--metric must be one of ${METRICS.join(', ')}, got "${metric}"`);
  return metric as Metric;
}

/** The report of `o.metric` over `rows` (`all`: the whole file, for accuracy's label set when rows is a shard). */
export async function evaluateRows(m: LoadedModel, rows: DataRow[], all: DataRow[], o: EvalOptions): Promise<Record<string, unknown>> {
  const metric = checkMetric(o.metric);
  const re = compileAnswerRegex(o.answerRegex);
  let report: Record<string, unknown>;
  if (metric === 'exact_match') {
    const withRef = rows.filter((r) => promptTurns(r.norm).reference !== null);
    if (!withRef.length) throw new WinnowError('bad_input', `${o.dataName}: no row has an assistant turn to take the reference answer from`);
    const per: Array<Record<string, unknown>> = [];
    await generateRows(m, withRef, o.flags, (done) => {
      for (const { row, gen } of done) {
        const refText = promptTurns(row.norm).reference!;
        const reference = (re ? extractAnswer(refText, re) : null) ?? extractAnswer(refText);
        const prediction = extractAnswer(gen.text, re);
        per.push({ index: row.index, completion: gen.text, prediction, reference, correct: answersMatch(prediction, reference), finish_reason: gen.finishReason });
      }
    }, o.quiet, o.checkCancel);
    report = { metric, exact_match: meanOf(per.map((r) => r.correct as boolean)), n: per.length, rows: per };
  } else if (metric === 'accuracy') {
    const withRef = rows.filter((r) => promptTurns(r.norm).reference !== null);
    if (!withRef.length) throw new WinnowError('bad_input', `${o.dataName}: no row has an assistant turn to take the label from`);
    const fileLabels = o.labels !== undefined
      ? o.labels.split(',').map((x) => x.trim()).filter(Boolean)
      : [...new Set(all.filter((r) => promptTurns(r.norm).reference !== null && rowChoices(r.record) === null).map((r) => promptTurns(r.norm).reference!.trim()))];
    const per: Array<Record<string, unknown>> = [];
    for (const row of withRef) {
      const choices = rowChoices(row.record);
      const labels = choices ?? fileLabels;
      if (labels.length < 2) throw new WinnowError('bad_input', `accuracy needs at least two labels, found ${labels.length} (give --labels a,b,... or a "choices" list per record)`);
      const reference = choices ? choiceReference(promptTurns(row.norm).reference!, choices) : promptTurns(row.norm).reference!.trim();
      const picked = await pickLabel(m, renderPrompt(m, row.norm).ids, labels);
      per.push({ index: row.index, prediction: picked.label, reference, correct: normaliseAnswer(picked.label) === normaliseAnswer(reference), logprobs: picked.logprobs });
      if (!o.quiet && per.length % 20 === 0) process.stderr.write(`[eval] ${per.length}/${withRef.length}\n`);
    }
    const labels = fileLabels;
    report = { metric, accuracy: meanOf(per.map((r) => r.correct as boolean)), n: per.length, labels, rows: per };
  } else if (metric === 'pass_at_1') {
    if (!o.allowCodeExecution) throw new WinnowError('bad_input', PASS_AT_1_REFUSAL);
    const withTests = rows.filter((r) => recordTests(r.record) !== null);
    if (!withTests.length) throw new WinnowError('bad_input', `${o.dataName}: no row ships tests (a "test" with "entry_point", or a "test_list" of asserts)`);
    const limits = { ...DEFAULT_CODE_LIMITS, ...o.codeLimits };
    const done: Array<{ row: DataRow; text: string; finishReason: string }> = [];
    await generateRows(m, withTests, o.flags, (batch) => {
      for (const { row, gen } of batch) done.push({ row, text: gen.text, finishReason: gen.finishReason });
    }, o.quiet, o.checkCancel);
    const per: Array<Record<string, unknown>> = [];
    for (const { row, text, finishReason } of done) {
      o.checkCancel?.();
      const res = await runCodeTests(completionProgram(row.record, text), recordTests(row.record)!, limits);
      per.push({ index: row.index, completion: text, passed: res.passed, status: res.status, detail: res.detail, finish_reason: finishReason });
    }
    report = {
      metric, pass_at_1: meanOf(per.map((r) => r.passed as boolean)), n: per.length,
      limits: { timeout_s: limits.timeoutS, memory_mb: limits.memoryMb, python: limits.python }, rows: per,
    };
  } else {
    const nlls: number[][] = [];
    for (const row of rows) {
      const r = renderExample(m.tokenizer, row.norm, { labelPolicy: 'last_assistant', maxTokens: o.maxTokens ?? m.config.maxPositions });
      const ids = Array.from(r.tokenIds);
      const nll = await tokenNll(m, ids);
      const mine: number[] = [];
      for (let t = 1; t < ids.length; t++) if (r.labelMask[t]) mine.push(nll[t - 1]!);
      nlls.push(mine);
    }
    const rep = lossReport(nlls);
    o.onNllSums?.(rows.flatMap((r, i) => (nlls[i]!.length ? [[r.index, nlls[i]!.reduce((a, x) => a + x, 0)] as [number, number]] : [])));
    report = {
      metric, loss: rep.loss, perplexity: rep.perplexity, tokens: rep.tokens, n: rows.length,
      rows: rows.map((r, i) => ({ index: r.index, loss: rep.rowLoss[i], tokens: nlls[i]!.length })),
    };
  }
  return report;
}
