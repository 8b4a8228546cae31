/**
 * Training data: the rendered examples of a subset (or dataset), each with its token weights, split into train and
 * eval by a seeded shuffle. The order of training examples is a function of (seed, step) only, so a resumed run
 * sees exactly the batches it would have seen — no RNG state needs saving.
 */
import type { Db } from '../db';
import { scopeExampleIds } from '../db/training';
import { createTokenMasker, type TokenPolicySpec } from '../selection/token-policy';
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';

export interface TrainExample {
  exampleId: number;
  ids: Int32Array;
  /** 1 where the token's loss counts (label mask, or every token after the first with policy 'all') */
  weights: Uint8Array;
}

export interface TrainData {
  train: TrainExample[];
  eval: TrainExample[];
  /** examples left out because no token was trainable (never trained on silently) */
  skippedEmpty: number;
}

/** The rows a run (or a parameter mask computed for it) reads: a subset's members, a dataset's rows, or every row; by id. */
export function trainCandidateIds(db: Db, subsetId: number | null, datasetId?: number): number[] {
  return scopeExampleIds(db, subsetId, datasetId);
}

/** Whether training keeps an example: it is rendered and its token mask has a trainable token. */
export function isTrainable(m: { mask: Uint8Array } | null): boolean {
  return m !== null && m.mask.some((w) => w === 1);
}

/**
 * The held-out split: a seeded shuffle of the trainable examples (in id order) whose first round(n·evalFraction) —
 * at least one when evalFraction > 0 and n ≥ 2 — are the eval rows. A parameter mask uses it to leave a run's eval
 * rows out of its gradient pass, so keep the two in one place.
 */
export function splitEval<T>(all: T[], evalFraction: number, seed: number): { eval: T[]; train: T[] } {
  const rand = mulberry32(seed ^ 0x5eed);
  const order = all.map((e) => ({ e, r: rand() })).sort((a, b) => a.r - b.r).map((o) => o.e);
  const nEval = evalFraction > 0 && order.length >= 2 ? Math.max(1, Math.round(order.length * evalFraction)) : 0;
  return { eval: order.slice(0, nEval), train: order.slice(nEval) };
}

export function loadTrainData(
  db: Db,
  opts: { subsetId: number | null; datasetId?: number; renderKeyId: number; modelId: number; policy: TokenPolicySpec; evalFraction: number; seed: number },
): TrainData {
  const ids = trainCandidateIds(db, opts.subsetId, opts.datasetId);
  const all: TrainExample[] = [];
  let skippedEmpty = 0;
  const masker = createTokenMasker(db, { renderKeyId: opts.renderKeyId, modelId: opts.modelId, policy: opts.policy }, ids);
  for (const id of ids) {
    const m = masker(id);
    if (!m) continue;
    if (!isTrainable(m)) {
      skippedEmpty++;
      continue;
    }
    all.push({ exampleId: id, ids: m.ids, weights: m.mask });
  }
  if (all.length === 0) {
    throw new WinnowError('bad_input', `no trainable examples: ${ids.length} selected, ${skippedEmpty} have no trainable tokens, the rest are not rendered`);
  }
  const split = splitEval(all, opts.evalFraction, opts.seed);
  // Held-out loss is always measured on the same tokens — the response (or, with policy 'all', every token) — so
  // runs with different token policies (e.g. top-60% by excess_loss) are compared on one yardstick.
  const evalPolicy: TokenPolicySpec = opts.policy.kind === 'all' ? { kind: 'all' } : { kind: 'response' };
  const evalMasker = createTokenMasker(db, { renderKeyId: opts.renderKeyId, modelId: opts.modelId, policy: evalPolicy }, []);
  const evalSet = split.eval.map((e) => ({ ...e, weights: evalMasker(e.exampleId)?.mask ?? e.weights }));
  return { eval: evalSet, train: split.train, skippedEmpty };
}

/** The examples of micro-batch `micro` (global index) — epoch-wise seeded permutations, deterministic in (seed, index). */
export function microBatch(train: TrainExample[], seed: number, micro: number, size: number): TrainExample[] {
  const out: TrainExample[] = [];
  const n = train.length;
  for (let k = 0; k < size; k++) {
    const pos = micro * size + k;
    const epoch = Math.floor(pos / n);
    out.push(train[permutation(n, seed + epoch * 7919)[pos % n]!]!);
  }
  return out;
}

const permCache = new Map<string, Int32Array>();
function permutation(n: number, seed: number): Int32Array {
  const key = `${n}:${seed}`;
  let p = permCache.get(key);
  if (!p) {
    p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    const rand = mulberry32(seed);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    if (permCache.size > 8) permCache.clear();
    permCache.set(key, p);
  }
  return p;
}

/** Right-pad a batch to its longest row (capped at maxTokens). */
export function padBatch(batch: TrainExample[], padId: number, maxTokens: number): { ids: Int32Array; weights: Float32Array; attn: Int32Array; B: number; T: number; tokens: number } {
  const T = Math.min(maxTokens, Math.max(...batch.map((e) => e.ids.length)));
  const B = batch.length;
  const ids = new Int32Array(B * T).fill(padId);
  const weights = new Float32Array(B * T);
  const attn = new Int32Array(B * T);
  let tokens = 0;
  batch.forEach((e, b) => {
    const L = Math.min(T, e.ids.length);
    ids.set(e.ids.subarray(0, L), b * T);
    attn.fill(1, b * T, b * T + L);
    for (let t = 0; t < L; t++) weights[b * T + t] = e.weights[t]!;
    tokens += L;
  });
  return { ids, weights, attn, B, T, tokens };
}
