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
import { renderExample } from '../engine/data/render';
import { answersMatch, compileAnswerRegex, extractAnswer, lossReport, meanOf, normaliseAnswer } from '../engine/eval/metrics';
import { choiceReference, pickLabel, promptTurns, renderPrompt, rowChoices, tokenNll } from '../engine/eval/prompt';
import { disposeModel } from '../engine/models/model';
import { WinnowError } from '../engine/util/errors';
import { generateRows, loadForGeneration, readDataRows, refuseAdapter, shardRows, type SamplingFlags } from './generate';

export const METRICS = ['exact_match', 'accuracy', 'loss'] as const;

export { tokenNll, rowChoices, choiceReference } from '../engine/eval/prompt';

export async function runEvalCommand(o: {
  model: string; adapter?: unknown; data: string; out: string; metric: string; answerRegex?: string; labels?: string;
  format?: string; mapping?: string; skipMalformed?: boolean; maxTokens?: number; flags: SamplingFlags; quiet: boolean; shard?: string;
}): Promise<Record<string, unknown>> {
  refuseAdapter(o.adapter);
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
  const m = await loadForGeneration(o.model, o.quiet);
  let report: Record<string, unknown>;
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
        const pick = await pickLabel(m, prompt, labels);
        per.push({ index: row.index, prediction: pick.label, reference, correct: normaliseAnswer(pick.label) === normaliseAnswer(reference), logprobs: pick.logprobs });
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
      report = {
        metric, loss: rep.loss, perplexity: rep.perplexity, tokens: rep.tokens, n: rows.length,
        rows: rows.map((r, i) => ({ index: r.index, loss: rep.rowLoss[i], tokens: nlls[i]!.length })),
      };
    }
  } finally {
    disposeModel(m);
  }
  if (o.shard !== undefined) report = { ...report, shard: o.shard, fileRows: all.length };
  fs.writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
  const { rows: _rows, ...summary } = report;
  void _rows;
  return { out, ...summary };
}
