/**
 * Rough float32 memory needs of a model and one training step, to refuse or warn before a job runs out of
 * memory. Estimates, not measurements: activations count what the autograd tape keeps per block.
 */
import * as os from 'node:os';
import { WinnowError } from '../util/errors';
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
  opts: { batch: number; seqLen: number; trainableParams: number; gradAccum?: number; tapeBlocks?: number; extraTapeElements?: number },
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
  // Training keeps every block's activations on the tape (LoRA: only the blocks from the lowest adapted one up, the
  // frozen prefix runs outside the tape, `tapeBlocks`); inference needs about one block at a time.
  const blocksKept = trainableParams > 0 ? Math.min(cfg.numLayers, opts.tapeBlocks ?? cfg.numLayers) : 1;
  const logits = B * T * cfg.vocabSize * (trainableParams > 0 ? 3 : 1); // logits, log-softmax, their gradient
  const kept = (blocksKept * perBlock + logits + 2 * B * T * H + (trainableParams > 0 ? opts.extraTapeElements ?? 0 : 0)) * F;
  // Training: what the tape keeps is more than the tensors named above (norm and attention intermediates, head
  // transients, the backward's activation gradients). Measured on GPT-2 small (wasm, 2026-11-29): each batch row of
  // 128 tokens added 0.48 GiB to the heap peak against 0.19 GiB counted here.
  const activationBytes = trainableParams > 0 ? TRAIN_ACTIVATION_FACTOR * kept : kept;
  const weightsBytes = countParams(cfg) * F;
  // gradient accumulation keeps a running sum next to each micro-batch's gradients
  const gradBytes = trainableParams * F * ((opts.gradAccum ?? 1) > 1 ? 2 : 1);
  const optimizerBytes = trainableParams * 2 * F; // Adam: first and second moments
  return {
    weightsBytes,
    activationBytes,
    gradBytes,
    optimizerBytes,
    totalBytes: weightsBytes + activationBytes + gradBytes + optimizerBytes,
  };
}

export const WASM_HEAP_BYTES = 4 * 2 ** 30;
/** share of the limit a job may plan to use: the rest is fragmentation, kernels' scratch and JS-side copies */
const USABLE = 0.9;
/** keep in step with CACHE_CEILING_BYTES in compute/weight-matmul.ts */
const WASM_COPY_CEILING = 2.5 * 2 ** 30;
/**
 * The wasm heap never shrinks and a training step frees and reallocates gradient- and optimizer-sized blocks, so its
 * high-water mark exceeds the live tensors. Calibrated on GPT-2 small, full AdamW training on wasm (2026-11-29, after
 * the leaner AdamW, cross-entropy and gelu): heap peaks 2.86 GiB at [1,128], 3.34 GiB at [2,128], 3.26 GiB at 4
 * micro-batches of [1,128] accumulated; [4,128] aborts. These constants reproduce all four within 0.1 GiB.
 */
const WASM_TRAIN_OVERHEAD = 0.4;
const TRAIN_ACTIVATION_FACTOR = 2.5;

