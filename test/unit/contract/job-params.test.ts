/**
 * Each job kind's params schema (preload/contract/jobs.ts JobParamsSchemas) accepts what a `*.start` call stores today (built as the CLI
 * builds it, parsed by the call's schema and stored as JSON by the service), accepts what an older version stored
 * (a job resumed after an upgrade), and refuses a bad one, naming the field. jobParams is what every job function
 * calls first, so these are the params the job functions see.
 */
import { describe, expect, it } from 'vitest';
import { ApiInputs, JobParamsSchemas, TokenPolicyOverrideSchema, TokenPolicySchema, type ApiInput, type ApiName, type JobKind } from '../../../preload/contract';
import { jobParams } from '../../../main/engine/util/job-context';
import { WinnowError } from '../../../main/engine/util/errors';
import { join } from 'node:path';
import { runJob } from '../../../main/engine/jobs/runners';
import { openProjectDb } from '../../../main/engine/db/open';
import { tempDir } from '../data/helpers';

/** what the service stores for a call: its parsed input, as JSON (jobs.params_json) */
function stored<N extends ApiName>(name: N, input: ApiInput<N>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ ...(ApiInputs[name].parse(input) as object), ...extra })) as Record<string, unknown>;
}

// the CLI's objects: absent flags are present as undefined (tokenPolicyFlags, num)
const noTokenFlags = { tokenPolicy: undefined, tokenSignal: undefined, tokenPercent: undefined, tokenScope: undefined };

/** today's params of each kind, as a `*.start` call stores them */
const current: Record<JobKind, Record<string, unknown>> = {
  import: { path: '/data/gsm8k.jsonl', name: 'gsm8k', skipMalformed: false },
  remap: { remap: { datasetId: 1, mapping: { format: 'prompt_completion', prompt: 'question', completion: 'answer' } } },
  score: stored('scoring.start', { modelId: 1, datasetId: 2, signals: ['loss', 'fim'], fimExamples: 10, seed: 3 }, { projectModelPath: '/p/models/m' }),
  train: { runId: 4 },
  export: stored('export.start', { outDir: '/out', subsetId: null, datasetId: 1, modelId: 1, what: ['subset', 'token_masks'], overwrite: false, ...noTokenFlags }),
  param_mask: stored('paramMasks.compute', {
    name: 'cli salience', modelId: 1, subsetId: null, datasetId: 1, method: 'salience', density: 0.01, metric: 'abs_wg', topk: 'global', allParams: false,
    scope: 'all', examples: undefined, seed: undefined, maxTokens: undefined, ...noTokenFlags, evalFraction: 0.05, evalSeed: undefined,
  }),
  cluster: stored('clusters.start', { k: 4 }),
  umap: stored('map.umap', { datasetId: 1 }),
  select: stored('subsets.start', { name: 'diverse', rule: { kind: 'kcenter', count: 10 } }),
  generate: { evalRunId: 2 },
  eval: { evalRunId: 3 },
};

/** params as older versions stored them, before the fields added since (written by hand from those versions' schemas) */
const older: Record<JobKind, string> = {
  import: '{"path":"/data/a.jsonl","name":"a"}',
  remap: '{"remap":{"datasetId":1,"mapping":{"format":"messages","field":"messages"}}}',
  // before historyModelId, fimLoss, targetSubsetIds, lessRunId, adapterPath, onlySubsetId and rows
  score: '{"modelId":1,"datasetId":1,"signals":["loss","excess_loss"],"refModelId":2,"batchSize":8,"maxTokens":512,"projectModelPath":"/p/models/m"}',
  train: '{"runId":1}',
  // before weightsForm and paramMaskId
  export: '{"outDir":"/out","subsetId":3,"what":["subset","configs"],"overwrite":false}',
  // before allParams and evalFraction / evalSeed
  param_mask: '{"name":"m","modelId":1,"method":"gps","metric":"abs_wg","density":0.01,"topk":"global","perRow":4,"scope":"all","subsetId":null,"examples":100,"seed":0,"maxTokens":256,"tokenPolicy":"response","tokenSignal":"excess_loss","tokenPercent":60,"tokenScope":"example"}',
  // the cluster job's maxIter was optional
  cluster: '{"k":8,"seed":0}',
  // before nEpochs
  umap: '{"seed":0,"nNeighbors":15,"minDist":0.1,"limit":200000}',
  select: '{"name":"r","rule":{"kind":"random","count":5,"seed":1}}',
  // generate / eval jobs have stored only their evaluation run since they exist
  generate: '{"evalRunId":1}',
  eval: '{"evalRunId":1}',
};

/** one bad field per kind: the field and a params object that gets it wrong */
const bad: Record<JobKind, [string, Record<string, unknown>]> = {
  import: ['skipMalformed', { path: '/a.jsonl', skipMalformed: 'yes' }],
  remap: ['remap.datasetId', { remap: { datasetId: 0, mapping: { format: 'text', field: 'text' } } }],
  score: ['projectModelPath', { modelId: 1, signals: ['loss'], batchSize: 8, maxTokens: 512 }],
  train: ['runId', { runId: '7' }],
  export: ['what', { outDir: '/out', subsetId: null, what: [] }],
  param_mask: ['tokenPercent', { ...current.param_mask, tokenPercent: 0 }],
  cluster: ['k', { k: 1, seed: 0 }],
  umap: ['nNeighbors', { seed: 0, nNeighbors: 1, minDist: 0.1, limit: 10 }],
  select: ['rule.count', { name: 'r', rule: { kind: 'random', count: -1 } }],
  generate: ['evalRunId', { evalRunId: 0 }],
  eval: ['evalRunId', {}],
};

