/**
 * `winnow wise`: write the WiSE-FT model θ(α) = (1−α)·θ_base + α·θ_tuned (engine/models/wise.ts), and with --project
 * register it there as a new model. `winnow wise-sweep`: the forgetting/accuracy curve, one eval per α
 * (engine/eval/wise-sweep.ts), written as curve.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../engine/compute/backend';
import { checkMetric, PASS_AT_1_REFUSAL } from '../../engine/eval/run';
import { parseAlphas, wiseSweep } from '../../engine/eval/wise-sweep';
import type { CodeLimits } from '../../engine/eval/code-exec';
import { checkAlpha, writeWiseModel } from '../../engine/models/wise';
import { WinnowError } from '../../engine/util/errors';
import { readDataRows, shardRows, type SamplingFlags } from './generate';
import { codeLimits, need, num, samplingFlags } from '../flags';
import { withSession, type CommandContext } from '../session';

export function runWiseCommand(o: { base: string; tuned: string; alpha: string; out: string; overwrite?: boolean }): Record<string, unknown> {
  return { ...writeWiseModel(o.base, o.tuned, checkAlpha(o.alpha), o.out, { overwrite: o.overwrite }) };
}

export async function runWiseSweepCommand(o: {
  base: string; tuned: string; alphas: string; data: string; metric: string; out: string; keepModels?: string;
  answerRegex?: string; labels?: string; format?: string; mapping?: string; skipMalformed?: boolean; maxTokens?: number;
  flags: SamplingFlags; quiet: boolean; shard?: string; allowCodeExecution?: boolean; codeLimits?: Partial<CodeLimits>;
}): Promise<Record<string, unknown>> {
  const alphas = parseAlphas(o.alphas);
  const metric = checkMetric(o.metric);
  if (metric === 'pass_at_1' && !o.allowCodeExecution) throw new WinnowError('bad_input', PASS_AT_1_REFUSAL);
  const out = path.resolve(o.out);
  const rows = shardRows(await readDataRows(o.data, { format: o.format, mapping: o.mapping, skipMalformed: o.skipMalformed }), o.shard);
  const b = await initBackend();
  if (!o.quiet) process.stderr.write(`backend: ${b.name} (${b.reason})\n`);
  const curve = await wiseSweep({
    base: o.base, tuned: o.tuned, alphas, rows, keepModels: o.keepModels,
    eval: {
      metric, dataName: path.basename(o.data), answerRegex: o.answerRegex, labels: o.labels, maxTokens: o.maxTokens, flags: o.flags,
      quiet: o.quiet, allowCodeExecution: o.allowCodeExecution, codeLimits: o.codeLimits,
    },
    onPoint: (p) => {
      if (!o.quiet) process.stderr.write(`[wise] α=${p.alpha}: ${metric} ${p.value ?? 'n/a'}\n`);
    },
  });
  const { rowsPerAlpha, ...summary } = curve;
  // the curve, then each α's per-row answers (the eval report's rows) so a point can be checked row by row
  const report = { ...summary, data: path.resolve(o.data), n: rows.length, ...(o.shard !== undefined ? { shard: o.shard } : {}), rows: Object.fromEntries(alphas.map((a, i) => [String(a), rowsPerAlpha[i]])) };
  fs.writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
  return { out, metric, points: summary.points.map((p) => ({ alpha: p.alpha, value: p.value })), best: summary.best };
}

/** `winnow wise --base DIR --tuned DIR --alpha A --out DIR`; with --project P the model is registered there too. */
export async function wiseCommand({ o, quiet }: CommandContext): Promise<unknown> {
  const r = runWiseCommand({ base: need(o, 'base'), tuned: need(o, 'tuned'), alpha: need(o, 'alpha'), out: need(o, 'out'), overwrite: !!o.overwrite });
  if (typeof o.project !== 'string') return r;
  // --project: registered there as a model of its own, to score and evaluate
  return withSession(o.project, quiet, async (s) => {
    const m = await s.call('models.add', { path: r.out as string });
    return { ...r, modelId: m.id };
  });
}

/** `winnow wise-sweep`: the flags as runWiseSweepCommand's options (eval's flags, for every alpha). */
export async function wiseSweepCommand({ o, quiet }: CommandContext): Promise<unknown> {
  return runWiseSweepCommand({
    base: need(o, 'base'), tuned: need(o, 'tuned'), alphas: need(o, 'alphas'), data: need(o, 'data'), metric: need(o, 'metric'),
    out: need(o, 'out'), keepModels: o['keep-models'] as string | undefined,
    answerRegex: o['answer-regex'] as string | undefined, labels: o.labels as string | undefined,
    format: o.format as string | undefined, mapping: o.mapping as string | undefined, skipMalformed: !!o['skip-malformed'],
    maxTokens: num(o['max-tokens'], 'max-tokens'), flags: samplingFlags(o, 256), quiet, shard: o.shard as string | undefined,
    allowCodeExecution: !!o['allow-code-execution'], codeLimits: codeLimits(o),
  });
}
