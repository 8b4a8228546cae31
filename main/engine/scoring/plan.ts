/**
 * Scoring plans: a set of signals → the fewest model passes that yield them. One forward pass of a model gives every
 * forward-only signal of that model; a reference model is one more pass; IFD adds the answer-only pass; gradient
 * signals share one backward pass; text signals (duplicates) need no model at all.
 */
import type { ScorePlan } from '../../../preload/contract';
import type { Db } from '../db';
import { WinnowError } from '../util/errors';

/** Signals one forward pass of the scored model yields. */
export const FORWARD_SIGNALS = [
  'token_loss', 'token_entropy', 'token_prob', 'token_rank', 'mean_loss', 'ppl',
  'length_tokens', 'response_tokens', 'trainable_tokens', 'embedding',
] as const;
/** Signals that need a second model's forward pass. */
export const REFERENCE_SIGNALS = ['excess_loss', 'learnability'] as const;
export const ANSWER_ONLY_SIGNALS = ['ifd'] as const;
export const GRADIENT_SIGNALS = ['fim', 'layer_grad_norm'] as const;
export const TEXT_SIGNALS = ['exact_dup', 'near_dup'] as const;

/** Signals this build computes. Anything else is refused up front with the list, not half-run. */
export const IMPLEMENTED_SIGNALS = new Set<string>([
  ...FORWARD_SIGNALS, ...REFERENCE_SIGNALS, ...ANSWER_ONLY_SIGNALS, ...GRADIENT_SIGNALS,
]);

/**
 * A backward pass (batch 1, all parameters) costs about this many batched forward passes per example: measured on
 * stories260K / GSM8K, wasm, 2 loaded cores (bench/score.ts): forward family 1.1-1.5k tokens/s at batch 8, fim
 * 385-445 tokens/s.
 */
export const BACKWARD_COST = 3;
export const DEFAULT_FIM_EXAMPLES = 100;

export function checkSignals(signals: string[]): void {
  const unknown = signals.filter((s) => !IMPLEMENTED_SIGNALS.has(s));
  if (unknown.length) {
    throw new WinnowError(
      'unsupported',
      `signal(s) ${unknown.join(', ')} not available in this build; available: ${[...IMPLEMENTED_SIGNALS].join(', ')}`,
    );
  }
}

export function planScoring(
  db: Db,
  input: { signals: string[]; datasetId?: number; refModelId?: number; fimExamples?: number },
): ScorePlan {
  checkSignals(input.signals);
  const has = (list: readonly string[]) => input.signals.filter((s) => list.includes(s));
  const passes: ScorePlan['passes'] = [];
  const fwd = has(FORWARD_SIGNALS);
  const ref = has(REFERENCE_SIGNALS);
  if (fwd.length || ref.length || has(ANSWER_ONLY_SIGNALS).length) passes.push({ model: 'model', kind: 'forward', signals: fwd });
  if (ref.length) {
    if (!input.refModelId) throw new WinnowError('bad_input', `${ref.join(', ')} need a reference model (refModelId)`);
    passes.push({ model: 'reference', kind: 'forward', signals: ref });
  }
  if (has(ANSWER_ONLY_SIGNALS).length) passes.push({ model: 'model', kind: 'forward_answer_only', signals: has(ANSWER_ONLY_SIGNALS) });
  if (has(GRADIENT_SIGNALS).length) passes.push({ model: 'model', kind: 'backward', signals: has(GRADIENT_SIGNALS) });
  const examples = (
    input.datasetId !== undefined
      ? db.prepare('SELECT COUNT(*) FROM examples WHERE dataset_id = ?').pluck().get(input.datasetId)
      : db.prepare('SELECT COUNT(*) FROM examples').pluck().get()
  ) as number;
  // the last measured throughput of this project, if any, gives an estimate
  const eps = Number(db.prepare(`SELECT value FROM project_meta WHERE key = 'score_examples_per_sec'`).pluck().get() ?? 0);
  // forward passes see every example; the backward pass only the N chosen ones, one at a time
  const work = passes.reduce(
    (a, pass) => a + (pass.kind === 'backward' ? BACKWARD_COST * Math.min(examples, input.fimExamples ?? DEFAULT_FIM_EXAMPLES) : examples),
    0,
  );
  return { passes, examples, estimatedSeconds: eps > 0 ? work / eps : null };
}