/** the adapter figures checkFits needs for webgpu (BackendInfo.adapter) */
export interface GpuLimits {
  software: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/**
 * WebGPU does not report a device's memory. WINNOW_GPU_MEMORY_BYTES states it (e.g. 80e9 for an 80 GB card); a
 * software adapter's memory is the machine's RAM; otherwise only the per-buffer limits are checked.
 */
export function gpuMemoryBytes(adapter: GpuLimits, totalMem: number): number | null {
  const v = Number(process.env.WINNOW_GPU_MEMORY_BYTES);
  if (Number.isFinite(v) && v > 0) return v;
  return adapter.software ? totalMem : null;
}

/** The largest single tensor one micro-batch makes (bytes), and what it is. */
export function largestActivation(cfg: ModelConfig, batch: number, seqLen: number, training: boolean): { bytes: number; what: string } {
  const B = batch;
  const T = seqLen;
  const cands = [
    // scoring splits a batch so its logits stay under MAX_LOGIT_ELEMENTS (scoring/passes/forward.ts); training does not
    { bytes: 4 * (training ? B * T * cfg.vocabSize : Math.min(B * T * cfg.vocabSize, Math.max(T * cfg.vocabSize, 1 << 24))), what: `logits [${B}×${T}×${cfg.vocabSize}]` },
    { bytes: 4 * B * cfg.numHeads * T * T, what: `attention scores [${B}×${cfg.numHeads}×${T}×${T}]` },
    { bytes: 4 * B * T * cfg.intermediateSize, what: `MLP activations [${B}×${T}×${cfg.intermediateSize}]` },
  ];
  return cands.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

/** bytes of the largest 2-D weight a product uses: the output head (or tied embedding), or an MLP matrix */
function largestWeightBytes(cfg: ModelConfig): number {
  return 4 * cfg.hiddenSize * Math.max(cfg.vocabSize, cfg.intermediateSize, 3 * cfg.hiddenSize);
}

export interface FitCheck extends MemoryEstimate {
  /** wasm: transposed + packed copies of frozen weights, and the heap's training high-water overhead */
  backendExtraBytes: number;
  limitBytes: number;
  backend: string;
}

const gib = (n: number): string => `${(n / 2 ** 30).toFixed(2)} GiB`;

/**
 * Will weights + activations + gradients + optimizer state for this batch and trainable set fit the backend?
 * Returns the estimate when it does; throws WinnowError('too_large') naming every figure when it does not.
 * Limits: wasm, its 4 GiB heap (all tensors live there); cpu and tensorflow, the machine's RAM (`totalMem`); webgpu,
 * the adapter's per-buffer limit for the largest activation, and the device memory where known (gpuMemoryBytes).
 */
export function checkFits(
  cfg: ModelConfig,
  opts: { batch: number; seqLen: number; trainableParams: number; backend: string; totalMem?: number; gradAccum?: number; adapter?: GpuLimits; tapeBlocks?: number; extraTapeElements?: number },
): FitCheck {
  const est = estimateMemory(cfg, opts);
  let extra = 0;
  let limit = opts.totalMem ?? os.totalmem();
  if (opts.backend === 'webgpu' && opts.adapter) {
    // one buffer per tensor: the largest activation must fit the adapter's binding limit (weights over it are split)
    const cap = Number(process.env.WINNOW_WEBGPU_MAX_BUFFER_BYTES);
    const perBuffer = Math.min(opts.adapter.maxStorageBufferBindingSize, opts.adapter.maxBufferSize, Number.isFinite(cap) && cap > 0 ? cap : Infinity);
    const big = largestActivation(cfg, opts.batch, opts.seqLen, opts.trainableParams > 0);
    if (big.bytes > perBuffer) {
      throw new WinnowError(
        'too_large',
        `${cfg.modelType} model at batch ${opts.batch} × ${opts.seqLen} tokens needs one GPU buffer of ${gib(big.bytes)} (${big.what}) but this ` +
          `GPU takes at most ${gib(perBuffer)} per buffer (maxStorageBufferBindingSize). Use a smaller batch or sequence length.`,
        { needBytes: big.bytes, limitBytes: perBuffer, backend: 'webgpu', ...est, backendExtraBytes: 0 },
      );
    }
    // every tensor differentiated (layer signals, "all" layers): the embedding's gradient is one buffer too, and a
    // weight over the limit is split only for the forward pass (compute/shard.ts)
    const table = 4 * cfg.vocabSize * cfg.hiddenSize;
    if (opts.trainableParams >= countParams(cfg) && table > perBuffer) {
      throw new WinnowError(
        'too_large',
        `differentiating every tensor of this ${cfg.modelType} model needs the embedding's gradient [${cfg.vocabSize}×${cfg.hiddenSize}] as one GPU ` +
          `buffer of ${gib(table)}, but this GPU takes at most ${gib(perBuffer)} per buffer. Leave the embedding out (a layer spec such as last:N, ` +
          'or grad_norm/grad_sim_base over chosen layers), or use the wasm or cpu backend (WINNOW_BACKEND=wasm).',
        { needBytes: table, limitBytes: perBuffer, backend: 'webgpu', ...est, backendExtraBytes: 0 },
      );
    }
    const mem = gpuMemoryBytes(opts.adapter, opts.totalMem ?? os.totalmem());
    // unknown device memory: nothing more to check here (the per-buffer limit was)
    limit = mem ?? Infinity;
  }
  if (opts.backend === 'wasm') {
    limit = Math.min(limit, WASM_HEAP_BYTES);
    // frozen weights get a transposed copy, which XNNPACK packs once more (outside tf.memory()), while tensors +
    // copies stay under the copy ceiling; past it the uncached path transposes and packs the weight on every call,
    // so the largest uncached weight is held twice more for the length of its product. Trainable weights get only
    // per-call copies. (Qwen2.5-0.5B at [1,256]: scored one row and then ran the heap out when the packed copies and
    // the 0.5 GiB tied head's per-call copies were left out of this sum.)
    const frozenBytes = Math.max(0, est.weightsBytes - est.gradBytes);
    const cachedBytes = Math.min(frozenBytes, Math.max(0, WASM_COPY_CEILING - est.weightsBytes));
    const uncachedTransient = cachedBytes < frozenBytes ? 2 * largestWeightBytes(cfg) : 0;
    extra = 2 * cachedBytes + uncachedTransient;
    // (one step's gradients + AdamW state: an accumulation buffer does not add to the churn)
    extra += WASM_TRAIN_OVERHEAD * opts.trainableParams * 4 * 3;
  }
  const need = est.totalBytes + extra;
  const result: FitCheck = { ...est, backendExtraBytes: extra, limitBytes: limit, backend: opts.backend };
  if (need > USABLE * limit) {
    // when the weights and their working copies alone are over, no batch or sequence length helps: say what would
    const fixed = est.weightsBytes + (opts.backend === 'wasm' ? extra - WASM_TRAIN_OVERHEAD * opts.trainableParams * 4 * 3 : 0);
    const advice = fixed > USABLE * limit
      ? `The weights and their ${opts.backend} working copies alone need ~${gib(fixed)}, so no batch or sequence length fits here: ` +
        'use a GPU (the webgpu backend) or the cpu backend (WINNOW_BACKEND=cpu, which uses the machine\'s RAM).'
      : 'Use a smaller batch or sequence length, or train fewer tensors.';
    const what = opts.trainableParams > 0 ? `training ${opts.trainableParams.toLocaleString('en')} parameters` : 'inference';
    throw new WinnowError(
      'too_large',
      `${cfg.modelType} model does not fit the ${opts.backend} backend for ${what} at batch ${opts.batch} × ${opts.seqLen} tokens: ` +
        `needs ~${gib(need)} (weights ${gib(est.weightsBytes)}, activations ${gib(est.activationBytes)}, gradients ${gib(est.gradBytes)}, ` +
        `optimizer ${gib(est.optimizerBytes)}${extra ? `, ${opts.backend} weight copies and heap overhead ${gib(extra)}` : ''}) but ${gib(USABLE * limit)} is usable ` +
        `(${Math.round(USABLE * 100)}% of ${gib(limit)}${opts.backend === 'webgpu' ? (process.env.WINNOW_GPU_MEMORY_BYTES ? ', WINNOW_GPU_MEMORY_BYTES' : ', the RAM a software adapter uses') : ''}). ` +
        advice,
      { needBytes: need, ...result },
    );
  }
  return result;
}
