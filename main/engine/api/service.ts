/**
 * The engine service: implements every call of the contract (preload/contract) over the open project.
 * Transports (Electron IPC via the utilityProcess port, browser-mode WebSocket, tests) call `call(name, input)`;
 * inputs are validated here and every failure comes back as an error value.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ApiName, ApiOutputs, ApiParsedInput, AppInfo, BackendName, DatasetMapping, DatasetPreview, EngineEvent, Job, Result } from '../../../preload/contract';
import { isApiName, parseInput } from '../../../preload/contract';
import { countExampleRows, listRenderErrors, listImportSkips, listSignalColumns } from '../db';
import { setTrainRunJob, setTrainRunOutModel } from '../db/train-runs';
import { setEvalRunJob } from '../db/eval-runs';
import { queryExamples } from '../data/queryExamples';
import { WinnowError, toErrorValue } from '../util/errors';
import type { JobExecutor } from '../jobs/manager';
import { demoScoreRequest } from './demo';
import { DEMO_PROJECT, activeModelId, openProject, projectInfo, projectProgress, setActiveModel, type OpenProject } from './project';
import { addModel, getModel, modelPath } from './models-registry';
import { writeWiseModel } from '../models/wise';
import { listCachedDatasets, listCachedModels, resolveModelSource } from '../models/hub-cache';
import { assertSubsetNameFree, combineSubsets, createSubset, deleteSubset, getSubset, listSubsets, recreateSubset } from '../selection/subsets';
import { latestClusterRun } from '../selection/clusters';
import { columnHistogram } from './histogram';
import { exampleMap } from './example-map';
import { getTokenMask, saveTokenMask } from './token-masks';
import { exampleDetail, tokenizerFor } from './examples';
import { defaultRenderKeyId } from '../data/render-key';
import { GRADIENT_SIGNALS, LAYER_GRADIENT_SIGNALS, assertTokenSignalScored, gradParams, planScoring } from '../scoring/plan';
import { checkpointTensors, layerBlockScores, listLayerTensors, saveLayerMask, listLayerMasks, resolveLayers, trainEstimate } from './layers';
import { resolveLayerSpec } from '../selection/layers';
import { createTrainRun, listTrainRuns, trainMetrics } from './train-runs';
import { createEvalRun, evalRows, listEvalRuns } from './eval-runs';
import { projectSlug } from '../util/paths';
import { checkFits, countParams } from '../models/memory';
import { checkGenerateFits } from '../models/generate';
import { readModelConfig } from '../models/config';
import { assertAdapterFolder } from '../models/lora';
import { loraFitOptions, resolveLora } from '../training/lora';
import { lessWarmupRun } from '../scoring/less-pass';
import { validateExport } from '../export/run';
import { previewDataset, previewImport } from '../data/preview';
import { remapImpact } from '../data/remap';
import type { Mapping } from '../data/formats';
import { assertModelRoles, assertSameTokenizer } from '../scoring/passes/reference';
import { openBundle } from '../export/bundle';
import { paramMaskLayers } from './layers';
import { assertMaskNameFree, getParamMask, listParamMasks } from '../selection/param-masks-store';
import { deleteItem, dependencyReport, listScoreRuns, listTokenMaskNames, renameItem } from './housekeeping';
import type { BackendSetting } from './backend-setting';

export interface EngineServiceOptions {
  projectsDir: string;
  mode: 'electron' | 'browser';
  executor: JobExecutor & {
    backend?: import('../../../preload/contract').BackendInfo | null;
    /** resolves once the backend is up (the compute worker); app.info waits for it, up to BACKEND_WAIT_MS */
    whenBackend?: () => Promise<import('../../../preload/contract').BackendInfo>;
  };
  version?: string;
  /** the backend chosen in the app (the compute worker's engines); absent where it is fixed at start (the CLI) */
  backendSetting?: BackendSetting;
}

