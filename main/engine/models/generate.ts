/**
 * KV-cached decoding for both families (GPT-2, and the Llama family with GQA, RoPE scaling, q/k/v biases, tied or
 * untied heads): greedy, or temperature / top-k / top-p sampling from a seeded PRNG; stops at any id of an EOS list,
 * at stop strings, at max new tokens or at the model's context length.
 *
 * Batches are LEFT-padded: row b's prompt of length L_b sits at slots [T - L_b, T) of the prefill; every row's
 * positions count from its first real token (0..L_b-1, then L_b, L_b+1, … for the new tokens), and padding keys are
 * masked out of every query. The blocks here follow models/gpt2.ts and models/llama.ts op for op (same layer helpers),
 * with keys/values appended to a per-layer cache instead of recomputed. Reads from tensors are asynchronous only.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';
import { gpt2Prefix } from './gpt2';
import { attend, conv1d, geluNew, layerNorm, linear, mergeHeads, rmsNorm, splitHeads, type Weights } from './layers';
import { ropeTables } from './llama';
import { estimateMemory, WASM_HEAP_BYTES } from './memory';
import { gatherRows } from '../compute/shard';
import { finalNorm, headWeight, slidingWindow } from './forward';
import type { ModelConfig, WinnowTokenizer } from './types';

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 or absent: greedy (argmax, first index on ties) */
  temperature?: number;
  /** keep the K most likely tokens (0 or absent: all) */
  topK?: number;
  /** nucleus: the smallest set of most likely tokens whose probability reaches P (1 or absent: all) */
  topP?: number;
  /** PRNG seed for sampling; row i draws from its own stream seeded by (seed, indices[i]) so batching does not matter */
  seed?: number;
  /** the rows' stable indices (default 0..n-1): the sampling stream of a row depends on its index, not its batch */
  indices?: number[];
  /** generation stops when the decoded completion contains one of these; the completion is cut before it */
  stop?: string[];
  /** token ids that end a row (default: eosIds(config, tokenizer)) */
  eosIds?: number[];
  /** rows per forward batch (default 8) */
  batchSize?: number;
  /** backend name for the memory check (default tf.getBackend()) and the machine's memory (tests) */
  backend?: string;
  totalMem?: number;
  onProgress?: (done: number, total: number) => void;
  /** checked between steps: throw to cancel */
  checkCancel?: () => void;
}

export interface Generation {
  /** new token ids (an EOS id that ended the row included) */
  ids: number[];
  /** decoded completion: EOS left out, cut before a stop string (empty without a tokenizer) */
  text: string;
  finishReason: FinishReason;
}

export interface GenerationModel {
  config: ModelConfig;
  weights: Weights;
  tokenizer?: WinnowTokenizer;
}

/** Every id of config.json's eos_token_id (a number or a list), the tokenizer's eos, and any `extra` (generation_config). */
export function eosIds(cfg: ModelConfig, tok?: WinnowTokenizer | null, extra?: unknown): number[] {
  const out = new Set<number>();
  const add = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(add);
    else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) out.add(v);
  };
  add(cfg.raw.eos_token_id);
  if (cfg.eosTokenId !== null) out.add(cfg.eosTokenId);
  if (tok?.eosId !== null && tok?.eosId !== undefined) out.add(tok.eosId);
  add(extra);
  return [...out];
}

export interface GenerateMemory {
  weightsBytes: number;
  /** keys and values of every layer for batch × (prompt + new) tokens, float32 (×2 while a step appends) */
  kvCacheBytes: number;
  /** the prefill's activations (one block at a time) and logits */
  activationBytes: number;
  totalBytes: number;
  limitBytes: number;
}

const gib = (n: number): string => `${(n / 2 ** 30).toFixed(3)} GiB`;

