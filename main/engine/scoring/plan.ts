/**
 * Scoring plans: a set of signals → the fewest model passes that yield them. One forward pass of a model gives every
 * forward-only signal of that model (and, for sstoken, its last layer's attention); a reference model is one more
 * pass; IFD adds the answer-only pass; RIFD the reverse-prompt pass and the instruction-only pass; every gradient
 * signal shares one backward pass per example; text signals (duplicates) need no model at all.
 */
import type { ScorePlan } from '../../../preload/contract';
import type { Db } from '../db';
import { WinnowError } from '../util/errors';
import { modelPath } from '../db/models';
import { measuredThroughput, modelHasTokenScores, type ThroughputKey } from '../db/score-runs';
import { trainRunRow } from '../db/training';
import { charsWhere, renderedSample, subsetRowsOutside, subsetSize } from '../db/score-rows';
import { checkpointTensors } from '../models/checkpoint-tensors';
import { layerBlockScores } from '../db/layers';
import { resolveLayerSpec } from '../selection/layers';
import { DEFAULT_GRAD_DIM } from './passes/projection';
import { checkRowScope, describeRows, scopeWhere, type RowScope } from './rows';

/** characters per token before any row of the project is rendered (English text with a BPE vocabulary) */
const CHARS_PER_TOKEN = 4;

/**
 * About how many tokens the scoped rows hold: their characters at the tokens per character of the project's rendered
 * rows (a sample of them), or CHARS_PER_TOKEN before any is. Characters are stored for every row at import; tokens
 * only once a row is rendered, which a scoring job does first, after the plan.
 */
export function scopeTokens(db: Db, rows: RowScope | undefined, datasetId: number | undefined): number {
  const { where, args } = scopeWhere(db, rows, datasetId);
  const chars = charsWhere(db, where, args);
  const seen = renderedSample(db);
  const perChar = seen.tokens && seen.chars ? seen.tokens / seen.chars : 1 / CHARS_PER_TOKEN;
  return chars * perChar;
}

/** Signals one forward pass of the scored model yields. */
export const FORWARD_SIGNALS = [
  'token_loss', 'token_entropy', 'token_prob', 'token_rank', 'mean_loss', 'ppl',
  'length_tokens', 'response_tokens', 'trainable_tokens', 'embedding',
] as const;
/**
 * Signals compared with a LATER reference model (refModelId, CLI --ref-model): excess_loss = ℓ^θ − ℓ^ref and
 * learnability = (L_θ − L_ref) / L_θ, with θ the earlier (base) model and ref the tuned one.
 */
export const LATER_REFERENCE_SIGNALS = ['excess_loss', 'learnability'] as const;
/**
 * Signals compared with an EARLIER "history" model (historyModelId, CLI --history-model): sstoken's REL = ℓ^his − ℓ^θ,
 * with his the base and θ the model being tuned (ssToken scripts/finetune.py: ref_losses − the training model's).
 */
export const HISTORY_SIGNALS = ['sstoken'] as const;
/** Signals that need a second model's forward pass. */
export const REFERENCE_SIGNALS = [...LATER_REFERENCE_SIGNALS, ...HISTORY_SIGNALS] as const;
/** Signals that need the scored model's last-layer attention from its forward pass. */
export const ATTENTION_SIGNALS = ['sstoken'] as const;
export const ANSWER_ONLY_SIGNALS = ['ifd'] as const;
/** Reflection-tuning's reverse IFD: two more forward passes (reverse prompt; instruction alone). */
export const REVERSE_SIGNALS = ['rifd'] as const;
/** Per-layer gradient signals: over N seeded examples. */
export const LAYER_GRADIENT_SIGNALS = ['fim', 'layer_grad_norm'] as const;
/** Per-example gradient signals of the scored model: over every example of the scope (gradient-pass.ts). */
export const EXAMPLE_GRADIENT_SIGNALS = ['grad_norm', 'grad_sim_base'] as const;
export const GRADIENT_SIGNALS = [...LAYER_GRADIENT_SIGNALS, ...EXAMPLE_GRADIENT_SIGNALS] as const;
/** LESS's grad_sim: LoRA gradients at each checkpoint of a warm-up run (less-pass.ts), one backward per example and checkpoint. */
export const LESS_SIGNALS = ['grad_sim'] as const;
/**
 * Text signals: computed at import for every dataset (data/duplicates.ts), no model needed. Asked for in a scoring
 * run, they are recorded under the run (copied from the import's values; computed where a dataset lacks them), so the
 * CLI JSONL and the run's history carry them like any other signal.
 */
