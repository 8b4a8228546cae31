/**
 * `winnow eval`: one task metric over a data file's rows, with the per-row answers, written as a JSON report. The
 * metrics themselves are the engine's (engine/eval/run.ts), shared with the WiSE-FT sweep and the app's eval jobs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkMetric, evaluateRows, PASS_AT_1_REFUSAL } from '../../engine/eval/run';
import type { CodeLimits } from '../../engine/eval/code-exec';
import { disposeModel } from '../../engine/models/model';
import { WinnowError } from '../../engine/util/errors';
import { loadForGeneration, readDataRows, adapterFlag, shardRows, type SamplingFlags } from './generate';
import { writeOutputShard } from './merge-outputs';
import { codeLimits, need, num, samplingFlags } from '../flags';
import type { CommandContext } from '../session';

export { choiceReference, METRICS, rowChoices, tokenNll } from '../../engine/eval/run';

export async function runEvalCommand(o: {
  model: string; adapter?: unknown; data: string; out: string; metric: string; answerRegex?: string; labels?: string;
  format?: string; mapping?: string; skipMalformed?: boolean; maxTokens?: number; flags: SamplingFlags; quiet: boolean; shard?: string;
  allowCodeExecution?: boolean; codeLimits?: Partial<CodeLimits>;
}): Promise<Record<string, unknown>> {
  const adapter = adapterFlag(o.adapter);
  const metric = checkMetric(o.metric);
  // refused before the data is read or a model loaded
  if (metric === 'pass_at_1' && !o.allowCodeExecution) throw new WinnowError('bad_input', PASS_AT_1_REFUSAL);
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
    report = await evaluateRows(m, rows, all, {
      metric, dataName: path.basename(o.data), answerRegex: o.answerRegex, labels: o.labels, maxTokens: o.maxTokens, flags: o.flags,
      quiet: o.quiet, allowCodeExecution: o.allowCodeExecution, codeLimits: o.codeLimits,
      onNllSums: (sums) => {
        nllSums = sums;
      },
    });
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

/** `winnow eval --model DIR --data FILE --metric M --out report.json`: the flags as runEvalCommand's options. */
export async function evalCommand({ o, quiet }: CommandContext): Promise<unknown> {
  return runEvalCommand({
    model: need(o, 'model'), adapter: o.adapter, data: need(o, 'data'), out: need(o, 'out'), metric: need(o, 'metric'),
    answerRegex: o['answer-regex'] as string | undefined, labels: o.labels as string | undefined,
    format: o.format as string | undefined, mapping: o.mapping as string | undefined, skipMalformed: !!o['skip-malformed'],
    maxTokens: num(o['max-tokens'], 'max-tokens'), flags: samplingFlags(o, 256), quiet, shard: o.shard as string | undefined,
    allowCodeExecution: !!o['allow-code-execution'], codeLimits: codeLimits(o),
  });
}