/** KV cache + prefill + weights for a batch; throws too_large naming the figures when over 90% of the backend's limit. */
export function checkGenerateFits(
  cfg: ModelConfig,
  opts: { batch: number; promptLen: number; maxNewTokens: number; backend: string; totalMem?: number },
): GenerateMemory {
  const T = Math.min(cfg.maxPositions, opts.promptLen + opts.maxNewTokens);
  const kvCacheBytes = 2 * cfg.numLayers * opts.batch * cfg.numKvHeads * cfg.headDim * T * 4;
  const est = estimateMemory(cfg, { batch: opts.batch, seqLen: opts.promptLen, trainableParams: 0 });
  let limit = opts.totalMem ?? os.totalmem();
  if (opts.backend === 'wasm') limit = Math.min(limit, WASM_HEAP_BYTES);
  // appending to the cache copies one layer's keys and values at a time: 2× the cache is a safe ceiling
  const total = est.weightsBytes + est.activationBytes + 2 * kvCacheBytes;
  const r = { weightsBytes: est.weightsBytes, kvCacheBytes, activationBytes: est.activationBytes, totalBytes: total, limitBytes: limit };
  if (total > 0.9 * limit) {
    throw new WinnowError(
      'too_large',
      `generation does not fit the ${opts.backend} backend at batch ${opts.batch} × ${T} tokens (${opts.promptLen} prompt + ` +
        `${opts.maxNewTokens} new): needs ~${gib(total)} (weights ${gib(est.weightsBytes)}, KV cache ${gib(kvCacheBytes)} ×2 while appending, ` +
        `prefill ${gib(est.activationBytes)}) but ${gib(0.9 * limit)} is usable (90% of ${gib(limit)}). Use a smaller batch or fewer new tokens.`,
      { needBytes: total, ...r },
    );
  }
  return r;
}

type Cache = { k: tf.Tensor4D[]; v: tf.Tensor4D[] };

/** additive bias [B,1,Tq,Tk]: query at slot Tk-Tq+i sees key slot j when j <= that slot, key j is real and within the window */
function stepBias(keyMask: Uint8Array[], Tq: number, Tk: number, pos: number[][], window: number | null): tf.Tensor4D {
  const B = keyMask.length;
  const out = new Float32Array(B * Tq * Tk);
  for (let b = 0; b < B; b++) {
    // positions of the keys (real slots only) for the sliding window
    const kpos = new Int32Array(Tk);
    let p = 0;
    for (let j = 0; j < Tk; j++) kpos[j] = keyMask[b][j] ? p++ : -1;
    for (let i = 0; i < Tq; i++) {
      const slot = Tk - Tq + i;
      const qp = pos[b][i];
      for (let j = 0; j < Tk; j++) {
        const ok = j <= slot && keyMask[b][j] !== 0 && (window === null || qp - kpos[j] < window);
        out[(b * Tq + i) * Tk + j] = ok ? 0 : -1e9;
      }
    }
  }
  return tf.tensor4d(out, [B, 1, Tq, Tk]);
}

/** RoPE cos/sin [B,1,Tq,hd] at each row's positions, and the rotate_half matrix (as models/llama.ts builds them) */
function ropeAt(cfg: ModelConfig, pos: number[][]): { cos: tf.Tensor4D; sin: tf.Tensor4D; rotate: tf.Tensor2D } {
  const hd = cfg.headDim;
  const B = pos.length;
  const Tq = pos[0].length;
  let maxPos = 0;
  for (const r of pos) for (const p of r) maxPos = Math.max(maxPos, p);
  const t = ropeTables(cfg, maxPos + 1);
  const cos = new Float32Array(B * Tq * hd);
  const sin = new Float32Array(B * Tq * hd);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      const p = pos[b][i];
      cos.set(t.cos.subarray(p * hd, (p + 1) * hd), (b * Tq + i) * hd);
      sin.set(t.sin.subarray(p * hd, (p + 1) * hd), (b * Tq + i) * hd);
    }
  }
  const half = hd / 2;
  const r = new Float32Array(hd * hd);
  for (let k = 0; k < half; k++) {
    r[(k + half) * hd + k] = -1;
    r[k * hd + k + half] = 1;
  }
  return { cos: tf.tensor4d(cos, [B, 1, Tq, hd]), sin: tf.tensor4d(sin, [B, 1, Tq, hd]), rotate: tf.tensor2d(r, [hd, hd]) };
}

function applyRope(x: tf.Tensor4D, rope: { cos: tf.Tensor4D; sin: tf.Tensor4D; rotate: tf.Tensor2D }): tf.Tensor4D {
  const [B, H, T, hd] = x.shape;
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [B * H * T, hd]), rope.rotate), [B, H, T, hd]);
  return tf.add(tf.mul(x, rope.cos), tf.mul(rotated, rope.sin));
}

