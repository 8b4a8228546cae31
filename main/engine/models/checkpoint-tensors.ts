/** A checkpoint's tensors read from its safetensors headers, for choosing layers without loading weights. */
import { readModelConfig } from './config';
import { checkpointFiles, readSafetensorsHeader } from './safetensors';
import { listTensors } from './tensors';
import type { TensorInfo } from './types';
import { deltaBaseDir, readDeltaManifest } from './delta';

/** Tensors of a checkpoint from its headers only (no weights are read). */
export function checkpointTensors(dir: string): TensorInfo[] {
  // a changed-tensors-only folder has the base's tensors
  const delta = readDeltaManifest(dir);
  if (delta) return checkpointTensors(deltaBaseDir(dir, delta));
  const cfg = readModelConfig(dir);
  const shapes: Record<string, { shape: number[] }> = {};
  for (const f of checkpointFiles(dir).files) {
    for (const [name, e] of readSafetensorsHeader(f).entries) shapes[name] = { shape: e.shape };
  }
  return listTensors(cfg, shapes);
}