const kinds = Object.keys(JobParamsSchemas) as JobKind[];

describe('job params: one schema per kind, shared by the calls, the job functions and the CLI', () => {
  it('covers every job kind', () => {
    expect(kinds.sort()).toEqual(['cluster', 'eval', 'export', 'generate', 'import', 'param_mask', 'remap', 'score', 'select', 'train', 'umap']);
  });

  it.each(kinds)('%s: accepts the params a start call stores today, unchanged but for defaults', (kind) => {
    const p = jobParams(kind, { params: current[kind] }) as Record<string, unknown>;
    for (const [k, v] of Object.entries(current[kind])) expect(p[k], k).toEqual(v);
  });

  it.each(kinds)('%s: accepts the params an older version stored (a job resumed after an upgrade)', (kind) => {
    const old = JSON.parse(older[kind]) as Record<string, unknown>;
    const p = jobParams(kind, { params: old }) as Record<string, unknown>;
    for (const [k, v] of Object.entries(old)) expect(p[k], k).toEqual(v);
  });

  it.each(kinds)('%s: refuses a bad one, naming the field', (kind) => {
    const [field, params] = bad[kind];
    expect(() => jobParams(kind, { params })).toThrow(WinnowError);
    expect(() => jobParams(kind, { params })).toThrow(`${kind} job params: field "${field}"`);
  });

  it('keeps absent what older versions meant by absence, and fills the defaults that always meant the same', () => {
    const score = jobParams('score', { params: JSON.parse(older.score) as Record<string, unknown> });
    // a run from before fimLoss was the mean (gradient-pass.ts fimLossOf): a default of 'sum' would change it
    expect(score.fimLoss).toBeUndefined();
    expect(score.rows).toBeUndefined();
    expect(score.historyModelId).toBeUndefined();
    expect(jobParams('export', { params: JSON.parse(older.export) as Record<string, unknown> }).weightsForm).toBe('full');
    expect(jobParams('param_mask', { params: JSON.parse(older.param_mask) as Record<string, unknown> }).allParams).toBe(false);
    expect(jobParams('param_mask', { params: JSON.parse(older.param_mask) as Record<string, unknown> }).evalFraction).toBeUndefined();
    expect(jobParams('cluster', { params: JSON.parse(older.cluster) as Record<string, unknown> }).maxIter).toBe(100);
    expect(jobParams('umap', { params: JSON.parse(older.umap) as Record<string, unknown> }).nEpochs).toBe(0);
  });
});

describe('a job whose stored params are bad', () => {
  it.each(['cluster', 'select'] as const)('%s: fails through the runner naming the field, and writes nothing', async (kind) => {
    const t = tempDir();
    try {
      const dbPath = join(t.dir, 'p.winnow');
      openProjectDb(dbPath).close();
      const [field, params] = bad[kind];
      await expect(runJob(kind, {
        jobId: 'j1', dbPath, projectDir: t.dir, params, progress: () => undefined, isCancelled: () => false, log: () => undefined,
      })).rejects.toThrow(`${kind} job params: field "${field}"`);
      const db = openProjectDb(dbPath);
      expect(db.prepare('SELECT COUNT(*) FROM score_runs').pluck().get()).toBe(0);
      expect(db.prepare('SELECT COUNT(*) FROM subsets').pluck().get()).toBe(0);
      db.close();
    } finally {
      t.cleanup();
    }
  });
});

describe('token policy: one schema', () => {
  it('train and the parameter-mask pass take its fields with defaults; export takes them with none', () => {
    const defaults = { tokenPolicy: 'response', tokenSignal: 'excess_loss', tokenPercent: 60, tokenScope: 'example' };
    expect(TokenPolicySchema.parse({})).toEqual(defaults);
    expect(TokenPolicyOverrideSchema.parse({})).toEqual({});
    expect(ApiInputs['train.start'].parse({ modelId: 1, subsetId: null, layers: 'all', steps: 1 })).toMatchObject(defaults);
    expect(ApiInputs['paramMasks.compute'].parse({ name: 'm', modelId: 1, method: 'gps' })).toMatchObject(defaults);
    const exp = ApiInputs['export.start'].parse({ outDir: '/o', subsetId: null, what: ['subset'] });
    for (const k of [...Object.keys(defaults), 'tokenMaskName']) expect(k in exp, k).toBe(false);
  });

  it('each call refuses the same bad value of the same field', () => {
    const bad = { tokenPolicy: 'top_percent', tokenPercent: 150 } as const;
    expect(ApiInputs['train.start'].safeParse({ modelId: 1, subsetId: null, layers: 'all', steps: 1, ...bad }).error?.issues[0]?.path).toEqual(['tokenPercent']);
    expect(ApiInputs['paramMasks.compute'].safeParse({ name: 'm', modelId: 1, method: 'gps', ...bad }).error?.issues[0]?.path).toEqual(['tokenPercent']);
    expect(ApiInputs['export.start'].safeParse({ outDir: '/o', subsetId: null, what: ['subset'], ...bad }).error?.issues[0]?.path).toEqual(['tokenPercent']);
  });
});
