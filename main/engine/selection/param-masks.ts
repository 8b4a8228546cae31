/**
 * Parameter masks (METHODS.md `salience`, `gps`): which entries of which tensors a run may change, chosen from one
 * gradient pass. Pure functions over per-tensor Float32Arrays (row-major, HF layout) — the job that runs the pass
 * is scoring/param-masks-job.ts, storage is param-masks-store.ts.
 *
 * salience (0-ml/speft model/sparse_peft.py, `compute_gradient_based_scores`): G = Σ_n g_n over the examples, then
 *   abs_g   |G|                  (speft "gradient")
 *   abs_wg  |w·G|                (speft "snip")
 *   sq_wg   (w·G)²               (speft "Taylor-FO": the summed gradient times the weight, squared). It ranks entries
 *           exactly as |w·G| does; it is offered under its paper's name. Masks saved before this definition squared
 *           per example (w²·Σ_n g_n²); their metric reads `sq_wg_per_example` (param-masks-store.ts).
 *   then keep the top `density` share of the scored entries, globally or per tensor. Like SPEFT, which scores the
 *   weights of its nn.Linear layers only, salience scores the scope's linear weight matrices (the 2-D tensors of the
 *   blocks) unless `allParams` asks for every tensor of the scope (embeddings, norms, biases, the LM head).
 * gps (FightingFighting/GPS utils/pruning.py, `prune_by_percentile_gradient_perCell`): per output unit of each
 *   matrix, keep the top-n input connections by |G|. Matrices only — GPS leaves norms frozen; biases, embeddings and
 *   GPS's classifier head (trained in full there) are not part of an LM's parameter mask here.
 * Ties are broken by position (lower index first, tensors in scope order), so a mask is a function of the scores.
 */
import type { TensorInfo } from '../models/types';
import { WinnowError } from '../util/errors';

export const SALIENCE_METRICS = ['abs_g', 'abs_wg', 'sq_wg'] as const;
export type SalienceMetric = (typeof SALIENCE_METRICS)[number];

export type ParamMaskMethod =
  | { method: 'salience'; metric: SalienceMetric; density: number; topk: 'global' | 'per_tensor'; allParams?: boolean }
  | { method: 'gps'; density: number; perRow?: number };

/** The accumulated gradient sums of one tensor. */
export interface TensorGrads {
  info: TensorInfo;
  weight: Float32Array;
  /** Σ_n g_n */
  sumG: Float32Array;
}

/** The tensors salience scores unless asked for all: linear weight matrices, i.e. the 2-D tensors of the blocks. */
export function isLinearWeight(t: TensorInfo): boolean {
  return t.block !== null && t.shape.length === 2;
}

export interface TensorMask {
  name: string;
  shape: number[];
  /** 1 = trainable, one byte per entry (bitset form in store/export) */
  mask: Uint8Array;
  selected: number;
}

/** Matrices a GPS mask may open: projections of the blocks and an untied lm head. */
export function gpsEligible(t: TensorInfo): boolean {
  return t.shape.length === 2 && t.kind !== 'embed' && t.kind !== 'pos_embed';
}

/** GPT-2 stores its projections as Conv1D [in, out]; every other matrix is nn.Linear [out, in]. */
export function outputAxis(t: TensorInfo): 0 | 1 {
  return ['qkv', 'fc', 'proj'].includes(t.kind) || (t.kind === 'o' && t.name.includes('attn.c_proj')) ? 1 : 0;
}

export function salienceScores(g: TensorGrads, metric: SalienceMetric): Float32Array {
  const n = g.sumG.length;
  const out = new Float32Array(n);
  if (metric === 'abs_g') for (let i = 0; i < n; i++) out[i] = Math.abs(g.sumG[i]!);
  else if (metric === 'abs_wg') for (let i = 0; i < n; i++) out[i] = Math.abs(g.weight[i]! * g.sumG[i]!);
  else {
    for (let i = 0; i < n; i++) {
      const wg = g.weight[i]! * g.sumG[i]!;
      out[i] = wg * wg;
    }
  }
  // NaN (a broken gradient) never ranks; −0 is 0
  for (let i = 0; i < n; i++) if (!(out[i]! > 0)) out[i] = 0;
  return out;
}

