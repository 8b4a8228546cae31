/**
 * `winnow score`: one scoring run over --data FILE or --project P's rows, its values written to --out as JSONL
 * (score-output.ts). With --shard I/N the run scores this process's 1/N of the file's rows in a temporary project and
 * writes OUT.shard.json beside OUT for `winnow merge`.
 */
import { resolve } from 'node:path';
import { WinnowError } from '../../engine/util/errors';
import { withDuplicateCompanions } from '../../engine/data/duplicates';
import { createSubset, findSubsetByName } from '../../engine/selection/subsets';
import { assertShardable, parseShardSpec, rowsOfShard, writeShardResult, type ShardSpec } from '../../engine/scoring/shard';
import type { Db } from '../../engine/db';
import type { ApiInput, RowScope } from '../../../preload/contract';
import { loraFlags, need, num, positiveInt, type Opts } from '../flags';
import { backendLine, importTargetData, withData, withSession, type CommandContext, type Session } from '../session';
import { writeScoresJsonl } from './score-output';

export async function scoreCommand({ o, quiet }: CommandContext): Promise<unknown> {
  const shard = shardFlag(o);
  return withSession(o.project as string | undefined, quiet, async (s) => {
    await backendLine(quiet);
    const modelId = await s.model(need(o, 'model'));
    const refModelId = typeof o['ref-model'] === 'string' ? await s.model(o['ref-model']) : undefined;
    const historyModelId = typeof o['history-model'] === 'string' ? await s.model(o['history-model']) : undefined;
    const { datasetId, subsetId } = await withData(s, o);
    const rows = scoreRows(o, subsetId);
    const signals = need(o, 'signals').split(',').map((x) => x.trim()).filter(Boolean);
    const less = signals.includes('grad_sim');
    const { targetSubsetId, targetSubsetIds, targetDatasetId } = await targetSets(s, o, less);
    const db = s.service.current().db;
    const shardRows = shard ? rowsOfShard(db, datasetId!, shard) : undefined;
    const onlySubsetId = shard ? shardSubset(db, shard, shardRows!.map((r) => r.exampleId)) : undefined;
    const lessWarmup = lessFlags(o, less);
    const started = await s.call('scoring.start', {
      modelId, refModelId, historyModelId, datasetId, signals, onlySubsetId, lessRunId: num(o['less-run'], 'less-run'), lessWarmup, targetSubsetIds,
      targetColumn: o['target-column'] as string | undefined,
      batchSize: num(o.batch, 'batch') ?? 8,
      maxTokens: num(o['max-tokens'], 'max-tokens') ?? 512,
      fimExamples: num(o['fim-examples'], 'fim-examples'),
      fimLoss: fimLossFlag(o['fim-loss']),
      seed: num(o.seed, 'seed'),
      gradLayers: o['grad-layers'] as string | undefined,
      gradDim: num(o['grad-dim'], 'grad-dim'),
      targetSubsetId,
      sstokenGamma: num(o.gamma, 'gamma'),
      adapterPath: typeof o.adapter === 'string' ? resolve(o.adapter) : undefined,
      rows,
    });
    const { jobId, plan } = started;
    const lessRunId = started.lessRunId ?? num(o['less-run'], 'less-run');
    const job = await s.job(jobId);
    const out = resolve(need(o, 'out'));
    // exact_dup / near_dup come with their size and rank columns (the run recorded them all)
    const written = writeScoresJsonl(db, {
      runId: Number(job.stats.runId), datasetId, rows, signals: withDuplicateCompanions(signals), out, onlyExampleIds: shardRows && new Set(shardRows.map((r) => r.exampleId)),
    });
    const shardFile = shard
      ? writeShardResult(db, { runId: Number(job.stats.runId), datasetId: datasetId!, shard, rows: shardRows!, scoresOut: out, targetDatasetId })
      : undefined;
    return {
      out, rows: written.rows, errors: written.errors, runId: job.stats.runId, scope: plan.rows, plan, tokensPerSec: job.stats.tokensPerSec, ...(lessRunId !== undefined ? { lessRunId } : {}),
      ...(shard ? { shard: `${shard.index}/${shard.count}`, result: shardFile } : {}),
    };
  });
}

