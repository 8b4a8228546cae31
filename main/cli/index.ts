/**
 * The `winnow` command: every job the UI can start, in-process over the same engine modules.
 * Progress goes to stderr; with --json the last line of stdout is one JSON object with the result.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EngineService } from '../engine/api/service';
import { InProcessExecutor } from '../engine/jobs/runners';
import { initBackend } from '../engine/compute/backend';
import { convertLlama2c } from '../engine/models/llama2c';
import { parseHubId } from '../engine/models/hub-cache';
import { projectsDir } from '../engine/util/paths';
import { WinnowError, toErrorValue } from '../engine/util/errors';
import type { ApiInput, ApiName, ApiOutputs, Job, ParamMaskInfo, RowScope, TokenPolicyOverride } from '../../preload/contract';
import { LoraConfigSchema, TrainConfigSchema, type TrainConfig } from '../../preload/contract';
import { writeScoresJsonl } from './score-output';
import { withDuplicateCompanions } from '../engine/data/duplicates';
import { findSubsetByName } from '../engine/selection/subsets';
import { findParamMaskByName } from '../engine/selection/param-masks-store';
import { parseParamMaskSpec } from '../engine/selection/param-masks';
import { runGenerateCommand, type SamplingFlags } from './generate';
import { runEvalCommand } from './eval';
import { mergeOutputShards, outputShardCommand } from './merge-outputs';
import { runWiseCommand, runWiseSweepCommand } from './wise';
import { checkBudget, DEFAULT_CRITICAL_BUDGET } from '../engine/eval/critical';
import { estimateCriticalRun, runCriticalTokens } from '../engine/eval/critical-run';
import { generationConfigEos } from '../engine/eval/rows';
import { eosIds } from '../engine/models/generate';
import { disposeModel, loadModel } from '../engine/models/model';
import { modelPath } from '../engine/api/models-registry';
import type { CodeLimits } from '../engine/eval/code-exec';
import { assertShardable, checkShardSet, importMergedRun, parseShardSpec, readShardResult, rowsOfShard, writeShardResult, type LoadedShard, type ShardSpec } from '../engine/scoring/shard';
import { deleteDataset, getRenderKey, type Db } from '../engine/db';
import { loadTokenizer } from '../engine/models';
import { renderDataset } from '../engine/data/renderDataset';
import { DEFAULT_RENDER } from '../engine/data/render-key';
import { setActiveModel } from '../engine/api/project';

const USAGE = `winnow <command> [options]

  convert llama2c MODEL.bin TOKENIZER.bin OUT_DIR     llama2.c checkpoint → Hugging Face folder
  import FILE --project P [--format F] [--mapping JSON] [--skip-malformed] [--name N]
        (--mapping when detection guesses wrong, e.g. '{"format":"alpaca","instruction":"q","output":"a"}')
  score --model DIR|ORG/NAME[@REV] (--data FILE | --project P) --signals a,b [--ref-model DIR] [--history-model DIR] --out OUT.jsonl
        [--batch 8] [--max-tokens 512] [--fim-examples 100] [--fim-loss sum|mean] [--seed 0]
        [--grad-layers SPEC] [--grad-dim 1024] [--target-subset NAME | --target-data FILE] [--gamma 0.5] [--shard I/N]
        [--adapter ADAPTER_DIR]   (scores --model with a PEFT LoRA adapter applied)
        [--subset NAME (with --project) | --sample N [--seed 0]]
        (--subset: only that subset's rows; --sample: a seeded random N rows, the ones \`select --random N --seed S\` picks)
        [--less-run N | --less-warmup P:EPOCHS:K [--lora R[:ALPHA]] [--lora-targets T] [--layers SPEC] [--lr 2e-5]]
        (grad_sim is LESS: Adam-preconditioned LoRA gradients at the K kept checkpoints of warm-up run N, or of one
         trained first on a seeded random P% of the scope for EPOCHS epochs (LoRA 8:32 on attention by default);
         --target-subset A,B,… gives one subtask per subset (mean within each, max across), --target-column COL
         one per value of that column among the targets; d defaults to 8192;
         grad_sim_base is the same cosine on the base model's plain gradients)
        (excess_loss/learnability: --ref-model is the LATER model, e.g. the one tuned from --model;
         sstoken: --history-model is the EARLIER model, e.g. the base --model was tuned from; γ = --gamma;
         grad_norm/grad_sim_base over --grad-layers; grad_sim/grad_sim_base against the target set;
         fim/layer_grad_norm differentiate each example's summed response NLL (--fim-loss sum, the default, as surgical
         fine-tuning's fim_calculator.py) or its mean over the response tokens (--fim-loss mean))
        (--shard I/N, with --data: score only this process's 1/N of the rows, chosen by a hash of each row's content
         and file index; writes OUT plus OUT.shard.json (what run, which rows, sha256 manifest) for winnow merge;
         fim/layer_grad_norm draw over the whole file and merge from float64 partial sums; grad_sim takes --target-data)
  merge OUT.shard.json... --project P [--data FILE] [--target-data FILE] [--model DIR] [--ref-model DIR] [--history-model DIR] [--out OUT.jsonl]
        [--format F] [--skip-malformed] (as the shards were given them)
        (checks the shards are one run and hold every row once, then stores them in P as one score run;
         the data file and models are found where the shards read them unless given)
  merge OUT.shard.json... --out FILE  (generate / eval --shard pieces: the JSONL in file order, or one eval report
         with its metric recomputed over every row)
  select --project P --name NAME (--top-percent X | --top K | --min A --max B) --signal S [--asc]
         | --ifd-top K | --ifd-top-percent X
         | --random K [--seed S]
         | (--per-cluster N | --per-cluster-percent X) [--signal S [--asc]] [--seed S] [--cluster-run ID]
         | --kcenter K [--among SUBSET] [--seed S]
         | --s2l K --run RUN_ID [--clusters 10] [--seed S]
         | --uds KEEP --model DIR [--batch 8] [--uds-buffer 1024] [--uds-lambda 0.0025] [--max-tokens 256] [--seed S]
        (per cluster of the latest K-means run: the top N (or X% of each cluster) by --signal, or a seeded random N;
         --kcenter: K diverse rows by greedy k-center on embedding, optionally among a subset's rows;
         --ifd-top: IFD's recipe, drop rows with ifd > 1, then the K (X% of those left) highest by ifd;
         --s2l: S2L, K rows spread over K-means clusters of the loss trajectories train run RUN_ID recorded
         (train --record-trajectories); --uds: UDS in one pass, the best KEEP share (0–1] of each batch of rows)
  cluster --project P --k K [--seed 0] [--max-iter 100]   K-means on embedding → the cluster column
  train --model DIR (--data FILE | --project P [--subset NAME]) --layers SPEC --steps N --out DIR
        [--lr 1e-3] [--batch 4] [--accum 1] [--optimizer adamw|sgd] [--schedule cosine|linear|constant]
        [--warmup 0] [--token-policy response|all|critical|top_percent [--token-signal excess_loss] [--token-percent 60]
        [--token-scope example|global]] [--dft] [--seed 0] [--max-tokens 256]
        [--param-mask MASK [--param-examples 100]] [--changed-only] [--checkpoint-every 20]
        [--record-trajectories] [--uds KEEP [--uds-buffer 1024] [--uds-lambda 0.0025]]
        [--lora R[:ALPHA] [--lora-targets q_proj,v_proj|attention|mlp|all-linear] [--lora-dropout P] [--rslora] [--merged]]
        [--keep-checkpoints K]
        (--lora: a PEFT LoRA adapter of rank R, alpha ALPHA (default R), on the blocks --layers picks (default all),
         written to OUT/adapter/; --merged also writes the merged model to OUT/model/; --keep-checkpoints keeps K
         evenly spaced checkpoints with their Adam state and mean lr: a warm-up run for score --less-run;
         --record-trajectories: every example's loss at each checkpoint, for select --s2l --run RUN_ID;
         --uds: each micro-batch trains on its best KEEP share by UDS's score)
  export --model DIR (--data FILE | --project P [--subset NAME]) [--layers SPEC] [--token-policy P ...]
         --out DIR [--overwrite]                      bundle: subset, masks, scores, trainer configs, manifest
  generate --model DIR --data FILE --out OUT.jsonl [--max-new-tokens 128] [--temperature T --top-k K --top-p P --seed S]
        [--stop STR]... [--batch 8] [--resume] [--shard I/N]  (each record up to its last assistant turn, chat template +
         generation prompt; rows {"index","prompt","completion","tokens","finish_reason"};
         --adapter ADAPTER_DIR: a PEFT LoRA adapter merged into --model first)
  eval --model DIR --data FILE --metric exact_match|accuracy|pass_at_1|loss [--answer-regex R] [--max-new-tokens 256]
        [--labels a,b,...] [--adapter ADAPTER_DIR] [--shard I/N] --out report.json  (task metric over every row, with the per-row answers)
        pass_at_1 runs the model's code with the record's tests (test + entry_point, or test_list) in a child Python
        process, only with --allow-code-execution [--code-timeout 10] [--code-memory-mb 512] [--python /usr/bin/python3]
  critical --model DIR (--data FILE | --project P [--subset NAME]) [--max-positions 64] [--alternatives 2]
        [--max-new-tokens 64] [--answer-regex R] [--estimate]
        critical tokens (CFT): per response token, its top alternatives rolled out greedily; stored as the token signal
        "critical" (for --token-policy critical). The cost (rollouts × max new tokens) is printed first; --estimate
        prints only that
  wise --base DIR --tuned DIR --alpha A --out DIR [--overwrite] [--project P]
        WiSE-FT: writes (1-A)*base + A*tuned, tensor by tensor, as a model folder (--project: and registers it there)
  wise-sweep --base DIR --tuned DIR --alphas 0,0.25,0.5,0.75,1 --data FILE --metric exact_match|accuracy|pass_at_1|loss
        --out curve.json [--keep-models DIR] [eval's flags]   (one eval per alpha: the forgetting/accuracy curve)
  serve [--port N]                                     browser mode (same as npm start without Electron)

  Common: --json (machine-readable result as the last stdout line), --home DIR (WINNOW_HOME)
  Layer SPEC: last:N | first:N | blocks:A-B | top:N:fim | attention | mlp | hft:SEED | all | names:t1,t2,...
  Parameter MASK (train only these entries; --layers, default all, is the scope it picks from):
    salience:abs_g|abs_wg|sq_wg:DENSITY[:global|per_tensor][:all] | gps:N (inputs per row) | gps:DENSITY | name:MASK (saved)
    (salience scores the scope's linear weight matrices, as SPEFT; ":all" adds embeddings, norms, biases, the LM head)
  --changed-only writes only the changed tensors plus winnow_delta.json (the base's path and hash)`;

const OPTIONS = {
  project: { type: 'string' },
  model: { type: 'string' },
  'ref-model': { type: 'string' },
  'history-model': { type: 'string' },
  data: { type: 'string' },
  signals: { type: 'string' },
  out: { type: 'string' },
  format: { type: 'string' },
  name: { type: 'string' },
  'skip-malformed': { type: 'boolean' },
  mapping: { type: 'string' },
  json: { type: 'boolean' },
  home: { type: 'string' },
  signal: { type: 'string' },
  'top-percent': { type: 'string' },
  top: { type: 'string' },
  min: { type: 'string' },
  max: { type: 'string' },
  asc: { type: 'boolean' },
  random: { type: 'string' },
  'ifd-top': { type: 'string' },
  'ifd-top-percent': { type: 'string' },
  'per-cluster': { type: 'string' },
  'per-cluster-percent': { type: 'string' },
  'cluster-run': { type: 'string' },
  kcenter: { type: 'string' },
  among: { type: 'string' },
  s2l: { type: 'string' },
  run: { type: 'string' },
  clusters: { type: 'string' },
  uds: { type: 'string' },
  'uds-buffer': { type: 'string' },
  'uds-lambda': { type: 'string' },
  'record-trajectories': { type: 'boolean' },
  'checkpoint-every': { type: 'string' },
  k: { type: 'string' },
  'max-iter': { type: 'string' },
  seed: { type: 'string' },
  subset: { type: 'string' },
  sample: { type: 'string' },
  layers: { type: 'string' },
  steps: { type: 'string' },
  lr: { type: 'string' },
  batch: { type: 'string' },
  accum: { type: 'string' },
  optimizer: { type: 'string' },
  schedule: { type: 'string' },
  warmup: { type: 'string' },
  'token-policy': { type: 'string' },
  'token-signal': { type: 'string' },
  'token-percent': { type: 'string' },
  'token-scope': { type: 'string' },
  dft: { type: 'boolean' },
  'max-tokens': { type: 'string' },
  'fim-examples': { type: 'string' },
  'fim-loss': { type: 'string' },
  'grad-layers': { type: 'string' },
  'grad-dim': { type: 'string' },
  'target-subset': { type: 'string' },
  'target-data': { type: 'string' },
  gamma: { type: 'string' },
  'param-mask': { type: 'string' },
  'param-examples': { type: 'string' },
  'changed-only': { type: 'boolean' },
  overwrite: { type: 'boolean' },
  port: { type: 'string' },
  adapter: { type: 'string' },
  'less-run': { type: 'string' },
  'target-column': { type: 'string' },
  'less-warmup': { type: 'string' },
  'keep-checkpoints': { type: 'string' },
  lora: { type: 'string' },
  'lora-targets': { type: 'string' },
  'lora-dropout': { type: 'string' },
  rslora: { type: 'boolean' },
  merged: { type: 'boolean' },
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  stop: { type: 'string', multiple: true },
  resume: { type: 'boolean' },
  metric: { type: 'string' },
  'answer-regex': { type: 'string' },
  labels: { type: 'string' },
  shard: { type: 'string' },
  'allow-code-execution': { type: 'boolean' },
  'code-timeout': { type: 'string' },
  'code-memory-mb': { type: 'string' },
  python: { type: 'string' },
  base: { type: 'string' },
  tuned: { type: 'string' },
  alpha: { type: 'string' },
  alphas: { type: 'string' },
  'keep-models': { type: 'string' },
  'max-positions': { type: 'string' },
  alternatives: { type: 'string' },
  estimate: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Opts = Partial<Record<keyof typeof OPTIONS, string | boolean | string[]>>;

function num(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new WinnowError('bad_input', `--${flag} must be a number, got "${String(v)}"`);
  return n;
}

function fimLossFlag(v: unknown): 'sum' | 'mean' | undefined {
  if (v === undefined) return undefined;
  if (v !== 'sum' && v !== 'mean') throw new WinnowError('bad_input', `--fim-loss must be sum or mean, got "${String(v)}"`);
  return v;
}

/**
 * --token-policy, --token-signal, --token-percent, --token-scope: the contract's TokenPolicySchema fields, for train,
 * export and a --param-mask pass alike. Absent flags stay absent (the call's defaults, or the training run's policy
 * for export); the call's schema checks the values and names the field at fault.
 */