/** how long app.info waits for the compute worker's backend (it starts with the engine, in a few seconds) */
const BACKEND_WAIT_MS = 20_000;

type Handlers = { [N in ApiName]: (input: ApiParsedInput<N>) => Promise<ApiOutputs[N]> | ApiOutputs[N] };

export class EngineService {
  private project: OpenProject | null = null;
  private listeners = new Set<(e: EngineEvent) => void>();

  constructor(private readonly opts: EngineServiceOptions) {}

  onEvent(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit = (e: EngineEvent): void => {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a broken listener must not stop the others
      }
    }
  };

  async call(name: string, input: unknown): Promise<Result<unknown>> {
    if (!isApiName(name)) return { ok: false, error: { code: 'bad_input', message: `unknown call "${name}"` } };
    const parsed = parseInput(name, input);
    if (!parsed.ok) return parsed;
    try {
      const handler = this.handlers[name] as (i: unknown) => unknown;
      return { ok: true, value: await handler(parsed.value) };
    } catch (err) {
      return { ok: false, error: toErrorValue(err) };
    }
  }

  /** The open project, opening the demo project on first use. */
  current(): OpenProject {
    if (!this.project) this.open(DEMO_PROJECT);
    return this.project!;
  }

  open(name: string): OpenProject {
    if (this.project?.name === name) return this.project;
    if (this.project) this.project.db.close();
    mkdirSync(this.opts.projectsDir, { recursive: true });
    this.project = openProject(this.opts.projectsDir, name, this.opts.executor, this.emit, (p, job) => this.onJobFinished(p, job));
    return this.project;
  }

  whenIdle(): Promise<void> {
    return this.project ? this.project.jobs.whenIdle() : Promise.resolve();
  }

  close(): void {
    this.project?.db.close();
    this.project = null;
  }

  /**
   * The backend jobs run on; null only when it does not come up within BACKEND_WAIT_MS (still starting: ask again) or
   * failed to start, which `backendDown` then says, so the top bar can tell "starting" from "did not come up".
   */
  private async backendInfo(): Promise<{ backend: import('../../../preload/contract').BackendInfo | null; backendDown?: string }> {
    const ex = this.opts.executor;
    if (ex.backend || !ex.whenBackend) return { backend: ex.backend ?? null };
    let timer: ReturnType<typeof setTimeout> | undefined;
    let down: string | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), BACKEND_WAIT_MS)));
    try {
      const started = ex.whenBackend().catch((err: unknown) => {
        down = err instanceof Error ? err.message : String(err);
        return null;
      });
      const backend = await Promise.race([started, timeout]);
      return down === undefined ? { backend } : { backend, backendDown: down };
    } finally {
      clearTimeout(timer);
    }
  }

  private async appInfo(): Promise<AppInfo> {
    const { backend, backendDown } = await this.backendInfo();
    return { version: this.opts.version ?? '0.1.0', backend, ...(backendDown !== undefined ? { backendDown } : {}), backendChoice: this.opts.backendSetting?.choice() ?? null, projectsDir: this.opts.projectsDir, mode: this.opts.mode };
  }

  /** app.setBackend: refused while a job of the open project runs or waits (the worker would be stopped under it). */
  private async setBackend(prefer: BackendName | null): Promise<AppInfo> {
    const setting = this.opts.backendSetting;
    if (!setting) throw new WinnowError('unsupported', 'this engine\'s backend is chosen when it starts: set WINNOW_BACKEND=webgpu|tensorflow|wasm|cpu');
    const busy = this.project?.jobs.list().find((j) => j.status === 'running' || j.status === 'queued');
    await setting.set(prefer, busy ? `${/^[aeiou]/.test(busy.kind) ? 'an' : 'a'} ${busy.kind} job is ${busy.status}` : null);
    const info = await this.appInfo();
    if (info.backend) this.emit({ type: 'log', level: 'info', message: `compute backend: ${info.backend.name} (${info.backend.reason})` });
    return info;
  }

  private modelFor(modelId: number | undefined): number {
    const m = modelId ?? activeModelId(this.current().db);
    if (!m) throw new WinnowError('not_found', 'no model in this project: add one first');
    return m;
  }

  /**
   * LESS's warm-up for scoring.start's `lessWarmup`: a seeded random share of the scope as a subset, and a LoRA run
   * on it that keeps its checkpoints, queued as ordinary jobs (the user sees and can reuse both). Steps: epochs ×
   * the subset's size / batch, at least one per checkpoint; LESS's linear schedule with 3% warm-up; no eval split.
   */
  private async queueLessWarmup(modelId: number, datasetId: number | undefined, maxTokens: number, w: NonNullable<ApiParsedInput<'scoring.start'>['lessWarmup']>): Promise<number> {
    const db = this.current().db;
    const n = countExampleRows(db, datasetId);
    const count = Math.max(1, Math.round((w.percent / 100) * n));
    const ok = <T>(r: Result<unknown>): T => {
      if (!r.ok) throw new WinnowError(r.error.code, `LESS warm-up: ${r.error.message}`);
      return r.value as T;
    };
    const subset = ok<{ id: number; size: number }>(await this.call('subsets.create', {
      name: `LESS warm-up ${w.percent}% seed ${w.seed} (${new Date().toISOString()})`, rule: { kind: 'random', count, seed: w.seed }, datasetId,
    }));
    const batchSize = Math.min(w.batchSize, subset.size);
    const steps = Math.max(w.checkpoints, Math.ceil((w.epochs * subset.size) / batchSize));
    const run = ok<{ runId: number }>(await this.call('train.start', {
      modelId, subsetId: subset.id, layers: w.layers, lora: w.lora, keepCheckpoints: w.checkpoints, steps, batchSize, lr: w.lr,
      schedule: 'linear', warmupSteps: Math.round(0.03 * steps), evalFraction: 0, maxTokens, seed: w.seed,
    }));
    return run.runId;
  }

  private onJobFinished(p: OpenProject, job: Job): void {
    if (job.kind === 'train' && typeof job.stats.outDir === 'string') {
      const runId = Number(job.stats.runId);
      const model = addModel(p.db, job.stats.outDir, { name: `trained run ${runId}`, trainRunId: runId });
      setTrainRunOutModel(p.db, runId, model.id);
    }
    if (job.kind === 'import' || job.kind === 'remap' || job.kind === 'train') this.emit({ type: 'project', project: projectInfo(p) });
    const demo = demoScoreRequest(p, job);
    if (demo) {
      void this.call('scoring.start', demo).then((r) => {
        if (!r.ok) this.emit({ type: 'log', level: 'warn', message: `the demo's first scoring was not started: ${r.error.message}` });
      });
    }
  }

  private handlers: Handlers = {
    'app.info': () => this.appInfo(),
    'app.setBackend': (i) => this.setBackend(i.prefer),

    'project.open': (i) => projectInfo(i.name ? this.open(i.name) : this.current()),
    'project.progress': (i) => projectProgress(this.current().db, i.datasetId),

    'datasets.import': (i) => {
      const p = this.current();
      const job = p.jobs.submit('import', { path: i.path, name: i.name, format: i.format, mapping: i.mapping, textMode: i.textMode, skipMalformed: i.skipMalformed });
      return { jobId: job.jobId };
    },

    // the mapping step: the first rows as the active model will see them, before anything is written
    'datasets.preview': async (i) => {
      const p = this.current();
      const modelId = activeModelId(p.db);
      const tok = modelId ? await tokenizerFor(modelPath(p.db, modelId)) : undefined;
      if ((i.path === undefined) === (i.datasetId === undefined)) throw new WinnowError('bad_input', 'preview: give a file path or a dataset id (one of them)');
      const r = i.datasetId !== undefined
        ? previewDataset(p.db, i.datasetId, { mapping: i.mapping as Mapping | undefined }, tok)
        : await previewImport(i.path!, { mapping: i.mapping as Mapping | undefined, textMode: i.textMode }, tok);
      return {
        ...(i.datasetId !== undefined ? { impact: remapImpact(p.db, i.datasetId) } : {}),
        fileFormat: r.fileFormat,
        format: r.format,
        confidence: r.confidence,
        mapping: r.mapping as DatasetMapping,
        fields: r.fields,
        guessed: r.guessed,
        ...(r.note ? { note: r.note } : {}),
        certainty: r.certainty,
        ...(r.basis ? { basis: r.basis } : {}),
        suggested: r.suggested as DatasetPreview['suggested'],
        ...(r.lists ? { lists: r.lists } : {}),
        ...(r.trees ? { trees: r.trees } : {}),
        rows: r.rows.map((row) => ({ line: row.line, rendered: row.rendered ?? row.text, nTokens: row.nTokens, nLabel: row.nLabel, trained: row.trained, error: row.error })),
      };
    },

    'datasets.upload': (i) => {
      const p = this.current();
      // the name comes from the browser: keep only its last component, in safe characters; each upload has a folder of
      // its own so the file keeps its name (in the dataset list, the preview and every message naming the file)
      const safe = projectSlug(basename(i.fileName.replace(/\\/g, '/')));
      const dir = join(p.dir, 'uploads', `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, safe);
      writeFileSync(file, i.content);
      if (i.stage) return { jobId: null, path: file, name: safe };
      const job = p.jobs.submit('import', { path: file, name: safe, skipMalformed: i.skipMalformed });
      return { jobId: job.jobId, path: file, name: safe };
    },

    'datasets.remap': (i) => {
      const p = this.current();
      // a mapping that does not fit the first rows is refused here, where the form can show it
      const bad = previewDataset(p.db, i.datasetId, { mapping: i.mapping as Mapping }).rows.find((r) => r.error);
      if (bad) throw new WinnowError('parse_error', `the new mapping does not fit row ${bad.line}: ${bad.error}`);
      const impact = remapImpact(p.db, i.datasetId);
      const job = p.jobs.submit('remap', { remap: { datasetId: i.datasetId, mapping: i.mapping } });
      return { jobId: job.jobId, impact };
    },

    'datasets.renderErrors': (i) => {
      // the rows the active model's default render cannot render: another job's options never change this list
      const db = this.current().db;
      const all = listRenderErrors(db, i.datasetId, defaultRenderKeyId(db, activeModelId(db)));
      return { total: all.length, rows: all.slice(i.offset, i.offset + i.limit).map((r) => ({ rowIndex: r.rowIndex, reason: r.reason })) };
    },

    'datasets.importSkips': (i) => {
      const all = listImportSkips(this.current().db, i.datasetId);
      return { total: all.length, rows: all.slice(i.offset, i.offset + i.limit).map((r) => ({ line: r.line, reason: r.reason })) };
    },

    'models.add': (i) => {
      const src = resolveModelSource(i.path);
      return addModel(this.current().db, src.dir, src.name ? { name: src.name } : {});
    },

    'models.wise': (i) => {
      const p = this.current();
      const base = getModel(p.db, i.baseModelId);
      const tuned = getModel(p.db, i.tunedModelId);
      const out = i.outDir ?? join(p.dir, 'models', `wise-${tuned.id}-a${i.alpha}`);
      writeWiseModel(base.path, tuned.path, i.alpha, out);
      return addModel(p.db, out, { name: i.name ?? `${tuned.name} · WiSE α=${i.alpha} over ${base.name}` });
    },

    'models.listCached': () => listCachedModels(),

    'datasets.listCached': () => listCachedDatasets(),

    'examples.query': async (i) => {
      const p = this.current();
      // token counts of the active model's default render
      const res = queryExamples(p.db, { ...i, renderKeyId: defaultRenderKeyId(p.db, activeModelId(p.db)) });
      const columns = listSignalColumns(p.db);
      return { total: res.total, rows: res.rows, columns, ...(res.textPending ? { textPending: res.textPending } : {}) };
    },

    'examples.get': async (i) => {
      const p = this.current();
      const modelId = i.modelId ?? activeModelId(p.db);
      if (!modelId) throw new WinnowError('not_found', 'no model in this project: add one to render examples');
      return exampleDetail(p.db, i.exampleId, modelId);
    },

    'scoring.start': async (i) => {
      const p = this.current();
      getModel(p.db, i.modelId);
      if (i.refModelId) {
        getModel(p.db, i.refModelId);
        // a reference with another tokenizer cannot be compared token by token: refuse now, not in the job
        await assertSameTokenizer(p.db, i.modelId, i.refModelId);
      }
      if (i.historyModelId) {
        getModel(p.db, i.historyModelId);
        await assertSameTokenizer(p.db, i.modelId, i.historyModelId);
      }
      assertModelRoles(p.db, i);
      // a subset scope records the subset's name now, so the run still says what it covered after a delete
      const rows = i.rows?.kind === 'subset' ? { ...i.rows, name: getSubset(p.db, i.rows.subsetId).name } : i.rows;
      const plan = planScoring(p.db, { ...i, rows });
      // forward passes at this batch and length must fit the backend (refused with the figures otherwise)
      const cfg = readModelConfig(modelPath(p.db, i.modelId));
      const backend = this.opts.executor.backend?.name ?? 'wasm';
      const adapter = this.opts.executor.backend?.adapter;
      checkFits(cfg, { batch: i.batchSize, seqLen: i.maxTokens, trainableParams: 0, backend, adapter });
      // the gradient pass backpropagates one example at a time and keeps a sum per parameter for fim: about a training
      // step's memory at batch 1 (its "optimizer" share stands for those sums and grad_sim_base's gradient copies)
      if (i.signals.some((s) => (GRADIENT_SIGNALS as readonly string[]).includes(s))) {
        const layerSignals = i.signals.some((s) => (LAYER_GRADIENT_SIGNALS as readonly string[]).includes(s));
        const differentiated = layerSignals ? countParams(cfg) : (gradParams(p.db, i) ?? countParams(cfg));
        checkFits(cfg, { batch: 1, seqLen: i.maxTokens, trainableParams: differentiated, backend, adapter });
      }
      // a missing adapter folder is refused here, not after the model has loaded
      if (i.adapterPath !== undefined) assertAdapterFolder(i.adapterPath);
      // grad_sim's warm-up run (LoRA, kept checkpoints, the same base) is checked before the job starts; or the
      // warm-up is queued first (jobs run one at a time, so it is done when the scoring starts)
      if ((i.lessRunId !== undefined || i.lessWarmup || i.targetSubsetIds || i.targetColumn) && !i.signals.includes('grad_sim')) {
        throw new WinnowError('bad_input', 'lessRunId, lessWarmup, targetSubsetIds and targetColumn are for grad_sim (LESS); it is not among the signals');
      }
      let lessRunId = i.lessRunId;
      if (i.signals.includes('grad_sim') && i.lessWarmup) lessRunId = await this.queueLessWarmup(i.modelId, i.datasetId, i.maxTokens, i.lessWarmup);
      else if (i.signals.includes('grad_sim')) lessWarmupRun(p.db, p.dir, i.lessRunId, i.modelId);
      setActiveModel(p.db, i.modelId);
      // the warm-up is its own run now: the job keeps its id, not its settings
      const { lessWarmup: _warmup, ...asked } = i;
      const job = p.jobs.submit('score', { ...asked, rows, lessRunId, projectModelPath: modelPath(p.db, i.modelId) });
      return { jobId: job.jobId, plan, ...(i.lessWarmup ? { lessRunId } : {}) };
    },

    'subsets.create': (i) => createSubset(this.current().db, i.name, i.rule, i.datasetId),
    'subsets.start': (i) => {
      const p = this.current();
      assertSubsetNameFree(p.db, i.name);
      if (i.rule.kind === 'kcenter' && i.rule.subsetId !== undefined) getSubset(p.db, i.rule.subsetId);
      // UDS loads the model in the job: a missing one is refused now, not after the job starts
      if (i.rule.kind === 'uds') getModel(p.db, i.rule.modelId);
      return { jobId: p.jobs.submit('select', { ...i }).jobId };
    },
    'subsets.list': () => listSubsets(this.current().db),
    'subsets.delete': (i) => ({ deleted: deleteSubset(this.current().db, i.subsetId) }),
    'subsets.recreate': (i) => recreateSubset(this.current().db, i.subsetId),
    'subsets.combine': (i) => combineSubsets(this.current().db, i.name, i.op, i.subsetIds),
    'examples.histogram': async (i) => {
      const p = this.current();
      return columnHistogram(p.db, { ...i, renderKeyId: defaultRenderKeyId(p.db, activeModelId(p.db)) });
    },
    'examples.map': (i) => exampleMap(this.current().db, i),
    'map.umap': (i) => ({ jobId: this.current().jobs.submit('umap', { ...i }).jobId }),
    'clusters.start': (i) => ({ jobId: this.current().jobs.submit('cluster', { ...i }).jobId }),
    'clusters.info': (i) => latestClusterRun(this.current().db, i.datasetId),
    'tokenMasks.save': (i) => saveTokenMask(this.current().db, { ...i, modelId: this.modelFor(i.modelId) }),
    'tokenMasks.get': (i) => getTokenMask(this.current().db, { ...i, modelId: this.modelFor(i.modelId) }),

    'layers.list': (i) => listLayerTensors(this.current().db, i.modelId),
    'layers.resolve': (i) => resolveLayers(this.current().db, i.modelId, i.layers),
    'train.estimate': (i) => trainEstimate(this.current().db, i, this.opts.executor.backend?.name ?? null, this.opts.executor.backend?.adapter),
    'layerMasks.save': (i) => saveLayerMask(this.current().db, i.name, i.modelId, i.layers),
    'layerMasks.list': (i) => listLayerMasks(this.current().db, i.modelId),

    'paramMasks.compute': (i) => {
      const p = this.current();
      getModel(p.db, i.modelId);
      assertMaskNameFree(p.db, i.name);
      resolveLayerSpec(i.scope, checkpointTensors(modelPath(p.db, i.modelId)), layerBlockScores(p.db, i.modelId, i.scope));
      if (i.tokenPolicy !== 'response' && i.tokenPolicy !== 'all') assertTokenSignalScored(p.db, i.modelId, i.tokenPolicy === 'critical' ? 'critical' : i.tokenSignal);
      const job = p.jobs.submit('param_mask', { ...i });
      return { jobId: job.jobId };
    },
    'paramMasks.list': (i) => listParamMasks(this.current().db, i.modelId),
    'paramMasks.get': (i) => getParamMask(this.current().db, i.maskId),

    'train.start': (i) => {
      const p = this.current();
      getModel(p.db, i.modelId);
      // a bad layer spec is refused here, where the form can show it, not minutes later in the job
      resolveLayerSpec(i.layers, checkpointTensors(modelPath(p.db, i.modelId)), layerBlockScores(p.db, i.modelId, i.layers));
      if (i.tokenPolicy !== 'response' && i.tokenPolicy !== 'all') assertTokenSignalScored(p.db, i.modelId, i.tokenPolicy === 'critical' ? 'critical' : i.tokenSignal);
      // refuses, naming every figure, a run that will not fit the backend's memory
      if (i.lora && i.paramMaskId !== undefined) throw new WinnowError('bad_input', 'train with LoRA or with a parameter mask, not both');
      // LoRA: bad targets or a spec with no block are refused here too; only A and B train
      const cfg = readModelConfig(modelPath(p.db, i.modelId));
      const lora = i.lora
        ? resolveLora(cfg, checkpointTensors(modelPath(p.db, i.modelId)), i.lora, i.layers, layerBlockScores(p.db, i.modelId, i.lora.layers ?? i.layers))
        : null;
      checkFits(cfg, {
        batch: i.batchSize, seqLen: i.maxTokens, gradAccum: i.gradAccum, backend: this.opts.executor.backend?.name ?? 'wasm', adapter: this.opts.executor.backend?.adapter,
        ...(lora
          ? loraFitOptions(cfg, lora, i.batchSize, i.maxTokens)
          : { trainableParams: (i.paramMaskId !== undefined ? paramMaskLayers(p.db, i.modelId, i.paramMaskId) : resolveLayers(p.db, i.modelId, i.layers)).trainableParams }),
      });
      const runId = createTrainRun(p.db, i);
      const job = p.jobs.submit('train', { runId });
      setTrainRunJob(p.db, runId, job.jobId);
      return { jobId: job.jobId, runId };
    },
    'train.list': () => listTrainRuns(this.current().db),
    'train.metrics': (i) => trainMetrics(this.current().db, i.runId),
    'eval.start': (i) => {
      const p = this.current();
      // a batch of prompts up to maxTokens long, each with its KV cache to maxNewTokens, must fit the backend
      checkGenerateFits(readModelConfig(modelPath(p.db, i.modelId)), {
        batch: i.batchSize, promptLen: i.maxTokens, maxNewTokens: i.maxNewTokens, backend: this.opts.executor.backend?.name ?? 'wasm',
      });
      const evalRunId = createEvalRun(p.db, i);
      const job = p.jobs.submit(i.kind, { evalRunId });
      setEvalRunJob(p.db, evalRunId, job.jobId);
      return { jobId: job.jobId, evalRunId };
    },
    'eval.list': (i) => listEvalRuns(this.current().db, i.trainRunId),
    'eval.rows': (i) => evalRows(this.current().db, i.evalRunId, i.offset, i.limit),

    'export.start': (i) => {
      validateExport(this.current().db, i);
      const job = this.current().jobs.submit('export', { ...i });
      return { jobId: job.jobId };
    },
    'bundles.open': async (i) => {
      const p = this.current();
      const res = await openBundle(p.db, i.dir);
      if (res.importedDatasets) this.emit({ type: 'project', project: projectInfo(p) });
      return res;
    },

    'jobs.list': () => this.current().jobs.list(),
    'jobs.cancel': (i) => this.current().jobs.cancel(i.jobId),
    'jobs.resume': (i) => this.current().jobs.resume(i.jobId),
    'jobs.discard': (i) => this.current().jobs.discard(i.jobId),
    'jobs.clear': () => ({ cleared: this.current().jobs.clearFinished() }),
    'scoring.runs': () => listScoreRuns(this.current().db),
    'tokenMasks.names': () => listTokenMaskNames(this.current().db),
    'items.dependents': (i) => dependencyReport(this.current().db, i),
    'items.delete': (i) => {
      const p = this.current();
      const report = deleteItem(p.db, i, i.token);
      // the header's dataset and model lists change
      if (i.kind === 'dataset' || i.kind === 'model') this.emit({ type: 'project', project: projectInfo(p) });
      return report;
    },
    'items.rename': (i) => {
      const p = this.current();
      const r = renameItem(p.db, i, i.newName);
      if (i.kind === 'dataset' || i.kind === 'model') this.emit({ type: 'project', project: projectInfo(p) });
      return r;
    },
  };
}
