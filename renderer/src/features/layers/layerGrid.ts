/** Arranges a model's tensors as a grid: one row per block, one column per tensor role; the rest in a "model" row. */
import { LAYER_SPEC_KINDS, type TensorRow } from '../../../../preload/contract';

const KIND_ORDER = ['q', 'k', 'v', 'qkv', 'o', 'gate', 'up', 'down', 'fc', 'proj', 'norm', 'embed', 'pos_embed', 'head', 'other'];

export interface GridColumn {
  /** the tensor name after `…layers.N.` (same for every block) */
  key: string;
  label: string;
  kind: string;
}

export interface LayerGrid {
  columns: GridColumn[];
  /** block → column key → tensor */
  blocks: Array<{ block: number; cells: Map<string, TensorRow> }>;
  /** embeddings, final norm, head … */
  others: TensorRow[];
}

function suffix(name: string, block: number): string {
  const m = new RegExp(`\\.${block}\\.(.+)$`).exec(name);
  return m ? m[1]! : name;
}

function labelOf(kind: string, key: string): string {
  const bias = key.endsWith('.bias') ? ' bias' : '';
  if (kind === 'norm') {
    const first = key.split('.')[0]!;
    if (/post_attention|ln_2|post/.test(first)) return `mlp norm${bias}`;
    if (/input|ln_1/.test(first)) return `attn norm${bias}`;
    return `${first}${bias}`;
  }
  return `${kind}${bias}`;
}

export function layerGrid(tensors: TensorRow[]): LayerGrid {
  const columns = new Map<string, GridColumn>();
  const blocks = new Map<number, Map<string, TensorRow>>();
  const others: TensorRow[] = [];
  for (const t of tensors) {
    if (t.block === null) {
      others.push(t);
      continue;
    }
    const key = suffix(t.name, t.block);
    if (!columns.has(key)) columns.set(key, { key, kind: t.kind, label: labelOf(t.kind, key) });
    if (!blocks.has(t.block)) blocks.set(t.block, new Map());
    blocks.get(t.block)!.set(key, t);
  }
  const rank = (k: string) => {
    const i = KIND_ORDER.indexOf(k);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return {
    columns: [...columns.values()].sort((a, b) => rank(a.kind) - rank(b.kind) || a.key.localeCompare(b.key)),
    blocks: [...blocks.entries()].sort((a, b) => a[0] - b[0]).map(([block, cells]) => ({ block, cells })),
    others,
  };
}

/**
 * The shortest layer spec that resolves to exactly `chosen` (engine selection/layers.ts grammar): `all`, `attention`,
 * `mlp`, or whole blocks in one run as `last:N`, `first:N` or `blocks:A-B`; else the `names:` list (checkpoint
 * order). So toggling a cell off and on again gives back `last:2`, not forty names.
 */
export function simplestSpec(tensors: TensorRow[], chosen: Set<string>): string {
  const names = `names:${tensors.filter((t) => chosen.has(t.name)).map((t) => t.name).join(',')}`;
  const same = (pick: (t: TensorRow) => boolean) => tensors.every((t) => pick(t) === chosen.has(t.name));
  const candidates: string[] = [];
  if (same(() => true)) candidates.push('all');
  for (const kind of ['attention', 'mlp'] as const) {
    const kinds: readonly string[] = LAYER_SPEC_KINDS[kind];
    if (same((t) => t.block !== null && kinds.includes(t.kind))) candidates.push(kind);
  }
  // whole blocks: every tensor of the picked blocks and nothing else, the picked blocks one unbroken run
  const blocks = [...new Set(tensors.filter((t) => t.block !== null).map((t) => t.block!))].sort((a, b) => a - b);
  const picked = blocks.filter((b) => tensors.some((t) => t.block === b && chosen.has(t.name)));
  if (picked.length > 0) {
    const lo = blocks.indexOf(picked[0]!);
    const hi = blocks.indexOf(picked[picked.length - 1]!);
    const run = blocks.slice(lo, hi + 1);
    if (run.length === picked.length && same((t) => t.block !== null && run.includes(t.block))) {
      if (hi === blocks.length - 1) candidates.push(`last:${run.length}`);
      if (lo === 0) candidates.push(`first:${run.length}`);
      candidates.push(`blocks:${run[0]}-${run[run.length - 1]}`);
    }
  }
  // shortest wins; on a tie the earlier (all, kinds, last, first, blocks)
  return candidates.reduce((best, c) => (c.length < best.length ? c : best), names);
}