function tokenPolicyFlags(o: Opts): TokenPolicyOverride {
  return {
    tokenPolicy: o['token-policy'] as TokenPolicyOverride['tokenPolicy'],
    tokenSignal: o['token-signal'] as string | undefined,
    tokenPercent: num(o['token-percent'], 'token-percent'),
    tokenScope: o['token-scope'] as TokenPolicyOverride['tokenScope'],
  };
}

function need(o: Opts, flag: keyof typeof OPTIONS): string {
  const v = o[flag];
  if (typeof v !== 'string' || !v) throw new WinnowError('bad_input', `--${flag} is required`);
  return v;
}

/** A CLI session: a project (named, a folder path, or a temporary one) with jobs run in this process. */
class Session {
  readonly service: EngineService;
  private tmp: string | null = null;

  constructor(project: string | undefined, private readonly quiet: boolean) {
    let dir = projectsDir();
    let name = 'cli';
    if (project === undefined) {
      this.tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-'));
      dir = this.tmp;
    } else if (project.includes('/') || project.includes('\\')) {
      dir = dirname(resolve(project));
      name = basename(resolve(project));
    } else name = project;
    this.service = new EngineService({ projectsDir: dir, mode: 'browser', executor: new InProcessExecutor() });
    this.service.open(name);
    this.service.onEvent((e) => {
      if (this.quiet) return;
      if (e.type === 'job' && e.job.status === 'running') {
        process.stderr.write(`[${e.job.kind}] ${e.job.current}/${e.job.total} ${e.job.message}\n`);
      } else if (e.type === 'log') process.stderr.write(`[${e.level}] ${e.message}\n`);
    });
  }