/**
 * Exact top-k over non-negative scores spread across arrays (as one sequence, in order), in O(n) without copying:
 * for non-negative floats the uint32 bit pattern orders like the value, so two 16-bit histogram passes find the k-th
 * largest value; entries above it are kept, and of those equal to it, the first ones in order.
 */
export function topKMasks(scores: Float32Array[], k: number): Uint8Array[] {
  const masks = scores.map((s) => new Uint8Array(s.length));
  const total = scores.reduce((a, s) => a + s.length, 0);
  if (k <= 0) return masks;
  if (k >= total) {
    for (const m of masks) m.fill(1);
    return masks;
  }
  const bits = scores.map((s) => new Uint32Array(s.buffer, s.byteOffset, s.length));
  const hist = new Float64Array(65536);
  for (const b of bits) for (let i = 0; i < b.length; i++) hist[b[i]! >>> 16]++;
  let above = 0;
  let hi = 65535;
  while (above + hist[hi]! < k) above += hist[hi--]!;
  hist.fill(0);
  for (const b of bits) for (let i = 0; i < b.length; i++) if (b[i]! >>> 16 === hi) hist[b[i]! & 0xffff]++;
  let lo = 65535;
  while (above + hist[lo]! < k) above += hist[lo--]!;
  const cut = ((hi << 16) | lo) >>> 0;
  let ties = k - above;
  bits.forEach((b, a) => {
    const m = masks[a]!;
    for (let i = 0; i < b.length; i++) {
      const v = b[i]!;
      if (v > cut) m[i] = 1;
      else if (v === cut && ties > 0) {
        m[i] = 1;
        ties--;
      }
    }
  });
  return masks;
}

/** Entries to keep out of n at a density: at least one, so every tensor (or row) asked for can learn. */
export function keepCount(n: number, density: number): number {
  return Math.min(n, Math.max(1, Math.round(density * n)));
}

/** GPS: per output unit, the top-n inputs by |G| (ties: lower input index first). */
export function gpsMask(g: TensorGrads, n: number): Uint8Array {
  const [d0, d1] = g.info.shape as [number, number];
  const axis = outputAxis(g.info);
  const outs = axis === 0 ? d0 : d1;
  const ins = axis === 0 ? d1 : d0;
  // entry of (output o, input i): [out, in] → o*in + i; Conv1D [in, out] → i*out + o
  const at = axis === 0 ? (o: number, i: number) => o * ins + i : (o: number, i: number) => i * outs + o;
  const keep = Math.min(n, ins);
  const mask = new Uint8Array(g.sumG.length);
  const idx = new Int32Array(keep);
  const val = new Float32Array(keep);
  for (let o = 0; o < outs; o++) {
    // a sorted buffer of the best `keep` so far (descending); a later equal score never displaces an earlier one
    let len = 0;
    for (let i = 0; i < ins; i++) {
      const v = Math.abs(g.sumG[at(o, i)]!);
      const s = v > 0 ? v : 0;
      if (len === keep && !(s > val[keep - 1]!)) continue;
      let j = len < keep ? len++ : keep - 1;
      while (j > 0 && s > val[j - 1]!) {
        val[j] = val[j - 1]!;
        idx[j] = idx[j - 1]!;
        j--;
      }
      val[j] = s;
      idx[j] = i;
    }
    for (let j = 0; j < len; j++) mask[at(o, idx[j]!)] = 1;
  }
  return mask;
}

/** Masks for the tensors of the scope (those with at least one entry chosen), from their gradient sums. */
export function computeParamMask(grads: TensorGrads[], m: ParamMaskMethod): TensorMask[] {
  if (!(m.density > 0 && m.density <= 1)) throw new WinnowError('bad_input', `parameter mask: density must be in (0, 1], got ${m.density}`);
  let masks: Uint8Array[];
  let used = grads;
  if (m.method === 'gps') {
    used = grads.filter((g) => gpsEligible(g.info));
    if (!used.length) throw new WinnowError('bad_input', 'gps: the scope has no matrices (GPS selects input connections of projection matrices)');
    masks = used.map((g) => {
      const ins = g.info.shape[outputAxis(g.info) === 0 ? 1 : 0]!;
      const n = m.perRow ?? keepCount(ins, m.density);
      if (!(Number.isInteger(n) && n >= 1)) throw new WinnowError('bad_input', `gps: inputs per row must be an integer ≥ 1, got ${n}`);
      return gpsMask(g, n);
    });
  } else {
    const scores = grads.map((g) => salienceScores(g, m.metric));
    if (m.topk === 'global') masks = topKMasks(scores, keepCount(scores.reduce((a, s) => a + s.length, 0), m.density));
    else masks = scores.map((s) => topKMasks([s], keepCount(s.length, m.density))[0]!);
  }
  return used
    .map((g, k) => ({ name: g.info.name, shape: g.info.shape, mask: masks[k]!, selected: count(masks[k]!) }))
    .filter((t) => t.selected > 0);
}

