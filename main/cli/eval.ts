/**
 * `winnow eval`: one task metric over a data file's rows, with the per-row answers, written as a JSON report.
 *   exact_match  greedy (or sampled) completion of each prompt; its final answer against the reference's
 *                (engine/eval/metrics.ts extractAnswer: --answer-regex, else GSM8K's `#### N`, else the last number)
 *   accuracy     each row's label (its last assistant turn) against the label the model finds most likely after the
 *                prompt, Σ log p over the label's tokens, among --labels or every distinct reference in the file
 *   loss         mean NLL over the rows' last-assistant-turn tokens (text records: every token but BOS), perplexity exp(loss)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { renderExample } from '../engine/data/render';
import { answersMatch, compileAnswerRegex, extractAnswer, lossReport, meanOf, normaliseAnswer } from '../engine/eval/metrics';
import { forward } from '../engine/models/forward';
import { disposeModel, type LoadedModel } from '../engine/models/model';
import { WinnowError } from '../engine/util/errors';
import { generateRows, loadForGeneration, promptTurns, readDataRows, adapterFlag, renderPrompt, shardRows, type SamplingFlags } from './generate';
import { writeOutputShard } from './merge-outputs';

export const METRICS = ['exact_match', 'accuracy', 'loss'] as const;

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

export async function runEvalCommand(o: {
  model: string; adapter?: unknown; data: string; out: string; metric: string; answerRegex?: string; labels?: string;
  format?: string; mapping?: string; skipMalformed?: boolean; maxTokens?: number; flags: SamplingFlags; quiet: boolean; shard?: string;
}): Promise<Record<string, unknown>> {
  const adapter = adapterFlag(o.adapter);
  const metric = o.metric as (typeof METRICS)[number];
  if (!METRICS.includes(metric)) {
    throw new WinnowError('bad_input', `--metric must be one of ${METRICS.join(', ')}${o.metric === 'pass_at_1' ? ' (pass_at_1 is not supported yet)' : ''}, got "${o.metric}"`);
  }
  const re = compileAnswerRegex(o.answerRegex);
  const out = path.resolve(o.out);
  const all = await readDataRows(o.data, { format: o.format, mapping: o.mapping, skipMalformed: o.skipMalformed });
  // --shard: this process's rows (the report's metric is over them; its per-row answers carry their file indices).
  // accuracy's label set stays the whole file's, so every shard chooses among the same labels
  const rows = shardRows(all, o.shard);
  const m = await loadForGeneration(o.model, o.quiet, adapter);
  const modelHash = m.hash;
  let report: Record<string, unknown>;
  // --metric loss with --shard: each row's Σ NLL, added as lossReport adds it, for winnow merge
  let nllSums: Array<[number, number]> | undefined;
  try {
    if (metric === 'exact_match') {
      const withRef = rows.filter((r) => promptTurns(r.norm).reference !== null);
      if (!withRef.length) throw new WinnowError('bad_input', `${path.basename(o.data)}: no row has an assistant turn to take the reference answer from`);
      const per: Array<Record<string, unknown>> = [];
      await generateRows(m, withRef, o.flags, (done) => {
        for (const { row, gen } of done) {
          const refText = promptTurns(row.norm).reference!;
          const reference = (re ? extractAnswer(refText, re) : null) ?? extractAnswer(refText);
          const prediction = extractAnswer(gen.text, re);
          per.push({ index: row.index, completion: gen.text, prediction, reference, correct: answersMatch(prediction, reference), finish_reason: gen.finishReason });
        }
      }, o.quiet);
      report = { metric, exact_match: meanOf(per.map((r) => r.correct as boolean)), n: per.length, rows: per };
    } else if (metric === 'accuracy') {
      const withRef = rows.filter((r) => promptTurns(r.norm).reference !== null);
      if (!withRef.length) throw new WinnowError('bad_input', `${path.basename(o.data)}: no row has an assistant turn to take the label from`);
      const fileLabels = o.labels !== undefined
        ? o.labels.split(',').map((x) => x.trim()).filter(Boolean)
        : [...new Set(all.filter((r) => promptTurns(r.norm).reference !== null && rowChoices(r.record) === null).map((r) => promptTurns(r.norm).reference!.trim()))];
      const per: Array<Record<string, unknown>> = [];
      for (const row of withRef) {
        const choices = rowChoices(row.record);
        const labels = choices ?? fileLabels;
        if (labels.length < 2) throw new WinnowError('bad_input', `accuracy needs at least two labels, found ${labels.length} (give --labels a,b,... or a "choices" list per record)`);
        const reference = choices ? choiceReference(promptTurns(row.norm).reference!, choices) : promptTurns(row.norm).reference!.trim();
        const prompt = renderPrompt(m, row.norm).ids;
        const scores: number[] = [];
        for (const l of labels) {
          const ids = m.tokenizer.encode(l, { addSpecialTokens: false }).ids;
          const nll = await tokenNll(m, [...prompt, ...ids]);
          let s = 0;
          for (let t = prompt.length - 1; t < nll.length; t++) s -= nll[t]!;
          scores.push(s);
        }
        let best = 0;
        scores.forEach((s, i) => {
          if (s > scores[best]!) best = i;
        });
        per.push({ index: row.index, prediction: labels[best], reference, correct: normaliseAnswer(labels[best]!) === normaliseAnswer(reference), logprobs: Object.fromEntries(labels.map((l, i) => [l, scores[i]])) });
        if (!o.quiet && per.length % 20 === 0) process.stderr.write(`[eval] ${per.length}/${withRef.length}\n`);
      }
      const labels = fileLabels;
      report = { metric, accuracy: meanOf(per.map((r) => r.correct as boolean)), n: per.length, labels, rows: per };
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
      nllSums = rows.flatMap((r, i) => (nlls[i]!.length ? [[r.index, nlls[i]!.reduce((a, x) => a + x, 0)] as [number, number]] : []));
      report = {
        metric, loss: rep.loss, perplexity: rep.perplexity, tokens: rep.tokens, n: rows.length,
        rows: rows.map((r, i) => ({ index: r.index, loss: rep.rowLoss[i], tokens: nlls[i]!.length })),
      };
    }
  } finally {
    disposeModel(m);
  }
  if (o.shard !== undefined) report = { ...report, shard: o.shard, fileRows: all.length };
  // the report says which adapter its numbers were computed with
  if (adapter) report = { ...report, adapter };
  fs.writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
  const result = o.shard === undefined ? undefined : writeOutputShard('eval', {
    out, data: o.data, shard: o.shard, allRows: all, rows, model: { path: o.model, hash: modelHash }, nllSums,
    options: { metric, answerRegex: o.answerRegex, labels: o.labels, maxTokens: o.maxTokens, flags: o.flags, format: o.format, mapping: o.mapping, skipMalformed: o.skipMalformed },
  });
  const { rows: _rows, ...summary } = report;
  void _rows;
  return { out, ...summary, ...(result ? { result } : {}) };
}