  async call<N extends ApiName>(name: N, input: ApiInput<N>): Promise<ApiOutputs[N]> {
    const r = await this.service.call(name, input);
    if (!r.ok) throw new WinnowError(r.error.code === 'engine_unavailable' ? 'internal' : r.error.code, r.error.message, r.error.details);
    return r.value as ApiOutputs[N];
  }

  /** Wait for a job and fail loudly if it did not finish. */
  async job(jobId: string): Promise<Job> {
    await this.service.whenIdle();
    const jobs = await this.call('jobs.list', {});
    const job = jobs.find((j) => j.jobId === jobId);
    if (!job) throw new WinnowError('internal', `job ${jobId} vanished`);
    if (job.status !== 'done') throw new WinnowError(job.error?.code ?? 'internal', job.error?.message ?? `${job.kind} job ${job.status}`);
    return job;
  }

  async importFile(path: string, opts: { format?: string; name?: string; skipMalformed?: boolean; mapping?: string }): Promise<Job> {
    const { jobId } = await this.call('datasets.import', {
      path: resolve(path), format: opts.format, name: opts.name, skipMalformed: opts.skipMalformed ?? false, mapping: parseMapping(opts.mapping),
    } as never);
    return this.job(jobId);
  }

  /** a model folder, or a hub id `org/name[@revision]` from the Hugging Face hub cache (when no such folder exists) */
  async model(dir: string): Promise<number> {
    return (await this.call('models.add', { path: existsSync(dir) || !parseHubId(dir) ? resolve(dir) : dir })).id;
  }