/** --shard I/N, refused before any work: a shard scores in a temporary project of its own, and what it scores must add up. */
function shardFlag(o: Opts): ShardSpec | undefined {
  const shard = typeof o.shard === 'string' ? parseShardSpec(o.shard) : undefined;
  if (shard) {
    if (typeof o.project === 'string') throw new WinnowError('bad_input', '--shard scores a --data FILE in a temporary project; put the shards into a project with winnow merge … --project P');
    if (typeof o.data !== 'string') throw new WinnowError('bad_input', '--shard needs --data FILE (the file every shard splits the same way)');
    if (o.sample !== undefined) throw new WinnowError('bad_input', '--shard and --sample together are not supported: a shard already scores its own 1/N of the rows (sample the file first, then shard it)');
    assertShardable(need(o, 'signals').split(',').map((x) => x.trim()), { subset: o['target-subset'] as string | undefined, data: o['target-data'] as string | undefined });
  }
  return shard;
}

/** score's rows: --subset NAME (a project's subset) or --sample N [--seed S]; neither: every row. */
function scoreRows(o: Opts, subsetId: number | null): RowScope | undefined {
  if (typeof o.sample === 'string') {
    if (typeof o.subset === 'string') throw new WinnowError('bad_input', 'give --subset NAME or --sample N, not both');
    return { kind: 'sample', n: positiveInt(o.sample, 'sample'), seed: num(o.seed, 'seed') ?? 0 };
  }
  if (typeof o.subset === 'string') {
    if (subsetId === null) throw new WinnowError('bad_input', '--subset NAME scores a subset of a project: give --project P (not --data FILE)');
    return { kind: 'subset', subsetId };
  }
  return undefined;
}

/** grad_sim's target set: a subset of the project (for LESS one subset per subtask), or a file imported as a dataset of its own. */
async function targetSets(s: Session, o: Opts, less: boolean): Promise<{ targetSubsetId?: number; targetSubsetIds?: number[]; targetDatasetId?: number }> {
  if (typeof o['target-subset'] === 'string' && less) {
    // LESS's subtasks: one subset each
    return { targetSubsetIds: o['target-subset'].split(',').map((n) => findSubsetByName(s.service.current().db, n.trim()).id) };
  }
  if (typeof o['target-subset'] === 'string') return { targetSubsetId: findSubsetByName(s.service.current().db, o['target-subset']).id };
  if (typeof o['target-data'] === 'string') return importTargetData(s, o['target-data'], o);
  return {};
}

/** The rows a --shard process scores, as a subset of its temporary project (empty when the file has fewer rows than N). */
function shardSubset(db: Db, shard: ShardSpec, exampleIds: number[]): number {
  const rule = { kind: 'ids' as const, ids: [], source: `--shard ${shard.index}/${shard.count}` };
  return createSubset(db, `shard ${shard.index}/${shard.count}`, rule, undefined, {}, { ids: exampleIds, provenance: {} }).id;
}

/** --less-run and --less-warmup: only for grad_sim, one or the other; the warm-up's flags when given. */
function lessFlags(o: Opts, less: boolean): ApiInput<'scoring.start'>['lessWarmup'] {
  if (!less && (o['less-run'] !== undefined || o['less-warmup'] !== undefined)) throw new WinnowError('bad_input', '--less-run and --less-warmup are for --signals grad_sim');
  if (o['less-run'] !== undefined && o['less-warmup'] !== undefined) throw new WinnowError('bad_input', 'give --less-run N or --less-warmup P:EPOCHS:K, not both');
  return less && typeof o['less-warmup'] === 'string' ? lessWarmupFlags(o) : undefined;
}

/**
 * `score --less-warmup P:EPOCHS:K` as scoring.start's lessWarmup (the engine queues the subset and the LoRA run
 * before the scoring): LoRA from --lora (default 8:32 on attention), --layers, --lr, --seed.
 */
function lessWarmupFlags(o: Opts): ApiInput<'scoring.start'>['lessWarmup'] {
  const m = /^([0-9]*\.?[0-9]+):(\d+):(\d+)$/.exec(String(o['less-warmup']));
  const percent = m ? Number(m[1]) : NaN;
  if (!m || !(percent > 0 && percent <= 100) || Number(m[2]) < 1 || Number(m[3]) < 1) {
    throw new WinnowError('bad_input', `--less-warmup must be P:EPOCHS:K (percent in (0, 100], epochs and checkpoints ≥ 1, e.g. 5:4:4), got "${String(o['less-warmup'])}"`);
  }
  return {
    percent, epochs: Number(m[2]), checkpoints: Number(m[3]), lora: loraFlags(o) ?? undefined,
    layers: o.layers as string | undefined, lr: num(o.lr, 'lr'), seed: num(o.seed, 'seed'),
  } as ApiInput<'scoring.start'>['lessWarmup'];
}

function fimLossFlag(v: unknown): 'sum' | 'mean' | undefined {
  if (v === undefined) return undefined;
  if (v !== 'sum' && v !== 'mean') throw new WinnowError('bad_input', `--fim-loss must be sum or mean, got "${String(v)}"`);
  return v;
}