export const TEXT_SIGNALS = ['exact_dup', 'near_dup'] as const;

/** Signals this build computes. Anything else is refused up front with the list, not half-run. */
export const IMPLEMENTED_SIGNALS = new Set<string>([
  ...FORWARD_SIGNALS, ...REFERENCE_SIGNALS, ...ANSWER_ONLY_SIGNALS, ...REVERSE_SIGNALS, ...GRADIENT_SIGNALS, ...LESS_SIGNALS, ...TEXT_SIGNALS,
]);

/**
 * A backward pass (batch 1, all parameters) costs about this many batched forward passes per example: measured on
 * stories260K / GSM8K, wasm, 2 loaded cores (bench/score.ts): forward family 1.1-1.5k tokens/s at batch 8, fim
 * 385-445 tokens/s. Used until the project has measured its own backward throughput.
 */
export const BACKWARD_COST = 3;
export const DEFAULT_FIM_EXAMPLES = 100;
/**
 * grad_sim's projection costs about P·d / PROJECTION_RATE seconds per example (P parameters, d dimensions): measured
 * 0.26-0.35 s per example for P = 300k, d = 1024, batches of 1 and 8 (passes/projection.ts, Node 20, 2 shared cores
 * at load 4-7, 2026-11-29).
 */
export const PROJECTION_RATE = 1e9;
export const DEFAULT_SSTOKEN_GAMMA = 0.5;

export function checkSignals(signals: string[]): void {
  const unknown = signals.filter((s) => !IMPLEMENTED_SIGNALS.has(s));
  if (unknown.length) {
    throw new WinnowError(
      'unsupported',
      `signal(s) ${unknown.join(', ')} not available in this build; available: ${[...IMPLEMENTED_SIGNALS].join(', ')}`,
    );
  }
}

export interface PlanInput {
  signals: string[];
  modelId?: number;
  datasetId?: number;
  refModelId?: number;
  historyModelId?: number;
  fimExamples?: number;
  targetSubsetId?: number;
  targetSubsetIds?: number[];
  lessRunId?: number;
  /** a warm-up the scoring queues first (only its checkpoint count is read here) */
  lessWarmup?: { checkpoints: number };
  gradLayers?: string;
  gradDim?: number;
  batchSize?: number;
  /** the rows scored (default all) */
  rows?: RowScope;
}

/** Parameters a per-example gradient signal is taken over (from the checkpoint headers; null without a model). */
/** parameters the gradient pass differentiates for the per-example signals (all, or the `gradLayers` spec's) */
export function gradParams(db: Db, input: PlanInput): number | null {
  if (input.modelId === undefined) return null;
  const tensors = checkpointTensors(modelPath(db, input.modelId));
  const spec = input.gradLayers?.trim();
  const names = new Set(spec && spec !== 'all' ? resolveLayerSpec(spec, tensors, layerBlockScores(db, input.modelId, spec)) : tensors.map((t) => t.name));
  return tensors.filter((t) => names.has(t.name)).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
}