  close(): void {
    this.service.close();
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** `--mapping` as JSON (checked against the mapping schema by the API call). */
function parseMapping(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new WinnowError('bad_input', `--mapping: not valid JSON (${(err as Error).message}); e.g. '{"format":"prompt_completion","prompt":"q","completion":"a"}'`);
  }
}

async function withData(s: Session, o: Opts): Promise<{ datasetId?: number; subsetId: number | null }> {
  if (typeof o.data === 'string') {
    const job = await s.importFile(o.data, { format: o.format as string | undefined, skipMalformed: !!o['skip-malformed'], mapping: o.mapping as string | undefined });
    return { datasetId: Number(job.stats.datasetId), subsetId: null };
  }
  if (typeof o.project !== 'string') throw new WinnowError('bad_input', 'give --data FILE or --project P');
  if (typeof o.subset === 'string') return { subsetId: findSubsetByName(s.service.current().db, o.subset).id };
  return { subsetId: null };
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

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new WinnowError('bad_input', `--${flag}: expected a whole number of rows ≥ 1, got "${v}"`);
  return n;
}

async function run(argv: string[]): Promise<unknown> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
  const o = values as Opts;
  if (typeof o.home === 'string') process.env.WINNOW_HOME = resolve(o.home);
  const quiet = !!o.json;
  switch (command) {
    case 'convert': {
      const [kind, modelBin, tokBin, outDir] = positionals;
      if (kind !== 'llama2c' || !modelBin || !tokBin || !outDir) throw new WinnowError('bad_input', 'usage: winnow convert llama2c MODEL.bin TOKENIZER.bin OUT_DIR');
      const header = convertLlama2c(resolve(modelBin), resolve(tokBin), resolve(outDir));
      return { out: resolve(outDir), ...header };
    }
    case 'import': {
      const file = positionals[0];
      if (!file) throw new WinnowError('bad_input', 'usage: winnow import FILE --project P');
      const s = new Session(need(o, 'project'), quiet);
      try {
        const job = await s.importFile(file, {
          format: o.format as string | undefined, name: o.name as string | undefined, skipMalformed: !!o['skip-malformed'], mapping: o.mapping as string | undefined,
        });
        // the first skipped records with their lines and reasons (all of them: datasets.importSkips, or the Data screen)
        const skips = Number(job.stats.skipped) > 0
          ? (await s.call('datasets.importSkips', { datasetId: Number(job.stats.datasetId), offset: 0, limit: 20 })).rows : undefined;
        // and the first rows the active model's chat template could not render, with why (row: 0-based dataset row)
        const renders = Number(job.stats.renderErrors) > 0
          ? (await s.call('datasets.renderErrors', { datasetId: Number(job.stats.datasetId), offset: 0, limit: 20 })).rows.map((r) => ({ row: r.rowIndex, reason: r.reason }))
          : undefined;
        if (renders && !quiet) {
          process.stderr.write(`${String(job.stats.renderErrors)} rows could not be rendered${Number(job.stats.renderErrors) > 20 ? ' (the first 20)' : ''}:\n` +
            renders.map((r) => `  row ${r.row}: ${r.reason}\n`).join(''));
        }
        return {
          dataset: job.stats.datasetId, rows: job.stats.rows, skipped: job.stats.skipped, renderErrors: job.stats.renderErrors,
          format: job.stats.format, mapping: typeof job.stats.mapping === 'string' ? JSON.parse(job.stats.mapping) as unknown : undefined,
          ...(skips ? { skips } : {}), ...(renders ? { renderErrorReasons: renders } : {}),
        };
      } finally {
        s.close();
      }
    }
    case 'score': {
      const shard = typeof o.shard === 'string' ? parseShardSpec(o.shard) : undefined;
      if (shard) {
        // refused before any work: a shard scores in a temporary project of its own, and what it scores must add up
        if (typeof o.project === 'string') throw new WinnowError('bad_input', '--shard scores a --data FILE in a temporary project; put the shards into a project with winnow merge … --project P');
        if (typeof o.data !== 'string') throw new WinnowError('bad_input', '--shard needs --data FILE (the file every shard splits the same way)');
        if (o.sample !== undefined) throw new WinnowError('bad_input', '--shard and --sample together are not supported: a shard already scores its own 1/N of the rows (sample the file first, then shard it)');
        assertShardable(need(o, 'signals').split(',').map((x) => x.trim()), { subset: o['target-subset'] as string | undefined, data: o['target-data'] as string | undefined });
      }
      const s = new Session(o.project as string | undefined, quiet);
      try {
        await backendLine(quiet);
        const modelId = await s.model(need(o, 'model'));
        const refModelId = typeof o['ref-model'] === 'string' ? await s.model(o['ref-model']) : undefined;
        const historyModelId = typeof o['history-model'] === 'string' ? await s.model(o['history-model']) : undefined;
        const { datasetId, subsetId } = await withData(s, o);
        const rows = scoreRows(o, subsetId);
        const signals = need(o, 'signals').split(',').map((x) => x.trim()).filter(Boolean);
        // grad_sim's target set: a subset of the project, or a file imported as a dataset of its own
        let targetSubsetId: number | undefined;
        let targetSubsetIds: number[] | undefined;
        let targetDatasetId: number | undefined;
        const less = signals.includes('grad_sim');
        if (typeof o['target-subset'] === 'string' && less) {
          // LESS's subtasks: one subset each
          targetSubsetIds = o['target-subset'].split(',').map((n) => findSubsetByName(s.service.current().db, n.trim()).id);
        } else if (typeof o['target-subset'] === 'string') targetSubsetId = findSubsetByName(s.service.current().db, o['target-subset']).id;
        else if (typeof o['target-data'] === 'string') ({ targetSubsetId, targetDatasetId } = await importTargetData(s, o['target-data'], o));
        const shardRows = shard ? rowsOfShard(s.service.current().db, datasetId!, shard) : undefined;
        const onlySubsetId = shard ? shardSubset(s.service.current().db, shard, shardRows!.map((r) => r.exampleId)) : undefined;
        if (!less && (o['less-run'] !== undefined || o['less-warmup'] !== undefined)) throw new WinnowError('bad_input', '--less-run and --less-warmup are for --signals grad_sim');
        if (o['less-run'] !== undefined && o['less-warmup'] !== undefined) throw new WinnowError('bad_input', 'give --less-run N or --less-warmup P:EPOCHS:K, not both');
        const lessWarmup = less && typeof o['less-warmup'] === 'string' ? lessWarmupFlags(o) : undefined;
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
        const written = writeScoresJsonl(s.service.current().db, {
          runId: Number(job.stats.runId), datasetId, rows, signals: withDuplicateCompanions(signals), out, onlyExampleIds: shardRows && new Set(shardRows.map((r) => r.exampleId)),
        });
        const shardFile = shard
          ? writeShardResult(s.service.current().db, { runId: Number(job.stats.runId), datasetId: datasetId!, shard, rows: shardRows!, scoresOut: out, targetDatasetId })
          : undefined;
        return {
          out, rows: written.rows, errors: written.errors, runId: job.stats.runId, scope: plan.rows, plan, tokensPerSec: job.stats.tokensPerSec, ...(lessRunId !== undefined ? { lessRunId } : {}),
          ...(shard ? { shard: `${shard.index}/${shard.count}`, result: shardFile } : {}),
        };
      } finally {
        s.close();
      }
    }
    case 'merge': {
      if (!positionals.length) throw new WinnowError('bad_input', 'usage: winnow merge OUT.shard.json... --project P (score shards) | --out FILE (generate / eval shards)');
      // generate / eval shards: merged into one file, no project
      if (outputShardCommand(positionals[0]!)) return mergeOutputShards(positionals, need(o, 'out'));
      // every check on the shard files comes before the project is opened: a refused merge changes nothing
      const shards = positionals.map(readShardResult);
      const { count, rows } = checkShardSet(shards);
      const s = new Session(need(o, 'project'), quiet);
      try {
        // fim is finished on the backend, as the pass finishes it
        await backendLine(quiet);
        const runId = await mergeShards(s, shards, o);
        const out = typeof o.out === 'string' ? resolve(o.out) : undefined;
        const db = s.service.current().db;
        const datasetId = db.prepare('SELECT dataset_id FROM score_runs WHERE id = ?').pluck().get(runId) as number;
        const written = out ? writeScoresJsonl(db, { runId, datasetId, signals: withDuplicateCompanions(shards[0]!.signals), out }) : undefined;
        return { runId, dataset: datasetId, shards: count, rows, ...(out ? { out, scored: written!.rows, errors: written!.errors } : {}) };
      } finally {
        s.close();
      }
    }
    case 'select': {
      const s = new Session(need(o, 'project'), quiet);
      try {
        const name = need(o, 'name');
        let rule: ApiInput<'subsets.create'>['rule'];
        if (o.kcenter !== undefined) {
          // k-center reads every embedding and takes n·k distance steps: a job, with progress on stderr
          const among = typeof o.among === 'string' ? findSubsetByName(s.service.current().db, o.among).id : undefined;
          const { jobId } = await s.call('subsets.start', { name, rule: { kind: 'kcenter', count: num(o.kcenter, 'kcenter')!, seed: num(o.seed, 'seed') ?? 0, subsetId: among } });
          const job = await s.job(jobId);
          const subset = (await s.call('subsets.list', {})).find((x) => x.id === Number(job.stats.subsetId))!;
          return { subset: subset.id, name: subset.name, size: subset.size, rule: subset.rule };
        }
        if (o.uds !== undefined) {
          // UDS runs the model over every row: a job, with progress on stderr, on the backend set up here
          await backendLine(quiet);
          const modelId = await s.model(need(o, 'model'));
          const { jobId } = await s.call('subsets.start', {
            name,
            rule: {
              kind: 'uds', modelId, keep: num(o.uds, 'uds')!, batchSize: num(o.batch, 'batch') ?? 8, bufferSize: num(o['uds-buffer'], 'uds-buffer') ?? 1024,
              lambda: num(o['uds-lambda'], 'uds-lambda') ?? 2.5e-3, seed: num(o.seed, 'seed') ?? 0, maxTokens: num(o['max-tokens'], 'max-tokens') ?? 256,
            },
          });
          const job = await s.job(jobId);
          const subset = (await s.call('subsets.list', {})).find((x) => x.id === Number(job.stats.subsetId))!;
          return { subset: subset.id, name: subset.name, size: subset.size, rule: subset.rule };
        }
        if (o.s2l !== undefined) {
          rule = { kind: 's2l', count: num(o.s2l, 's2l')!, runId: num(need(o, 'run'), 'run')!, clusters: num(o.clusters, 'clusters') ?? 10, seed: num(o.seed, 'seed') ?? 0 };
        }
        else if (o.random !== undefined) rule = { kind: 'random', count: num(o.random, 'random')!, seed: num(o.seed, 'seed') ?? 0 };
        else if (o['ifd-top'] !== undefined || o['ifd-top-percent'] !== undefined) {
          if (o['ifd-top'] !== undefined && o['ifd-top-percent'] !== undefined) {
            throw new WinnowError('bad_input', 'give --ifd-top K or --ifd-top-percent X, not both');
          }
          // the rule always ranks by ifd: a --signal would be ignored, so it is refused rather than silently dropped
          if (o.signal !== undefined) throw new WinnowError('bad_input', '--ifd-top ranks by ifd; leave out --signal');
          rule = { kind: 'ifd_top', count: num(o['ifd-top'], 'ifd-top'), percent: num(o['ifd-top-percent'], 'ifd-top-percent') };
        }
        else if (o['per-cluster'] !== undefined || o['per-cluster-percent'] !== undefined) {
          if (o['per-cluster'] !== undefined && o['per-cluster-percent'] !== undefined) {
            throw new WinnowError('bad_input', 'give --per-cluster N or --per-cluster-percent X, not both');
          }
          rule = {
            kind: 'cluster_quota',
            count: num(o['per-cluster'], 'per-cluster'),
            percent: num(o['per-cluster-percent'], 'per-cluster-percent'),
            signal: o.signal as string | undefined,
            dir: o.asc ? 'asc' : 'desc',
            seed: num(o.seed, 'seed') ?? 0,
            clusterRunId: num(o['cluster-run'], 'cluster-run'),
          };
        }
        else if (o['top-percent'] !== undefined) rule = { kind: 'top', signal: need(o, 'signal'), percent: num(o['top-percent'], 'top-percent'), dir: o.asc ? 'asc' : 'desc' };
        else if (o.top !== undefined) rule = { kind: 'top', signal: need(o, 'signal'), count: num(o.top, 'top'), dir: o.asc ? 'asc' : 'desc' };
        else if (o.min !== undefined || o.max !== undefined) rule = { kind: 'threshold', signal: need(o, 'signal'), min: num(o.min, 'min'), max: num(o.max, 'max') };
        else rule = { kind: 'all' };
        const subset = await s.call('subsets.create', { name, rule });
        return { subset: subset.id, name: subset.name, size: subset.size, rule: subset.rule };
      } finally {
        s.close();
      }
    }
    case 'cluster': {
      const s = new Session(need(o, 'project'), quiet);
      try {
        const { jobId } = await s.call('clusters.start', { k: num(need(o, 'k'), 'k')!, seed: num(o.seed, 'seed') ?? 0, maxIter: num(o['max-iter'], 'max-iter') ?? 100 });
        await s.job(jobId);
        const info = (await s.call('clusters.info', {}))!;
        return { runId: info.runId, k: info.k, n: info.n, sizes: info.sizes, iterations: info.iterations, converged: info.converged, objective: info.objective };
      } finally {
        s.close();
      }
    }
    case 'train': {
      const s = new Session(o.project as string | undefined, quiet);
      try {
        // a bad --param-mask is refused before any import or model work
        if (typeof o['param-mask'] === 'string' && !o['param-mask'].startsWith('name:')) parseParamMaskSpec(o['param-mask']);
        const lora = loraFlags(o);
        await backendLine(quiet);
        const modelId = await s.model(need(o, 'model'));
        const { datasetId, subsetId } = await withData(s, o);
        const paramMask = typeof o['param-mask'] === 'string' ? await cliParamMask(s, o, { modelId, datasetId, subsetId }) : null;
        const { jobId, runId } = await s.call('train.start', {
          modelId, subsetId, datasetId,
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
        });
        const job = await s.job(jobId);
        const out = resolve(need(o, 'out'));
        if (lora) {
          // the adapter folder as PEFT loads it; the merged model only when asked for
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
        const exp = await s.call('export.start', {
          outDir: out, subsetId: null, trainRunId: runId, what: paramMask ? ['weights', 'param_mask'] : ['weights'], overwrite: !!o.overwrite,
          weightsForm: o['changed-only'] ? 'changed' : 'full',
        });
        await s.job(exp.jobId);
        return {
          out: join(out, 'model'), runId, loss: job.stats.loss, tokensPerSec: job.stats.tokensPerSec,
          ...(paramMask ? { paramMask: { name: paramMask.name, trainableParams: paramMask.trainableParams, file: join(out, 'param_mask.safetensors') } } : {}),
        };
      } finally {
        s.close();
      }
    }
    case 'export': {
      const s = new Session(o.project as string | undefined, quiet);
      try {
        const modelId = await s.model(need(o, 'model'));
        const { datasetId, subsetId } = await withData(s, o);
        const what: Array<'subset' | 'token_masks' | 'layer_mask' | 'scores' | 'configs'> = ['subset', 'token_masks', 'scores', 'configs'];
        let layerMaskId: number | undefined;
        if (typeof o.layers === 'string') {
          layerMaskId = (await s.call('layerMasks.save', { name: `cli-${Date.now()}`, modelId, layers: o.layers })).id;
          what.push('layer_mask');
        }
        const out = resolve(need(o, 'out'));
        const { jobId } = await s.call('export.start', {
          outDir: out, subsetId, datasetId, modelId, layerMaskId, what, overwrite: !!o.overwrite,
          ...tokenPolicyFlags(o),
        });
        const job = await s.job(jobId);
        return { out, files: job.stats.files };
      } finally {
        s.close();
      }
    }
    case 'generate':
      return runGenerateCommand({
        model: need(o, 'model'), adapter: o.adapter, data: need(o, 'data'), out: need(o, 'out'), resume: !!o.resume,
        format: o.format as string | undefined, mapping: o.mapping as string | undefined, skipMalformed: !!o['skip-malformed'],
        flags: samplingFlags(o, 128), quiet, shard: o.shard as string | undefined,
      });
    case 'eval':
      return runEvalCommand({
        model: need(o, 'model'), adapter: o.adapter, data: need(o, 'data'), out: need(o, 'out'), metric: need(o, 'metric'),
        answerRegex: o['answer-regex'] as string | undefined, labels: o.labels as string | undefined,
        format: o.format as string | undefined, mapping: o.mapping as string | undefined, skipMalformed: !!o['skip-malformed'],
        maxTokens: num(o['max-tokens'], 'max-tokens'), flags: samplingFlags(o, 256), quiet, shard: o.shard as string | undefined,
        allowCodeExecution: !!o['allow-code-execution'], codeLimits: codeLimits(o),
      });
    case 'critical': {
      const s = new Session(o.project as string | undefined, quiet);
      try {
        const budget = checkBudget({
          maxPositions: num(o['max-positions'], 'max-positions') ?? DEFAULT_CRITICAL_BUDGET.maxPositions,
          alternatives: num(o.alternatives, 'alternatives') ?? DEFAULT_CRITICAL_BUDGET.alternatives,
          maxNewTokens: num(o['max-new-tokens'], 'max-new-tokens') ?? DEFAULT_CRITICAL_BUDGET.maxNewTokens,
        });
        const { datasetId, subsetId } = await withData(s, o);
        const modelId = await s.model(need(o, 'model'));
        const db = s.service.current().db;
        const ids = subsetId !== null
          ? (db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(subsetId) as number[])
          : (db.prepare(`SELECT id FROM examples ${datasetId !== undefined ? 'WHERE dataset_id = ?' : ''} ORDER BY id`).pluck().all(...(datasetId !== undefined ? [datasetId] : [])) as number[]);
        await initBackend();
        const m = await loadModel(modelPath(db, modelId));
        try {
          let keyId = 0;
          const dsIds = db.prepare(`SELECT DISTINCT dataset_id FROM examples WHERE id IN (SELECT value FROM json_each(?))`).pluck().all(JSON.stringify(ids)) as number[];
          for (const d of dsIds) keyId = (await renderDataset(db, d, m.tokenizer, DEFAULT_RENDER)).renderKeyId;
          const est = estimateCriticalRun(db, m, { renderKeyId: keyId, exampleIds: ids, budget, answerRegex: o['answer-regex'] as string | undefined });
          const said = `critical tokens: ${est.examples} example(s) with a checkable answer (${est.skipped} skipped), ${est.positions} position(s) × ${budget.alternatives} alternative(s) = ${est.rollouts} rollout(s), at most ${est.maxGeneratedTokens} generated token(s)`;
          if (!quiet) process.stderr.write(said + '\n');
          if (o.estimate) return { estimate: est, message: said };
          const r = await runCriticalTokens(db, m, {
            modelId, datasetId: datasetId ?? null, renderKeyId: keyId, exampleIds: ids, budget, answerRegex: o['answer-regex'] as string | undefined,
            eosIds: eosIds(m.config, m.tokenizer, generationConfigEos(m.dir)),
            onProgress: (done, total) => {
              if (!quiet) process.stderr.write(`[critical] ${done}/${total}\n`);
            },
          });
          return { ...r, skipped: r.skipped.length, message: said };
        } finally {
          disposeModel(m);
        }
      } finally {
        s.close();
      }
    }
    case 'wise': {
      const r = runWiseCommand({ base: need(o, 'base'), tuned: need(o, 'tuned'), alpha: need(o, 'alpha'), out: need(o, 'out'), overwrite: !!o.overwrite });
      if (typeof o.project !== 'string') return r;
      // --project: registered there as a model of its own, to score and evaluate
      const s = new Session(o.project, quiet);
      try {
        const m = await s.call('models.add', { path: r.out as string });
        return { ...r, modelId: m.id };
      } finally {
        s.close();
      }
    }
    case 'wise-sweep':
      return runWiseSweepCommand({
        base: need(o, 'base'), tuned: need(o, 'tuned'), alphas: need(o, 'alphas'), data: need(o, 'data'), metric: need(o, 'metric'),
        out: need(o, 'out'), keepModels: o['keep-models'] as string | undefined,
        answerRegex: o['answer-regex'] as string | undefined, labels: o.labels as string | undefined,
        format: o.format as string | undefined, mapping: o.mapping as string | undefined, skipMalformed: !!o['skip-malformed'],
        maxTokens: num(o['max-tokens'], 'max-tokens'), flags: samplingFlags(o, 256), quiet, shard: o.shard as string | undefined,
        allowCodeExecution: !!o['allow-code-execution'], codeLimits: codeLimits(o),
      });
    case 'serve': {
      if (typeof o.port === 'string') process.env.WINNOW_PORT = o.port;
      await import('../server/index');
      return new Promise(() => {}); // runs until killed
    }
    default:
      process.stdout.write(USAGE + '\n');
      if (command && command !== 'help' && !o.help) throw new WinnowError('bad_input', `unknown command "${command}"`);
      return null;
  }
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

/**
 * --lora R[:ALPHA] with --lora-targets, --lora-dropout and --rslora as the train request's `lora` block (null without
 * --lora). Checked here, before any import or model work.
 */
function loraFlags(o: Opts): TrainConfig['lora'] | null {
  if (o.lora === undefined) {
    const stray = (['lora-targets', 'lora-dropout', 'rslora', 'merged'] as const).find((f) => o[f] !== undefined);
    if (stray) throw new WinnowError('bad_input', `--${stray} needs --lora R[:ALPHA]`);
    return null;
  }
  if (o['param-mask'] !== undefined) throw new WinnowError('bad_input', 'give --lora or --param-mask, not both');
  const m = /^(\d+)(?::([0-9]*\.?[0-9]+(?:e[+-]?\d+)?))?$/i.exec(String(o.lora));
  if (!m || Number(m[1]) < 1) throw new WinnowError('bad_input', `--lora must be R or R:ALPHA (rank a positive integer, e.g. 8 or 16:32), got "${String(o.lora)}"`);
  const r = Number(m[1]);
  const targets = typeof o['lora-targets'] === 'string' ? o['lora-targets'].split(',').map((t) => t.trim()).filter(Boolean) : undefined;
  if (targets && !targets.length) throw new WinnowError('bad_input', '--lora-targets: list module names (q_proj,v_proj) or a preset (attention, mlp, all-linear)');
  const parsed = LoraConfigSchema.safeParse({
    r, alpha: m[2] !== undefined ? Number(m[2]) : r, dropout: num(o['lora-dropout'], 'lora-dropout') ?? 0, targets, rslora: !!o.rslora,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new WinnowError('bad_input', `--lora: ${issue.path.join('.')} ${issue.message}`);
  }
  return parsed.data;
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

/** grad_sim's target set from a file: imported as a dataset of its own, all its rows a subset. */
async function importTargetData(s: Session, file: string, o: Opts): Promise<{ targetSubsetId: number; targetDatasetId: number }> {
  const job = await s.importFile(file, { format: o.format as string | undefined, skipMalformed: !!o['skip-malformed'] });
  const targetDatasetId = Number(job.stats.datasetId);
  const name = `target: ${basename(file)} (dataset ${targetDatasetId})`;
  return { targetDatasetId, targetSubsetId: (await s.call('subsets.create', { name, rule: { kind: 'all' }, datasetId: targetDatasetId })).id };
}

/** The rows a --shard process scores, as a subset of its temporary project (empty when the file has fewer rows than N). */
function shardSubset(db: Db, shard: ShardSpec, exampleIds: number[]): number {
  return db.transaction(() => {
    const id = Number(db.prepare(`INSERT INTO subsets (name, rule_json, size, created_at) VALUES (?, ?, ?, datetime('now'))`)
      .run(`shard ${shard.index}/${shard.count}`, JSON.stringify({ kind: 'ids', ids: [], source: `--shard ${shard.index}/${shard.count}` }), exampleIds.length).lastInsertRowid);
    const put = db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (?, ?)');
    for (const e of exampleIds) put.run(id, e);
    return id;
  })();
}

/**
 * `winnow merge`: import the shards' file and models into the project as an unsharded `winnow score --data FILE
 * --project P` would, render the rows under the run's render key, check they are the rows and tokens the shards
 * scored, and write the one run. What this adds to the project (the dataset, newly added models) is taken out again
 * when anything is refused after that point.
 */
async function mergeShards(s: Session, shards: LoadedShard[], o: Opts): Promise<number> {
  const first = shards[0]!;
  const db = s.service.current().db;
  const undo: Array<() => void> = [];
  try {
    const model = async (m: { path: string; hash: string }, flag: 'model' | 'ref-model' | 'history-model'): Promise<number> => {
      const path = typeof o[flag] === 'string' ? o[flag] : m.path;
      const before = new Set(db.prepare('SELECT id FROM models').pluck().all() as number[]);
      const id = await s.model(path);
      if (!before.has(id)) undo.push(() => db.prepare('DELETE FROM models WHERE id = ?').run(id));
      const hash = db.prepare('SELECT hash FROM models WHERE id = ?').pluck().get(id) as string;
      if (hash !== m.hash) throw new WinnowError('bad_input', `--${flag} ${path}: its weights hash ${hash}, the shards scored ${m.hash}`);
      return id;
    };
    const modelId = await model(first.models.model, 'model');
    const refModelId = first.models.ref ? await model(first.models.ref, 'ref-model') : undefined;
    const historyModelId = first.models.history ? await model(first.models.history, 'history-model') : undefined;
    const dataPath = typeof o.data === 'string' ? o.data : first.input.path;
    // the shards' mapping; --format and --skip-malformed as the shards were given them (rows are numbered after skips)
    const job = await s.importFile(dataPath, { mapping: JSON.stringify(first.input.mapping), format: o.format as string | undefined, skipMalformed: !!o['skip-malformed'] });
    const datasetId = Number(job.stats.datasetId);
    undo.push(() => deleteDataset(db, datasetId));
    const ds = db.prepare('SELECT hash, row_count, format FROM datasets WHERE id = ?').get(datasetId) as { hash: string; row_count: number; format: string };
    if (ds.hash !== first.input.sha256) throw new WinnowError('bad_input', `${dataPath}: sha256 ${ds.hash}, the shards split a file with sha256 ${first.input.sha256} (give the same file with --data)`);
    if (ds.row_count !== first.input.rows || ds.format !== first.input.format) {
      throw new WinnowError('bad_input', `${dataPath}: imports as ${ds.row_count} rows (${ds.format}), the shards read ${first.input.rows} rows (${first.input.format})`);
    }
    const modelDir = db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(modelId) as string;
    const rendered = await renderDataset(db, datasetId, await loadTokenizer(modelDir), { ...DEFAULT_RENDER, maxTokens: first.renderKey.maxTokens ?? undefined });
    const key = getRenderKey(db, rendered.renderKeyId);
    const want = first.renderKey;
    if (key.tokenizerId !== want.tokenizerId || key.templateHash !== want.templateHash || key.labelPolicy !== want.labelPolicy || key.maxTokens !== want.maxTokens || key.renderer !== want.renderer) {
      throw new WinnowError('bad_input', `the model here renders with another key than the shards scored: tokenizer ${key.tokenizerId} template ${key.templateHash} renderer v${key.renderer}, the shards: tokenizer ${want.tokenizerId} template ${want.templateHash} renderer v${want.renderer}`);
    }
    // grad_sim's target file, imported and rendered as an unsharded --target-data run has it
    let targetSubsetId: number | undefined;
    if (first.target) {
      const path = typeof o['target-data'] === 'string' ? o['target-data'] : first.target.path;
      const t = await importTargetData(s, path, o);
      undo.push(() => deleteDataset(db, t.targetDatasetId));
      const hash = db.prepare('SELECT hash FROM datasets WHERE id = ?').pluck().get(t.targetDatasetId) as string;
      if (hash !== first.target.sha256) throw new WinnowError('bad_input', `${path}: sha256 ${hash}, the shards' grad_sim target file had sha256 ${first.target.sha256} (give that file with --target-data)`);
      await renderDataset(db, t.targetDatasetId, await loadTokenizer(modelDir), { ...DEFAULT_RENDER, maxTokens: first.renderKey.maxTokens ?? undefined });
      targetSubsetId = t.targetSubsetId;
    }
    const runId = importMergedRun(db, shards, {
      datasetId, modelId, refModelId, historyModelId, renderKeyId: rendered.renderKeyId,
      params: { ...first.options, modelId, refModelId, historyModelId, datasetId, signals: first.signals, projectModelPath: modelDir, ...(targetSubsetId !== undefined ? { targetSubsetId } : {}) },
    });
    // as scoring.start does: the scored model is the project's active one
    setActiveModel(db, modelId);
    return runId;
  } catch (err) {
    for (const u of undo.reverse()) u();
    throw err;
  }
}

/** pass@1's sandbox limits from --code-timeout (s), --code-memory-mb and --python; unset ones keep the defaults */
function codeLimits(o: Opts): Partial<CodeLimits> {
  const out: Partial<CodeLimits> = {};
  const t = num(o['code-timeout'], 'code-timeout');
  const mb = num(o['code-memory-mb'], 'code-memory-mb');
  if (t !== undefined) {
    if (t <= 0) throw new WinnowError('bad_input', `--code-timeout must be a positive number of seconds, got ${t}`);
    out.timeoutS = t;
  }
  if (mb !== undefined) {
    if (mb < 64) throw new WinnowError('bad_input', `--code-memory-mb must be at least 64 (Python itself needs some), got ${mb}`);
    out.memoryMb = mb;
  }
  if (typeof o.python === 'string') out.python = o.python;
  return out;
}

function samplingFlags(o: Opts, maxNew: number): SamplingFlags {
  return {
    maxNewTokens: num(o['max-new-tokens'], 'max-new-tokens') ?? maxNew,
    temperature: num(o.temperature, 'temperature'),
    topK: num(o['top-k'], 'top-k'),
    topP: num(o['top-p'], 'top-p'),
    seed: num(o.seed, 'seed'),
    stop: o.stop as string[] | undefined,
    batchSize: num(o.batch, 'batch'),
  };
}

async function backendLine(quiet: boolean): Promise<void> {
  const b = await initBackend();
  if (!quiet) process.stderr.write(`backend: ${b.name} (${b.reason})${b.unavailable.length ? `; unavailable: ${b.unavailable.map((u) => `${u.name}: ${u.why}`).join('; ')}` : ''}\n`);
}

run(process.argv.slice(2)).then(
  (result) => {
    if (result === null) return;
    const json = process.argv.includes('--json');
    process.stdout.write(json ? JSON.stringify(result) + '\n' : JSON.stringify(result, null, 2) + '\n');
    process.exit(0);
  },
  (err) => {
    const e = toErrorValue(err);
    if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ ok: false, error: e }) + '\n');
    process.stderr.write(`winnow: ${e.message}\n`);
    process.exit(e.code === 'bad_input' ? 2 : 1);
  },
);
