/**
 * The Layers grid names a hand-made pick by the shortest spec that resolves to the same tensors (renderer
 * layerGrid.ts simplestSpec), checked against the engine's own resolver on the bundled stories260K checkpoint (Llama
 * layout) and a tiny GPT-2 (fused qkv, biases): toggling a cell off and on again gives back `last:2`; whole blocks at
 * the start or in the middle are `first:N` / `blocks:A-B`; a pick no spec describes stays a `names:` list. Whatever
 * it returns, the engine resolves to exactly the pick.
 */
import { describe, expect, it } from 'vitest';
import { checkpointTensors } from '../../../main/engine/api/layers';
import { resolveLayerSpec } from '../../../main/engine/selection/layers';
import type { TensorInfo } from '../../../main/engine/models/types';
import { simplestSpec } from '../../../renderer/src/features/layers/layerGrid';
import type { TensorRow } from '../../../preload/contract';
import { STORIES, TINY_GPT2, writeTinyModel } from '../models/tiny';

const rows = (tensors: TensorInfo[]): TensorRow[] => tensors.map((t) => ({ ...t, scores: {} }));

/** the spec for `chosen`, after checking that the engine resolves it to exactly `chosen` */
function specOf(tensors: TensorInfo[], chosen: Iterable<string>): string {
  const set = new Set(chosen);
  const spec = simplestSpec(rows(tensors), set);
  expect(new Set(resolveLayerSpec(spec, tensors)), spec).toEqual(set);
  return spec;
}

const blocksOf = (tensors: TensorInfo[]) => [...new Set(tensors.filter((t) => t.block !== null).map((t) => t.block!))].sort((a, b) => a - b);

describe.each([
  ['stories260K', () => checkpointTensors(STORIES)],
  ['tiny GPT-2', () => checkpointTensors(writeTinyModel(TINY_GPT2, 7))],
])('simplestSpec on %s', (_, load) => {
  const tensors = load();
  const blocks = blocksOf(tensors);

  it('toggling a cell off and on again gives back last:2', () => {
    const chosen = new Set(resolveLayerSpec('last:2', tensors));
    expect(specOf(tensors, chosen)).toBe('last:2');
    const cell = [...chosen][0]!;
    chosen.delete(cell);
    // one tensor short of two whole blocks: no shorter spec names that, so it is the list
    const off = specOf(tensors, chosen);
    expect(off.startsWith('names:')).toBe(true);
    expect(off).not.toContain(cell);
    chosen.add(cell);
    expect(specOf(tensors, chosen)).toBe('last:2');
  });

  it('whole blocks at the start, in the middle, and all of them', () => {
    expect(specOf(tensors, resolveLayerSpec('first:1', tensors))).toBe('first:1');
    if (blocks.length >= 3) expect(specOf(tensors, resolveLayerSpec(`blocks:${blocks[1]}-${blocks[1]}`, tensors))).toBe(`blocks:${blocks[1]}-${blocks[1]}`);
    // every block (not the embeddings or head): last:N, the shorter of last:N and first:N
    expect(specOf(tensors, resolveLayerSpec(`last:${blocks.length}`, tensors))).toBe(`last:${blocks.length}`);
    expect(specOf(tensors, tensors.map((t) => t.name))).toBe('all');
  });

  it('the attention and MLP kinds', () => {
    expect(specOf(tensors, resolveLayerSpec('attention', tensors))).toBe('attention');
    expect(specOf(tensors, resolveLayerSpec('mlp', tensors))).toBe('mlp');
  });

  it('blocks with a gap, or part of a block, stay a names: list in checkpoint order', () => {
    if (blocks.length >= 3) {
      const gap = resolveLayerSpec(`blocks:${blocks[0]}-${blocks[0]}`, tensors).concat(resolveLayerSpec('last:1', tensors));
      expect(specOf(tensors, gap).startsWith('names:')).toBe(true);
    }
    const one = tensors.find((t) => t.block !== null)!.name;
    expect(specOf(tensors, [one])).toBe(`names:${one}`);
    const two = [tensors[tensors.length - 1]!.name, tensors[0]!.name];
    expect(specOf(tensors, two)).toBe(`names:${two[1]},${two[0]}`);
  });
});

describe('the engine reads first:N and blocks:A-B', () => {
  const tensors = checkpointTensors(STORIES);
  const blocks = blocksOf(tensors);
  it('first:N and blocks:A-B take whole blocks; out of range is refused with the range', () => {
    expect(resolveLayerSpec('first:1', tensors)).toEqual(tensors.filter((t) => t.block === blocks[0]).map((t) => t.name));
    expect(resolveLayerSpec(`blocks:${blocks[0]}-${blocks[blocks.length - 1]}`, tensors)).toEqual(resolveLayerSpec(`last:${blocks.length}`, tensors));
    expect(() => resolveLayerSpec(`first:${blocks.length + 1}`, tensors)).toThrow(/N must be 1\.\./);
    expect(() => resolveLayerSpec('blocks:2-1', tensors)).toThrow(/A ≤ B/);
    expect(() => resolveLayerSpec(`blocks:0-${blocks.length + 3}`, tensors)).toThrow(/blocks A-B must be/);
  });
});