/** grouped-query attention against cached keys: q [B,H,Tq,hd], k/v [B,KV,Tk,hd], bias [B,1,Tq,Tk] */
function groupedAttend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number, bias: tf.Tensor4D): tf.Tensor4D {
  const [B, H, Tq, hd] = q.shape;
  const KV = k.shape[1];
  const Tk = k.shape[2];
  if (KV === H) return attend(q, k, v, { mul: scale }, bias);
  const qg = tf.reshape(q, [B, KV, (H / KV) * Tq, hd]);
  const scores = tf.add(tf.reshape(tf.mul(tf.matMul(qg, k, false, true), scale), [B, H, Tq, Tk]), bias);
  const probs = tf.reshape(tf.softmax(scores), [B, KV, (H / KV) * Tq, Tk]);
  return tf.reshape(tf.matMul(probs, v), [B, H, Tq, hd]);
}

/**
 * One cached forward step over new tokens `ids` [B,Tq] at positions `pos`: returns the last slot's logits [B,V] and
 * the grown cache (the old cache tensors are left to the caller).
 */
function step(
  cfg: ModelConfig,
  w: Weights,
  ids: number[][],
  pos: number[][],
  keyMask: Uint8Array[],
  cache: Cache | null,
): { logits: tf.Tensor2D; cache: Cache } {
  return tf.tidy(() => {
    const B = ids.length;
    const Tq = ids[0].length;
    const Tk = (cache ? cache.k[0].shape[2] : 0) + Tq;
    const idsT = tf.tensor2d(ids.flat(), [B, Tq], 'int32');
    const posT = tf.tensor2d(pos.flat(), [B, Tq], 'int32');
    const bias = stepBias(keyMask, Tq, Tk, pos, slidingWindow(cfg));
    const out: Cache = { k: [], v: [] };
    const hd = cfg.headDim;
    let h: tf.Tensor3D;
    if (cfg.arch === 'gpt2') {
      const p = gpt2Prefix(w);
      h = tf.add(gatherRows(w[`${p}wte.weight`], idsT), gatherRows(w[`${p}wpe.weight`], posT)) as tf.Tensor3D;
      const H = cfg.hiddenSize;
      for (let l = 0; l < cfg.numLayers; l++) {
        const b = `${p}h.${l}`;
        const x = layerNorm(h, w[`${b}.ln_1.weight`], w[`${b}.ln_1.bias`], cfg.normEps);
        const qkv = conv1d(x, w[`${b}.attn.c_attn.weight`], w[`${b}.attn.c_attn.bias`]);
        const [q, k, v] = tf.split(qkv, [H, H, H], 2) as tf.Tensor3D[];
        const kNew = splitHeads(k, cfg.numHeads, hd);
        const vNew = splitHeads(v, cfg.numHeads, hd);
        const K = cache ? tf.concat([cache.k[l], kNew], 2) : kNew;
        const V = cache ? tf.concat([cache.v[l], vNew], 2) : vNew;
        out.k.push(K);
        out.v.push(V);
        const a = attend(splitHeads(q, cfg.numHeads, hd), K, V, { div: Math.sqrt(hd) }, bias);
        const o = conv1d(mergeHeads(a), w[`${b}.attn.c_proj.weight`], w[`${b}.attn.c_proj.bias`]);
        const h2 = tf.add(h, o) as tf.Tensor3D;
        const y = layerNorm(h2, w[`${b}.ln_2.weight`], w[`${b}.ln_2.bias`], cfg.normEps);
        const fc = geluNew(conv1d(y, w[`${b}.mlp.c_fc.weight`], w[`${b}.mlp.c_fc.bias`])) as tf.Tensor3D;
        h = tf.add(h2, conv1d(fc, w[`${b}.mlp.c_proj.weight`], w[`${b}.mlp.c_proj.bias`])) as tf.Tensor3D;
      }
    } else {
      h = gatherRows(w['model.embed_tokens.weight'], idsT) as tf.Tensor3D;
      const rope = ropeAt(cfg, pos);
      for (let l = 0; l < cfg.numLayers; l++) {
        const b = `model.layers.${l}`;
        const x = rmsNorm(h, w[`${b}.input_layernorm.weight`], cfg.normEps);
        const q = splitHeads(linear(x, w[`${b}.self_attn.q_proj.weight`], w[`${b}.self_attn.q_proj.bias`]), cfg.numHeads, hd);
        const k = splitHeads(linear(x, w[`${b}.self_attn.k_proj.weight`], w[`${b}.self_attn.k_proj.bias`]), cfg.numKvHeads, hd);
        const v = splitHeads(linear(x, w[`${b}.self_attn.v_proj.weight`], w[`${b}.self_attn.v_proj.bias`]), cfg.numKvHeads, hd);
        const kr = applyRope(k, rope);
        const K = cache ? tf.concat([cache.k[l], kr], 2) : kr;
        const V = cache ? tf.concat([cache.v[l], v], 2) : v;
        out.k.push(K);
        out.v.push(V);
        const a = groupedAttend(applyRope(q, rope), K, V, Math.pow(hd, -0.5), bias);
        const o = linear(mergeHeads(a), w[`${b}.self_attn.o_proj.weight`], w[`${b}.self_attn.o_proj.bias`]);
        const h2 = tf.add(h, o) as tf.Tensor3D;
        const y = rmsNorm(h2, w[`${b}.post_attention_layernorm.weight`], cfg.normEps);
        const gate = linear(y, w[`${b}.mlp.gate_proj.weight`], w[`${b}.mlp.gate_proj.bias`]);
        const up = linear(y, w[`${b}.mlp.up_proj.weight`], w[`${b}.mlp.up_proj.bias`]);
        const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor3D;
        h = tf.add(h2, linear(act, w[`${b}.mlp.down_proj.weight`], w[`${b}.mlp.down_proj.bias`])) as tf.Tensor3D;
      }
    }
    const last = tf.slice(h, [0, Tq - 1, 0], [B, 1, cfg.hiddenSize]) as tf.Tensor3D;
    const logits = tf.reshape(linear(finalNorm(cfg, w, last), headWeight(cfg, w)), [B, cfg.vocabSize]) as tf.Tensor2D;
    return { logits, cache: out };
  });
}

