/**
 * Layer specs → exact Hugging Face tensor names. One grammar for the UI, the CLI and exports:
 *   last:N  top:N:SIGNAL  attention  mlp  hft:SEED  all  names:t1,t2,...
 * Block-level specs take every tensor of the chosen blocks (norms included); attention/mlp take the projection
 * matrices (and their biases) of every block; hft takes a seeded random half of the block matrices (HFT).
 */
import type { TensorInfo } from '../models/types';
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';

const ATTENTION_KINDS = new Set(['q', 'k', 'v', 'o', 'qkv']);
const MLP_KINDS = new Set(['up', 'gate', 'down', 'fc', 'proj']);

export const LAYER_SPEC_HELP = 'last:N | top:N:SIGNAL | attention | mlp | hft:SEED | all | names:t1,t2,...';

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
  if ((m = /^hft:(-?\d+)$/.exec(s))) {
    const matrices = tensors.filter((t) => t.block !== null && isMatrix(t));
    const rand = mulberry32(Number(m[1]));
    const order = matrices.map((t) => ({ t, r: rand() })).sort((a, b) => a.r - b.r);
    return order.slice(0, Math.ceil(matrices.length / 2)).map((o) => o.t.name).sort();
  }
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
