/**
 * Layers: a model's tensors with their layer scores, layer specs resolved, and saved layer masks.
 */
import { z } from 'zod';
import { id } from './common';

/** The tensor kinds the `attention` and `mlp` layer specs take in every block (engine selection/layers.ts; the Layers grid names its picks with them). */
export const LAYER_SPEC_KINDS = {
  attention: ['q', 'k', 'v', 'o', 'qkv'],
  mlp: ['up', 'gate', 'down', 'fc', 'proj'],
} as const;

export interface TensorRow {
  name: string;
  shape: number[];
  block: number | null;
  kind: string;
  size: number;
  scores: Record<string, number>;
}

export interface LayerMaskInfo {
  id: number;
  name: string;
  modelId: number;
  tensors: string[];
  provenance: Record<string, unknown>;
}

/** layers.*, layerMasks.*: each call's input schema (composed into ApiInputs, index.ts). */
export const LayersInputs = {
  'layers.list': z.object({ modelId: id }),
  'layers.resolve': z.object({ modelId: id, layers: z.string().min(1) }),
  'layerMasks.save': z.object({ name: z.string().min(1).max(200), modelId: id, layers: z.string().min(1) }),
  'layerMasks.list': z.object({ modelId: id.optional() }),
} as const;

/** layers.*, layerMasks.*: each call's output. */
export interface LayersOutputs {
  /** lossForms: per layer signal shown, the per-example loss its run differentiated ('sum' or 'mean' response NLL) */
  'layers.list': { tensors: TensorRow[]; numLayers: number; lossForms: Record<string, 'sum' | 'mean'> };
  'layers.resolve': { tensors: string[]; trainableParams: number; totalParams: number };
  'layerMasks.save': LayerMaskInfo;
  'layerMasks.list': LayerMaskInfo[];
}
