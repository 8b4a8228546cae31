/**
 * Critical tokens (Critical Token Fine-tuning, Ruan et al. 2025, arXiv 2510.10974): for a response whose final answer
 * can be checked (GSM8K's `#### N`), each response token in turn is replaced by the model's next most likely tokens
 * at that position (the top `alternatives` other than the token itself: the 2nd and 3rd most likely when the response
 * is the model's own greedy one), and the rest is rolled out greedily from there. A token is critical when such a
 * replacement flips the response's correctness (a correct answer becomes wrong; for a wrong response, right).
 *
 * The value stored per token is the share of its alternatives whose rollout flips correctness: 0 = not critical,
 * > 0 = critical under the paper's reading ("a token whose substitution with a plausible alternative results in an
 * incorrect final answer"), 1 = every alternative flips it. Tokens past the position budget get no value (NaN).
 *
 * Cost: one forward pass over the whole example, then positions × alternatives greedy rollouts of at most
 * `maxNewTokens` tokens each; estimateCriticalCost states it before anything runs.
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../models/forward';
import { generate } from '../models/generate';
import type { LoadedModel } from '../models/model';
import { WinnowError } from '../util/errors';
import { answersMatch, extractAnswer } from './metrics';

export interface CriticalBudget {
  /** response tokens examined per example, from the first (later ones get no value) */
  maxPositions: number;
  /** alternative tokens tried per position */
  alternatives: number;
  /** tokens generated per rollout at most */
  maxNewTokens: number;
}

export const DEFAULT_CRITICAL_BUDGET: CriticalBudget = { maxPositions: 64, alternatives: 2, maxNewTokens: 64 };

export function checkBudget(b: CriticalBudget): CriticalBudget {
  for (const k of ['maxPositions', 'alternatives', 'maxNewTokens'] as const) {
    if (!Number.isInteger(b[k]) || b[k] < (k === 'maxNewTokens' ? 0 : 1)) throw new WinnowError('bad_input', `critical tokens: ${k} must be a whole number ≥ ${k === 'maxNewTokens' ? 0 : 1}, got ${b[k]}`);
  }
  return b;
}

export interface CriticalCost {
  examples: number;
  positions: number;
  /** positions × alternatives */
  rollouts: number;
  /** rollouts × maxNewTokens: the most tokens the rollouts generate */
  maxGeneratedTokens: number;
  budget: CriticalBudget;
}

/** The rollouts and generated tokens a run over responses of these lengths costs at most (said before it runs). */
export function estimateCriticalCost(responseLengths: number[], budget: CriticalBudget): CriticalCost {
  checkBudget(budget);
  const positions = responseLengths.reduce((a, n) => a + Math.min(n, budget.maxPositions), 0);
  const rollouts = positions * budget.alternatives;
  return { examples: responseLengths.length, positions, rollouts, maxGeneratedTokens: rollouts * budget.maxNewTokens, budget };
}

/** checks a full response (its token ids and decoded text) against the example's reference answer */
export type AnswerCheck = (response: { ids: number[]; text: string }) => boolean;

export interface CriticalResult {
  /** whether the response as given is correct */
  correct: boolean;
  /** per response token: share of alternatives whose rollout flips correctness; null past the budget */
  values: Array<number | null>;
  /** per examined position, the alternatives tried and whether each rollout was correct */
  tried: Array<Array<{ id: number; correct: boolean }>>;
  rollouts: number;
  generatedTokens: number;
}

/** Indices of the k largest entries of `row`, skipping `skip` (ties: the smaller index first, as argmax). */
function topOthers(row: Float32Array, k: number, skip: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i).filter((i) => i !== skip);
  idx.sort((a, b) => row[b]! - row[a]! || a - b);
  return idx.slice(0, k);
}

/**
 * Critical tokens of one response: `promptIds` then `responseIds` (the tokens whose criticality is measured), each
 * full response checked by `check`. Rollouts stop at an EOS id (`eosIds`) or after `maxNewTokens`.
 */
export async function criticalTokens(
  m: LoadedModel, promptIds: number[], responseIds: number[], check: AnswerCheck, budget: CriticalBudget, opts: { eosIds: number[]; batchSize?: number; checkCancel?: () => void },
): Promise<CriticalResult> {
  checkBudget(budget);
  if (!promptIds.length) throw new WinnowError('bad_input', 'critical tokens: the prompt is empty (the first response token needs a prediction)');
  const decode = (ids: number[]): string => m.tokenizer.decode(ids, { skipSpecialTokens: true });
  const correct = check({ ids: responseIds, text: decode(responseIds) });
  const P = promptIds.length;
  const all = [...promptIds, ...responseIds];
  const n = Math.min(responseIds.length, budget.maxPositions);
  // logits at the positions that predict response tokens 0..n-1
  const logits = tf.tidy(() => {
    const out = forward(m.config, m.weights, tf.tensor2d([all.slice(0, P + n - 1 + 1)], [1, P + n], 'int32'));
    return tf.slice(out, [0, P - 1, 0], [1, n, m.config.vocabSize]);
  });
  const flat = (await logits.data()) as Float32Array;
  logits.dispose();
  const V = m.config.vocabSize;
  const prefixes: number[][] = [];
  const owner: Array<{ t: number; id: number }> = [];
  for (let t = 0; t < n; t++) {
    for (const id of topOthers(flat.subarray(t * V, (t + 1) * V), budget.alternatives, responseIds[t]!)) {
      prefixes.push([...all.slice(0, P + t), id]);
      owner.push({ t, id });
    }
  }
  const tried: CriticalResult['tried'] = Array.from({ length: n }, () => []);
  let generatedTokens = 0;
  const gens = budget.maxNewTokens > 0 && prefixes.length
    ? await generate(m, prefixes, { maxNewTokens: budget.maxNewTokens, eosIds: opts.eosIds, batchSize: opts.batchSize ?? 8, checkCancel: opts.checkCancel })
    : prefixes.map(() => ({ ids: [] as number[] }));
  prefixes.forEach((pre, i) => {
    const { t, id } = owner[i]!;
    const ids = [...pre.slice(P), ...gens[i]!.ids];
    generatedTokens += gens[i]!.ids.length;
    tried[t]!.push({ id, correct: check({ ids, text: decode(ids) }) });
  });
  const values: Array<number | null> = responseIds.map((_, t) => (t < n ? tried[t]!.filter((x) => x.correct !== correct).length / tried[t]!.length : null));
  return { correct, values, tried, rollouts: prefixes.length, generatedTokens };
}

/**
 * The check for a record with a final answer, as exact_match checks it: the response's answer (metrics.ts
 * extractAnswer) equals the reference's (read with the regex, else GSM8K's `#### N`, else its last number).
 */
export function finalAnswerCheck(referenceText: string, re?: RegExp): AnswerCheck {
  const reference = (re ? extractAnswer(referenceText, re) : null) ?? extractAnswer(referenceText);
  return ({ text }) => answersMatch(extractAnswer(text, re), reference);
}
