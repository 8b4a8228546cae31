/**
 * Rough float32 memory needs of a model and one training step, to refuse or warn before a job runs out of
 * memory. Estimates, not measurements: activations count what the autograd tape keeps per block.
 */
import { expectedTensors } from './tensors';
import type { ModelConfig } from './types';

export interface MemoryEstimate {
  weightsBytes: number;
  activationBytes: number;
  gradBytes: number;
  optimizerBytes: number;
  totalBytes: number;
}

export function countParams(cfg: ModelConfig): number {
  return expectedTensors(cfg).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

export function estimateMemory(
  cfg: ModelConfig,
  opts: { batch: number; seqLen: number; trainableParams: number },
): MemoryEstimate {
  const F = 4;
  const { batch: B, seqLen: T, trainableParams } = opts;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  // Per block, per token: norm in/out, q, k, v (+ roped and repeated copies), attention output, o, residual,
  // MLP input and (gate, up, activation) or (fc, gelu); per head: scores and probabilities (T each).
  const perToken = 4 * H + 3 * qDim + 4 * kvDim + 3 * I;
  const perBlock = B * T * perToken + 2 * B * cfg.numHeads * T * T;
  // Training keeps every block's activations on the tape; inference needs about one block at a time.
  const blocksKept = trainableParams > 0 ? cfg.numLayers : 1;
  const logits = B * T * cfg.vocabSize * (trainableParams > 0 ? 3 : 1); // logits, log-softmax, their gradient
  const activationBytes = (blocksKept * perBlock + logits + 2 * B * T * H) * F;
  const weightsBytes = countParams(cfg) * F;
  const gradBytes = trainableParams * F;
  const optimizerBytes = trainableParams * 2 * F; // Adam: first and second moments
  return {
    weightsBytes,
    activationBytes,
    gradBytes,
    optimizerBytes,
    totalBytes: weightsBytes + activationBytes + gradBytes + optimizerBytes,
  };
}