function disposeCache(c: Cache | null): void {
  if (!c) return;
  tf.dispose([...c.k, ...c.v]);
}

/** argmax, first index on ties (as torch.argmax) */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** temperature, then top-k, then top-p over the softmax; one draw from `rand` */
export function sampleToken(row: Float32Array, opts: { temperature: number; topK?: number; topP?: number }, rand: () => number): number {
  const V = row.length;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
  const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, V) : V;
  const max = row[order[0]] / opts.temperature;
  const probs: number[] = [];
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const e = Math.exp(row[order[i]] / opts.temperature - max);
    probs.push(e);
    sum += e;
  }
  let keep = k;
  const p = opts.topP ?? 1;
  if (p < 1) {
    let c = 0;
    for (let i = 0; i < k; i++) {
      c += probs[i] / sum;
      if (c >= p) {
        keep = i + 1;
        break;
      }
    }
  }
  let total = 0;
  for (let i = 0; i < keep; i++) total += probs[i];
  let u = rand() * total;
  for (let i = 0; i < keep; i++) {
    u -= probs[i];
    if (u < 0) return order[i];
  }
  return order[keep - 1];
}

/** the earliest index in `text` of any stop string, or -1 */
function stopAt(text: string, stop: string[]): number {
  let at = -1;
  for (const s of stop) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}

