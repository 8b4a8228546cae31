/** Arranges a model's tensors as a grid: one row per block, one column per tensor role; the rest in a "model" row. */
import type { TensorRow } from '../../../../preload/contract';

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

/** The spec for a hand-picked set of tensors (in checkpoint order). */
export function namesSpec(tensors: TensorRow[], chosen: Set<string>): string {
  return `names:${tensors.filter((t) => chosen.has(t.name)).map((t) => t.name).join(',')}`;
}