export function planScoring(db: Db, input: PlanInput): ScorePlan {
  checkSignals(input.signals);
  const has = (list: readonly string[]) => input.signals.filter((s) => list.includes(s));
  const examples = checkRowScope(db, input.rows, input.datasetId);
  // the last measured throughputs of this project, if any, give the estimate
  const meta = (key: ThroughputKey) => measuredThroughput(db, key);
  const eps = meta('score_examples_per_sec');
  const backEps = meta('score_backward_examples_per_sec') || eps / BACKWARD_COST;
  // forward passes from tokens (a pass's work grows with the tokens it reads; util/eta.ts): the scope's tokens at the
  // last run's tokens/s; examples/s only where no run has measured tokens yet
  const tps = meta('score_tokens_per_sec');
  const tokens = tps > 0 && examples > 0 ? scopeTokens(db, input.rows, input.datasetId) : 0;
  const fwdSeconds = (n: number) => (tps > 0 && tokens > 0 ? (tokens * n) / examples / tps : eps > 0 ? n / eps : null);

  const passes: ScorePlan['passes'] = [];
  const fwd = [...has(FORWARD_SIGNALS), ...has(ATTENTION_SIGNALS)];
  const ref = has(LATER_REFERENCE_SIGNALS);
  const his = has(HISTORY_SIGNALS);
  if (fwd.length || ref.length || his.length || has(ANSWER_ONLY_SIGNALS).length || has(REVERSE_SIGNALS).length) {
    passes.push({ model: 'model', kind: 'forward', signals: fwd, examples, estimatedSeconds: fwdSeconds(examples) });
  }
  if (ref.length && !input.refModelId) {
    throw new WinnowError('bad_input', `${ref.join(', ')} need a reference model, the LATER one (e.g. the model tuned from the scored one): refModelId (CLI --ref-model DIR)`);
  }
  if (his.length && !input.historyModelId) {
    throw new WinnowError('bad_input', `${his.join(', ')} needs a history model, the EARLIER one (e.g. the base the scored model was tuned from): historyModelId (CLI --history-model DIR)`);
  }
  if (ref.length && his.length && input.refModelId === input.historyModelId && input.refModelId !== input.modelId) {
    throw new WinnowError('bad_input', `model ${input.refModelId} is given as both the later reference (${ref.join(', ')}) and the earlier history model (${his.join(', ')}); one model cannot be both — score them in two runs`);
  }
  if (ref.length) passes.push({ model: 'reference', kind: 'forward', signals: ref, examples, estimatedSeconds: fwdSeconds(examples) });
  if (his.length) passes.push({ model: 'history', kind: 'forward', signals: his, examples, estimatedSeconds: fwdSeconds(examples) });
  if (has(ANSWER_ONLY_SIGNALS).length) {
    passes.push({ model: 'model', kind: 'forward_answer_only', signals: has(ANSWER_ONLY_SIGNALS), examples, estimatedSeconds: fwdSeconds(examples) });
  }
  if (has(REVERSE_SIGNALS).length) {
    // the reverse prompt holds the whole answer: about as long as the example itself
    passes.push({ model: 'model', kind: 'forward_reverse', signals: has(REVERSE_SIGNALS), examples, estimatedSeconds: fwdSeconds(examples) });
    passes.push({ model: 'model', kind: 'forward_instruction_only', signals: has(REVERSE_SIGNALS), examples, estimatedSeconds: fwdSeconds(examples) });
  }
  const grad = has(GRADIENT_SIGNALS);
  if (grad.length) {
    const n = backwardExamples(db, input, examples);
    // resolving the layer spec here refuses a bad one before any job runs
    const P = has(EXAMPLE_GRADIENT_SIGNALS).length ? gradParams(db, input) : null;
    let secs = backEps > 0 ? n / backEps : null;
    if (secs !== null && P !== null && input.signals.includes('grad_sim_base')) {
      const d = input.gradDim ?? DEFAULT_GRAD_DIM;
      secs += (n * P * d) / PROJECTION_RATE;
    }
    passes.push({ model: 'model', kind: 'backward', signals: grad, examples: n, estimatedSeconds: secs });
  }
  if (has(LESS_SIGNALS).length) {
    if (input.lessRunId === undefined && !input.lessWarmup) {
      throw new WinnowError('bad_input', 'grad_sim (LESS) needs a LoRA warm-up run: lessRunId or lessWarmup (CLI --less-run N, or --less-warmup P:EPOCHS:K to train one); the base model\'s plain gradients are grad_sim_base');
    }
    if (input.lessRunId !== undefined && input.lessWarmup) throw new WinnowError('bad_input', 'grad_sim: give lessRunId (CLI --less-run) or lessWarmup (--less-warmup), not both');
    if (!input.targetSubsetIds?.length && input.targetSubsetId === undefined) {
      throw new WinnowError('bad_input', 'grad_sim needs a target set: targetSubsetId or targetSubsetIds (CLI --target-subset NAME[,NAME…])');
    }
    let k = input.lessWarmup?.checkpoints ?? 1;
    if (input.lessRunId !== undefined) {
      const warm = trainRunRow(db, input.lessRunId)?.config_json;
      if (warm === undefined) throw new WinnowError('not_found', `grad_sim: train run ${input.lessRunId} (lessRunId) not found`);
      k = (JSON.parse(warm) as { keepCheckpoints?: number }).keepCheckpoints ?? 1;
    }
    // one backward per example and kept checkpoint, on the LoRA adapters only
    passes.push({ model: 'model', kind: 'backward', signals: has(LESS_SIGNALS), examples: examples * k, estimatedSeconds: backEps > 0 ? (examples * k) / backEps : null });
  }
  if (has(TEXT_SIGNALS).length) {
    // no model: read from the import's duplicate columns (computed only where a dataset has none)
    passes.push({ model: 'none', kind: 'text', signals: has(TEXT_SIGNALS), examples, estimatedSeconds: 0 });
  }
  const known = passes.every((p) => p.estimatedSeconds !== null && p.estimatedSeconds !== undefined);
  return {
    passes, examples, estimatedSeconds: known && passes.length ? passes.reduce((a, p) => a + p.estimatedSeconds!, 0) : null,
    rows: describeRows(db, input.rows, examples),
  };
}