function count(m: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < m.length; i++) c += m[i]!;
  return c;
}

/** Row-major entries → bitset, LSB first: entry i is bit (i & 7) of byte i >> 3. */
export function packBits(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array((mask.length + 7) >> 3);
  for (let i = 0; i < mask.length; i++) if (mask[i]) out[i >> 3] |= 1 << (i & 7);
  return out;
}

export function unpackBits(bits: Uint8Array, n: number): Uint8Array {
  if (bits.length !== (n + 7) >> 3) throw new WinnowError('parse_error', `parameter mask bitset has ${bits.length} bytes, expected ${(n + 7) >> 3} for ${n} entries`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bits[i >> 3]! >> (i & 7)) & 1;
  return out;
}

/**
 * CLI / UI spec of a parameter mask to compute:
 *   salience:METRIC:DENSITY[:global|per_tensor][:all]   METRIC abs_g | abs_wg | sq_wg (also written |g|, |w·g|,
 *                  (w·g)²); `all`: score every tensor of the scope, not only its linear weight matrices
 *   gps:N          N ≥ 1 an integer: inputs kept per output row
 *   gps:DENSITY    0 < DENSITY < 1: that share of each row's inputs (at least one)
 */
export const PARAM_MASK_SPEC_HELP = 'salience:abs_g|abs_wg|sq_wg:DENSITY[:global|per_tensor][:all] | gps:N | gps:DENSITY | name:MASK';

const METRIC_ALIASES: Record<string, SalienceMetric> = {
  abs_g: 'abs_g', '|g|': 'abs_g', '|Σg|': 'abs_g', '|sum_g|': 'abs_g',
  abs_wg: 'abs_wg', '|w·g|': 'abs_wg', '|w*g|': 'abs_wg', '|wg|': 'abs_wg',
  sq_wg: 'sq_wg', '(w·g)²': 'sq_wg', '(w*g)^2': 'sq_wg', '(w·g)^2': 'sq_wg', '(wg)^2': 'sq_wg',
};

export function parseParamMaskSpec(spec: string): ParamMaskMethod {
  const s = spec.trim();
  const bad = (why: string) => new WinnowError('bad_input', `parameter mask "${s}": ${why} (${PARAM_MASK_SPEC_HELP})`);
  const parts = s.split(':');
  if (parts[0] === 'salience') {
    const metric = METRIC_ALIASES[parts[1] ?? ''];
    if (!metric) throw bad(`unknown metric "${parts[1] ?? ''}"`);
    const density = Number(parts[2]);
    if (!(density > 0 && density <= 1)) throw bad('DENSITY must be a number in (0, 1]');
    const rest = parts.slice(3);
    const allParams = rest[rest.length - 1] === 'all';
    if (allParams) rest.pop();
    const topk = rest[0] ?? 'global';
    if (topk !== 'global' && topk !== 'per_tensor') throw bad(`top-k scope must be global or per_tensor, got "${topk}"`);
    if (rest.length > 1) throw bad('too many fields');
    return { method: 'salience', metric, density, topk, ...(allParams ? { allParams } : {}) };
  }
  if (parts[0] === 'gps' && parts.length === 2) {
    const v = Number(parts[1]);
    if (Number.isInteger(v) && v >= 1) return { method: 'gps', density: 1, perRow: v };
    if (v > 0 && v < 1) return { method: 'gps', density: v };
    throw bad('gps takes an integer N ≥ 1 (inputs per row) or a density in (0, 1)');
  }
  throw bad('not a parameter mask spec');
}
