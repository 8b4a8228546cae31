/**
 * Layer specs → exact Hugging Face tensor names. One grammar for the UI, the CLI and exports:
 *   last:N  first:N  blocks:A-B  top:N:SIGNAL  attention  mlp  hft:SEED  all  names:t1,t2,...
 * Block-level specs take every tensor of the chosen blocks (norms included); attention/mlp take the projection
 * matrices (and their biases) of every block; hft takes half of each block's matrices by category (HFT, below).
 */
import type { TensorInfo } from '../models/types';
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';
import { LAYER_SPEC_KINDS } from '../../../preload/contract';

const ATTENTION_KINDS = new Set<string>(LAYER_SPEC_KINDS.attention);
const MLP_KINDS = new Set<string>(LAYER_SPEC_KINDS.mlp);

export const LAYER_SPEC_HELP = 'last:N | first:N | blocks:A-B | top:N:SIGNAL | attention | mlp | hft:SEED | all | names:t1,t2,...';

function blocksOf(tensors: TensorInfo[]): number[] {
  return [...new Set(tensors.filter((t) => t.block !== null).map((t) => t.block!))].sort((a, b) => a - b);
}

function isMatrix(t: TensorInfo): boolean {
  return t.shape.length === 2;
}

/**
 * @param blockScores block index → score, needed for `top:N:SIGNAL` (from a layer scoring run)
 */
export function resolveLayerSpec(spec: string, tensors: TensorInfo[], blockScores?: Map<number, number>): string[] {
  const s = spec.trim();
  const blocks = blocksOf(tensors);
  const inBlocks = (set: Set<number>) => tensors.filter((t) => t.block !== null && set.has(t.block)).map((t) => t.name);
  let m: RegExpExecArray | null;
  if (s === 'all') return tensors.map((t) => t.name);
  if ((m = /^last:(\d+)$/.exec(s))) {
    const n = Number(m[1]);
    if (n < 1 || n > blocks.length) throw new WinnowError('bad_input', `layers "${s}": N must be 1..${blocks.length}`);
    return inBlocks(new Set(blocks.slice(-n)));
  }
  if ((m = /^first:(\d+)$/.exec(s))) {
    const n = Number(m[1]);
    if (n < 1 || n > blocks.length) throw new WinnowError('bad_input', `layers "${s}": N must be 1..${blocks.length}`);
    return inBlocks(new Set(blocks.slice(0, n)));
  }
  if ((m = /^blocks:(\d+)-(\d+)$/.exec(s))) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    if (a > b || !blocks.includes(a) || !blocks.includes(b)) {
      throw new WinnowError('bad_input', `layers "${s}": blocks A-B must be ${blocks[0] ?? 0}..${blocks[blocks.length - 1] ?? 0} with A ≤ B`);
    }
    return inBlocks(new Set(blocks.filter((x) => x >= a && x <= b)));
  }
  if ((m = /^top:(\d+):([a-z_]+)$/.exec(s))) {
    const n = Number(m[1]);
    if (n < 1 || n > blocks.length) throw new WinnowError('bad_input', `layers "${s}": N must be 1..${blocks.length}`);
    if (!blockScores || blockScores.size === 0) {
      throw new WinnowError('bad_input', `layers "${s}": no ${m[2]} scores for this model yet — score layers first`);
    }
    const ranked = [...blockScores.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, n).map(([b]) => b);
    return inBlocks(new Set(ranked));
  }
  if (s === 'attention') return tensors.filter((t) => t.block !== null && ATTENTION_KINDS.has(t.kind)).map((t) => t.name);
  if (s === 'mlp') return tensors.filter((t) => t.block !== null && MLP_KINDS.has(t.kind)).map((t) => t.name);
  if ((m = /^hft:(-?\d+)$/.exec(s))) return hftTensors(tensors, Number(m[1]));
  if (s.startsWith('names:')) {
    const names = s.slice('names:'.length).split(',').map((n) => n.trim()).filter(Boolean);
    const known = new Set(tensors.map((t) => t.name));
    const missing = names.filter((n) => !known.has(n));
    if (missing.length) throw new WinnowError('bad_input', `layers: unknown tensor name(s) ${missing.slice(0, 5).join(', ')}`);
    if (!names.length) throw new WinnowError('bad_input', 'layers "names:": list at least one tensor');
    return names;
  }
  throw new WinnowError('bad_input', `layers "${s}" is not a layer spec (${LAYER_SPEC_HELP})`);
}

/** The category HFT halves a block matrix in: attention (q, k, v, o, fused qkv), MLP, or any other matrix. */
function hftCategory(t: TensorInfo): 'attention' | 'mlp' | 'other' {
  return ATTENTION_KINDS.has(t.kind) ? 'attention' : MLP_KINDS.has(t.kind) ? 'mlp' : 'other';
}

/**
 * HFT (Half Fine-Tuning, Hui et al. 2024: "we selectively freeze half of the parameters at the category level"):
 * in every block, half of its attention matrices and half of its MLP matrices are trained, each half a seeded random
 * choice within the block. A category with an odd count in a block (Llama's three MLP matrices, GPT-2's fused qkv and
 * o) gets its extra matrix in a seeded half of those blocks (rounded up), so each category is halved over the model
 * too: ⌈n/2⌉ of its n matrices. Norms, biases, embeddings and the LM head stay frozen. Same seed, same choice.
 */
export function hftTensors(tensors: TensorInfo[], seed: number): string[] {
  const rand = mulberry32(seed);
  const shuffle = <T>(xs: T[]): T[] => xs.map((x) => ({ x, r: rand() })).sort((a, b) => a.r - b.r).map((o) => o.x);
  const chosen: string[] = [];
  for (const cat of ['attention', 'mlp', 'other'] as const) {
    const groups = new Map<number, TensorInfo[]>();
    for (const t of tensors) {
      if (t.block === null || !isMatrix(t) || hftCategory(t) !== cat) continue;
      if (!groups.has(t.block)) groups.set(t.block, []);
      groups.get(t.block)!.push(t);
    }
    const blocks = [...groups.keys()].sort((a, b) => a - b);
    const odd = blocks.filter((b) => groups.get(b)!.length % 2 === 1);
    const roundUp = new Set(shuffle(odd).slice(0, Math.ceil(odd.length / 2)));
    for (const b of blocks) {
      const ts = groups.get(b)!;
      const n = Math.floor(ts.length / 2) + (roundUp.has(b) ? 1 : 0);
      for (const t of shuffle(ts).slice(0, n)) chosen.push(t.name);
    }
  }
  return chosen.sort();
}