/** Examples the backward pass differentiates: fim's sample ∪ the scope (per-example signals) ∪ the target set. */
function backwardExamples(db: Db, input: PlanInput, examples: number): number {
  const fim = input.signals.some((s) => (LAYER_GRADIENT_SIGNALS as readonly string[]).includes(s)) ? Math.min(examples, input.fimExamples ?? DEFAULT_FIM_EXAMPLES) : 0;
  const perExample = input.signals.some((s) => (EXAMPLE_GRADIENT_SIGNALS as readonly string[]).includes(s));
  let n = perExample ? examples : fim;
  if (input.signals.includes('grad_sim_base')) {
    if (input.targetSubsetId === undefined) throw new WinnowError('bad_input', 'grad_sim_base needs a target set: targetSubsetId (CLI --target-subset NAME)');
    const size = subsetSize(db, input.targetSubsetId);
    if (!size) throw new WinnowError('bad_input', `grad_sim_base: target subset ${input.targetSubsetId} is empty or does not exist`);
    const outside = input.datasetId !== undefined ? subsetRowsOutside(db, input.targetSubsetId, input.datasetId) : 0;
    n += perExample ? outside : size;
  }
  return n;
}

/**
 * A token policy that keeps the top k% by a token signal needs that signal's token scores for the model: checked
 * when a training run or a parameter mask is started, so the form shows the refusal instead of a job failing later.
 * Looks at the model's runs that named the signal (score_runs.signals_json), then for one stored value of it.
 */
export function assertTokenSignalScored(db: Db, modelId: number, signal: string): void {
  if (modelHasTokenScores(db, modelId, signal)) return;
  throw new WinnowError(
    'bad_input',
    `token policy top_percent: no "${signal}" token scores for model ${modelId} yet — score it first (Score screen, or winnow score --signals ${signal})`,
    { field: 'tokenSignal', signal },
  );
}