/** Generate a continuation for each prompt (token ids, BOS included if wanted), in batches of `batchSize`. */
export async function generate(model: GenerationModel, prompts: number[][], opts: GenerateOptions): Promise<Generation[]> {
  const { config: cfg, weights: w, tokenizer: tok } = model;
  if (!(opts.maxNewTokens >= 0) || !Number.isInteger(opts.maxNewTokens)) {
    throw new WinnowError('bad_input', `max new tokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  }
  const temperature = opts.temperature ?? 0;
  if (!(temperature >= 0)) throw new WinnowError('bad_input', `temperature must be >= 0, got ${temperature}`);
  if (opts.topP !== undefined && !(opts.topP > 0 && opts.topP <= 1)) throw new WinnowError('bad_input', `top-p must be in (0, 1], got ${opts.topP}`);
  if (opts.topK !== undefined && !(Number.isInteger(opts.topK) && opts.topK >= 0)) throw new WinnowError('bad_input', `top-k must be a non-negative integer, got ${opts.topK}`);
  const stop = (opts.stop ?? []).filter((s) => s !== '');
  if (stop.length && !tok) throw new WinnowError('bad_input', 'stop strings need the model\'s tokenizer');
  const eos = new Set(opts.eosIds ?? eosIds(cfg, tok));
  const batchSize = Math.max(1, opts.batchSize ?? 8);
  const seed = opts.seed ?? 0;
  const results: Generation[] = new Array(prompts.length);
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new WinnowError('bad_input', `prompt ${i} is empty`);
    if (p.length >= cfg.maxPositions) {
      throw new WinnowError('too_large', `prompt ${i} has ${p.length} tokens; the model's context is ${cfg.maxPositions}, leaving no room to generate`);
    }
  });
  const backend = opts.backend ?? tf.getBackend();
  for (let start = 0; start < prompts.length; start += batchSize) {
    const rows = prompts.slice(start, start + batchSize);
    const B = rows.length;
    const T = Math.max(...rows.map((r) => r.length));
    checkGenerateFits(cfg, { batch: B, promptLen: T, maxNewTokens: opts.maxNewTokens, backend, totalMem: opts.totalMem });
    const rands = rows.map((_, b) => mulberry32((Math.imul(seed >>> 0, 0x9e3779b1) ^ (opts.indices?.[start + b] ?? start + b)) >>> 0));
    const ids: number[][] = rows.map((r) => [...new Array<number>(T - r.length).fill(0), ...r]);
    const pos = rows.map((r) => Array.from({ length: T }, (_, i) => Math.max(0, i - (T - r.length))));
    const keyMask = rows.map((r) => Uint8Array.from({ length: T }, (_, i) => (i >= T - r.length ? 1 : 0)));
    const out = rows.map((): Generation => ({ ids: [], text: '', finishReason: 'length' }));
    const done = rows.map(() => opts.maxNewTokens === 0);
    const room = rows.map((r) => Math.min(opts.maxNewTokens, cfg.maxPositions - r.length));
    let cache: Cache | null = null;
    let feed = ids;
    let feedPos = pos;
    try {
      while (done.some((d) => !d)) {
        opts.checkCancel?.();
        const s = step(cfg, w, feed, feedPos, keyMask, cache);
        disposeCache(cache);
        cache = s.cache;
        const data = (await s.logits.data()) as Float32Array;
        s.logits.dispose();
        const V = cfg.vocabSize;
        const next: number[] = [];
        for (let b = 0; b < B; b++) {
          const r = out[b];
          if (done[b]) {
            next.push(r.ids.length ? r.ids[r.ids.length - 1] : rows[b][rows[b].length - 1]);
            continue;
          }
          const logits = data.subarray(b * V, (b + 1) * V);
          const id = temperature > 0 ? sampleToken(logits, { temperature, topK: opts.topK, topP: opts.topP }, rands[b]) : argmax(logits);
          r.ids.push(id);
          next.push(id);
          if (eos.has(id)) {
            r.finishReason = 'eos';
            done[b] = true;
          } else if (stop.length && stopAt(tok!.decode(r.ids, { skipSpecialTokens: false }), stop) >= 0) {
            r.finishReason = 'stop';
            done[b] = true;
          } else if (r.ids.length >= room[b]) done[b] = true;
        }
        // finished rows keep stepping (their tokens are ignored) until the whole batch is done
        feed = next.map((id) => [id]);
        feedPos = rows.map((r, b) => [Math.min(r.length + Math.max(out[b].ids.length, 1) - 1, cfg.maxPositions - 1)]);
        for (let b = 0; b < B; b++) {
          const km = new Uint8Array(keyMask[b].length + 1);
          km.set(keyMask[b]);
          km[keyMask[b].length] = done[b] ? 0 : 1;
          keyMask[b] = km;
        }
      }
    } finally {
      disposeCache(cache);
    }
    out.forEach((r, b) => {
      if (tok) {
        const kept = r.finishReason === 'eos' ? r.ids.slice(0, -1) : r.ids;
        let text = tok.decode(kept, { skipSpecialTokens: false });
        if (r.finishReason === 'stop') text = text.slice(0, stopAt(text, stop));
        r.text = text;
      }
      results[start + b] = r;
    });
    opts.onProgress?.(Math.min(start + batchSize, prompts.length), prompts.length);
  }
  return results;
}
