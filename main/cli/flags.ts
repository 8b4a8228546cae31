/**
 * The `winnow` command line's flags: the one option table every command parses with, and the checks that turn a
 * flag's text into what the engine takes (a number, a LoRA block, a token policy, sampling settings). Each refusal
 * names the flag; none of them touches a project, so a bad flag is refused before any work.
 */
import { WinnowError } from '../engine/util/errors';
import type { CodeLimits } from '../engine/eval/code-exec';
import type { SamplingFlags } from '../engine/eval/rows';
import type { TokenPolicyOverride } from '../../preload/contract';
import { LoraConfigSchema, type TrainConfig } from '../../preload/contract';

export const OPTIONS = {
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
  where: { type: 'string', multiple: true },
  search: { type: 'string' },
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

export type Opts = Partial<Record<keyof typeof OPTIONS, string | boolean | string[]>>;

export function num(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new WinnowError('bad_input', `--${flag} must be a number, got "${String(v)}"`);
  return n;
}

export function need(o: Opts, flag: keyof typeof OPTIONS): string {
  const v = o[flag];
  if (typeof v !== 'string' || !v) throw new WinnowError('bad_input', `--${flag} is required`);
  return v;
}

export function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new WinnowError('bad_input', `--${flag}: expected a whole number of rows ≥ 1, got "${v}"`);
  return n;
}

/**
 * `--where` conditions as the Examples table's range filters: `COL>=A`, `COL<=B` or `COL=A` (both ends), one per flag;
 * two on one column make one range. The column is checked by the engine, which names the known ones.
 */
export function parseWhere(list: string[]): Array<{ column: string; min?: number; max?: number }> {
  const byColumn = new Map<string, { column: string; min?: number; max?: number }>();
  for (const w of list) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_.:-]*)\s*(>=|<=|=)\s*(\S+)\s*$/.exec(w);
    if (!m) throw new WinnowError('bad_input', `--where "${w}": expected COLUMN>=NUMBER, COLUMN<=NUMBER or COLUMN=NUMBER (e.g. --where "mean_loss>=2.5")`);
    const [, column, op, text] = m as unknown as [string, string, string, string];
    const v = Number(text);
    if (!Number.isFinite(v)) throw new WinnowError('bad_input', `--where "${w}": "${text}" is not a number`);
    const f = byColumn.get(column) ?? { column };
    if (op !== '<=') f.min = f.min === undefined ? v : Math.max(f.min, v);
    if (op !== '>=') f.max = f.max === undefined ? v : Math.min(f.max, v);
    byColumn.set(column, f);
  }
  return [...byColumn.values()];
}

/** `--mapping` as JSON (checked against the mapping schema by the API call). */
export function parseMapping(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new WinnowError('bad_input', `--mapping: not valid JSON (${(err as Error).message}); e.g. '{"format":"prompt_completion","prompt":"q","completion":"a"}'`);
  }
}

/**
 * --token-policy, --token-signal, --token-percent, --token-scope: the contract's TokenPolicySchema fields, for train,
 * export and a --param-mask pass alike. Absent flags stay absent (the call's defaults, or the training run's policy
 * for export); the call's schema checks the values and names the field at fault.
 */
export function tokenPolicyFlags(o: Opts): TokenPolicyOverride {
  return {
    tokenPolicy: o['token-policy'] as TokenPolicyOverride['tokenPolicy'],
    tokenSignal: o['token-signal'] as string | undefined,
    tokenPercent: num(o['token-percent'], 'token-percent'),
    tokenScope: o['token-scope'] as TokenPolicyOverride['tokenScope'],
  };
}

/**
 * --lora R[:ALPHA] with --lora-targets, --lora-dropout and --rslora as the train request's `lora` block (null without
 * --lora). Checked here, before any import or model work.
 */
export function loraFlags(o: Opts): TrainConfig['lora'] | null {
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

/** pass@1's sandbox limits from --code-timeout (s), --code-memory-mb and --python; unset ones keep the defaults */
export function codeLimits(o: Opts): Partial<CodeLimits> {
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

export function samplingFlags(o: Opts, maxNew: number): SamplingFlags {
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
