/**
 * `winnow train`: a training run on the project's rows (or a data file's), then its weights written to --out: the full
 * or changed-only model (with the parameter mask when one was used), or with --lora the PEFT adapter folder (and the
 * merged model with --merged).
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WinnowError } from '../../engine/util/errors';
import { findParamMaskByName } from '../../engine/selection/param-masks-store';
import { parseParamMaskSpec } from '../../engine/selection/param-masks';
import type { ApiInput, Job, ParamMaskInfo, TrainConfig } from '../../../preload/contract';
import { TrainConfigSchema } from '../../../preload/contract';
import { loraFlags, need, num, tokenPolicyFlags, type Opts } from '../flags';
import { backendLine, withData, withSession, type CommandContext, type Session } from '../session';

export async function trainCommand({ o, quiet }: CommandContext): Promise<unknown> {
  return withSession(o.project as string | undefined, quiet, async (s) => {
    // a bad --param-mask is refused before any import or model work
    if (typeof o['param-mask'] === 'string' && !o['param-mask'].startsWith('name:')) parseParamMaskSpec(o['param-mask']);
    const lora = loraFlags(o);
    await backendLine(quiet);
    const modelId = await s.model(need(o, 'model'));
    const { datasetId, subsetId } = await withData(s, o);
    const paramMask = typeof o['param-mask'] === 'string' ? await cliParamMask(s, o, { modelId, datasetId, subsetId }) : null;
    const { jobId, runId } = await s.call('train.start', trainRequest(o, { modelId, datasetId, subsetId, paramMask, lora }));
    const job = await s.job(jobId);
    const out = resolve(need(o, 'out'));
    if (lora) return writeAdapter(s, o, { out, job, runId });
    const exp = await s.call('export.start', {
      outDir: out, subsetId: null, trainRunId: runId, what: paramMask ? ['weights', 'param_mask'] : ['weights'], overwrite: !!o.overwrite,
      weightsForm: o['changed-only'] ? 'changed' : 'full',
    });
    await s.job(exp.jobId);
    return {
      out: join(out, 'model'), runId, loss: job.stats.loss, tokensPerSec: job.stats.tokensPerSec,
      ...(paramMask ? { paramMask: { name: paramMask.name, trainableParams: paramMask.trainableParams, file: join(out, 'param_mask.safetensors') } } : {}),
    };
  });
}

/** train.start's input from the flags, for the model and rows already in the project. */
function trainRequest(o: Opts, d: {
  modelId: number; datasetId?: number; subsetId: number | null; paramMask: ParamMaskInfo | null; lora: TrainConfig['lora'] | null;
}): ApiInput<'train.start'> {
  const { paramMask, lora } = d;
  return {
    modelId: d.modelId, subsetId: d.subsetId, datasetId: d.datasetId,
    layers: paramMask ? paramMask.scope : lora ? ((o.layers as string | undefined) ?? 'all') : need(o, 'layers'),
    paramMaskId: paramMask?.id,
    lora: lora ?? undefined,
    steps: num(need(o, 'steps'), 'steps')!,
    lr: num(o.lr, 'lr'),
    batchSize: num(o.batch, 'batch'),
    gradAccum: num(o.accum, 'accum'),
    optimizer: o.optimizer as 'adamw' | 'sgd' | undefined,
    schedule: o.schedule as 'cosine' | 'linear' | 'constant' | undefined,
    warmupSteps: num(o.warmup, 'warmup'),
    ...tokenPolicyFlags(o),
    dftWeight: !!o.dft,
    seed: num(o.seed, 'seed'),
    maxTokens: num(o['max-tokens'], 'max-tokens'),
    keepCheckpoints: num(o['keep-checkpoints'], 'keep-checkpoints'),
    checkpointEvery: num(o['checkpoint-every'], 'checkpoint-every'),
    recordTrajectories: !!o['record-trajectories'],
    uds: o.uds !== undefined ? { keep: num(o.uds, 'uds')!, bufferSize: num(o['uds-buffer'], 'uds-buffer') ?? 1024, lambda: num(o['uds-lambda'], 'uds-lambda') ?? 2.5e-3 } : undefined,
  };
}

/** --lora: the adapter folder as PEFT loads it, in OUT/adapter; the merged model in OUT/model only when asked for. */
async function writeAdapter(s: Session, o: Opts, r: { out: string; job: Job; runId: number }): Promise<unknown> {
  const { out, job, runId } = r;
  if (o.merged) await s.job((await s.call('export.start', { outDir: out, subsetId: null, trainRunId: runId, what: ['weights'], overwrite: !!o.overwrite })).jobId);
  const adapterOut = join(out, 'adapter');
  if (existsSync(adapterOut) && !o.overwrite) throw new WinnowError('conflict', `${adapterOut} exists (give --overwrite to replace it)`);
  rmSync(adapterOut, { recursive: true, force: true });
  cpSync(String(job.stats.adapterDir), adapterOut, { recursive: true });
  return {
    out: adapterOut, runId, loss: job.stats.loss, tokensPerSec: job.stats.tokensPerSec, loraModules: job.stats.loraModules,
    ...(o.merged ? { merged: join(out, 'model') } : {}),
  };
}

/** --param-mask: a saved mask by name, or one computed now (scope --layers, default all) with the run's token policy. */
async function cliParamMask(s: Session, o: Opts, d: { modelId: number; datasetId?: number; subsetId: number | null }): Promise<ParamMaskInfo> {
  const spec = String(o['param-mask']);
  if (spec.startsWith('name:')) {
    const m = findParamMaskByName(s.service.current().db, spec.slice('name:'.length));
    if (m.modelId !== d.modelId) throw new WinnowError('bad_input', `--param-mask ${spec}: the mask belongs to another model`);
    return m;
  }
  const m = parseParamMaskSpec(spec);
  const { jobId } = await s.call('paramMasks.compute', {
    name: `cli ${spec} ${new Date().toISOString()}`, modelId: d.modelId, subsetId: d.subsetId, datasetId: d.datasetId,
    method: m.method, density: m.density,
    ...(m.method === 'salience' ? { metric: m.metric, topk: m.topk, allParams: !!m.allParams } : { perRow: m.perRow }),
    scope: typeof o.layers === 'string' ? o.layers : 'all',
    examples: num(o['param-examples'], 'param-examples'),
    seed: num(o.seed, 'seed'),
    maxTokens: num(o['max-tokens'], 'max-tokens'),
    ...tokenPolicyFlags(o),
    // leave out the rows this run holds out for eval (its default eval fraction, its seed)
    evalFraction: TrainConfigSchema.shape.evalFraction.parse(undefined),
    evalSeed: num(o.seed, 'seed'),
  });
  const job = await s.job(jobId);
  return s.call('paramMasks.get', { maskId: Number(job.stats.maskId) });
}
