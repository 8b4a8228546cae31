/**
 * Shared pieces of the model benchmarks: the GPT-2-small-shaped random model (written once as an HF folder so
 * PyTorch loads the very same weights), forward and training-step runners, and a per-kernel profiler.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { parseModelConfig } from '../main/engine/models/config';
import { embed, finalNorm, lmHead, runBlocks, type Weights } from '../main/engine/models/forward';
import { writeSafetensors } from '../main/engine/models/safetensors';
import { expectedTensors } from '../main/engine/models/tensors';
import type { ModelConfig } from '../main/engine/models/types';
import { weightedLmLoss } from '../main/engine/training/loss';
import { createOptimizer } from '../main/engine/training/optimizer';
import { mulberry32 } from '../main/engine/util/random';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const STORIES_DIR = path.join(ROOT, 'resources/models/stories260K');

export const GPT2_SMALL = {
  model_type: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  vocab_size: 50257,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  n_positions: 1024,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
};

const rng = mulberry32;

/** A random model folder (config.json + model.safetensors), written once per config into the OS tmp dir. */
export function randomModelDir(raw: Record<string, unknown>, name: string, seed = 7): string {
  const dir = path.join(os.tmpdir(), 'winnow-bench', name);
  const file = path.join(dir, 'model.safetensors');
  if (fs.existsSync(file) && fs.existsSync(path.join(dir, 'config.json'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const cfg = parseModelConfig(raw);
  const r = rng(seed);
  const tensors = expectedTensors(cfg).map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /norm|ln_/.test(t.name) && t.name.endsWith('weight');
    // uniform with std 0.02 (GPT-2's init scale), so activations stay in a realistic range
    for (let i = 0; i < n; i++) data[i] = isNorm ? 1 : 0.0346 * (2 * r() - 1);
    return { name: t.name, shape: t.shape, data };
  });
  writeSafetensors(file, tensors, 'F32');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw));
  // loadModel wants a tokenizer; the benchmarks feed ids directly, so any will do
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(STORIES_DIR, f), path.join(dir, f));
  return dir;
}

export function randomIds(B: number, T: number, vocab: number, seed = 3): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: B * T }, () => Math.floor(r() * vocab));
}

/** Forward pass to logits, read back (so the work is really done). */
export function runForward(cfg: ModelConfig, w: Weights, ids: Int32Array, B: number, T: number): void {
  tf.tidy(() => {
    const x = tf.tensor2d(ids, [B, T], 'int32');
    const h = finalNorm(cfg, w, runBlocks(cfg, w, embed(cfg, w, x), 0, cfg.numLayers));
    lmHead(cfg, w, h).dataSync();
  });
}

export interface Trainer {
  /** one step: forward, backward, AdamW update; returns the loss */
  step(): number;
  dispose(): void;
}

/**
 * A training step the way training/run.ts does it: the chosen tensors become variables (replacing, and disposing,
 * the loaded tensors — the trainer owns `weights` from here on), blocks below the lowest trainable one run outside
 * the tape, loss = mean token loss, then AdamW.
 */
export function makeTrainer(
  cfg: ModelConfig,
  w: Weights,
  ids: Int32Array,
  B: number,
  T: number,
  trainable: (name: string) => boolean,
  frozenBelow: number,
  micro?: number,
): Trainer {
  const vars = new Map<string, tf.Variable>();
  for (const [name, t] of Object.entries(w)) {
    if (!trainable(name)) continue;
    const v = tf.variable(t, true, `bench/${name}`);
    t.dispose();
    vars.set(name, v);
    w[name] = v;
  }
  const opt = createOptimizer('adamw', { weightDecay: 0 });
  const varList = [...vars.values()];
  // micro-batches of `micro` rows, gradients summed (each micro-batch's loss is weighted by its share of the batch, so
  // the step equals one over the whole batch): how a batch that does not fit the backend is trained
  const mb = Math.max(1, Math.min(micro ?? B, B));
  if (B % mb !== 0) throw new Error(`micro-batch ${mb} does not divide batch ${B}`);
  const ones = new Float32Array(mb * T).fill(1);
  return {
    step() {
      let loss = 0;
      let acc: Map<string, tf.Tensor> | null = null;
      for (let r0 = 0; r0 < B; r0 += mb) {
        const part = ids.subarray(r0 * T, (r0 + mb) * T);
        const idsT = tf.tensor2d(part, [mb, T], 'int32');
        const prefix = frozenBelow > 0 ? tf.tidy(() => runBlocks(cfg, w, embed(cfg, w, idsT), 0, frozenBelow)) : null;
        const { value, grads } = tf.variableGrads(() => {
          const h0 = prefix ?? embed(cfg, w, idsT);
          const h = runBlocks(cfg, w, h0, frozenBelow, cfg.numLayers);
          const l = weightedLmLoss(lmHead(cfg, w, finalNorm(cfg, w, h)), part, ones, mb, T, { dft: false }).loss;
          return mb === B ? l : tf.mul(l, mb / B);
        }, varList);
        loss += value.dataSync()[0]!;
        value.dispose();
        idsT.dispose();
        prefix?.dispose();
        if (!acc) acc = new Map([...vars].map(([name, v]) => [name, grads[v.name]!]));
        else
          for (const [name, v] of vars) {
            const prev = acc.get(name)!;
            acc.set(name, tf.add(prev, grads[v.name]!));
            prev.dispose();
            grads[v.name]!.dispose();
          }
      }
      opt.apply(vars, acc!, 1e-5);
      for (const t of acc!.values()) t.dispose();
      return loss;
    },
    dispose() {
      opt.dispose();
    },
  };
}

/** Seconds per call: `warm` untimed calls, then the median of `reps` timed ones. */
export function timeIt(fn: () => void, reps: number, warm = 1): { median: number; all: number[] } {
  for (let i = 0; i < warm; i++) fn();
  const all: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    all.push((performance.now() - t0) / 1000);
  }
  const s = [...all].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], all };
}

/**
 * Every matrix product one forward does, as [count, batch, M, K, N] (batch > 1: a batched product): the projections
 * of each block, the head, and attention's two products per head. `matmulSet` runs them all as the backend's own
 * plain (untransposed) matMul on random operands — the time the forward would take if it were only its products.
 */
export function forwardMatmuls(cfg: ModelConfig, B: number, T: number): Array<[number, number, number, number, number]> {
  const [H, I, L, V, hd] = [cfg.hiddenSize, cfg.intermediateSize, cfg.numLayers, cfg.vocabSize, cfg.headDim];
  const BT = B * T;
  const q = cfg.numHeads * hd;
  const kv = cfg.numKvHeads * hd;
  const blocks: Array<[number, number]> =
    cfg.arch === 'gpt2'
      ? [[H, 3 * H], [H, H], [H, I], [I, H]]
      : [[H, q], [H, kv], [H, kv], [q, H], [H, I], [H, I], [I, H]];
  const shapes = new Map<string, [number, number, number, number, number]>();
  const add = (n: number, b: number, M: number, K: number, N: number): void => {
    const key = `${b},${M},${K},${N}`;
    const cur = shapes.get(key);
    shapes.set(key, [(cur?.[0] ?? 0) + n, b, M, K, N]);
  };
  for (const [K, N] of blocks) add(L, 1, BT, K, N);
  add(1, 1, BT, H, V);
  add(L, B * cfg.numHeads, T, hd, T);
  add(L, B * cfg.numHeads, T, T, hd);
  return [...shapes.values()];
}

/** A runner for `forwardMatmuls`: operands made once, each call does every product (and frees its results). */
export function matmulSet(cfg: ModelConfig, B: number, T: number): { run(): void; flops: number; dispose(): void } {
  const ops = forwardMatmuls(cfg, B, T).map(([n, b, M, K, N]) => {
    const a = b === 1 ? tf.randomNormal([M, K]) : tf.randomNormal([b, M, K]);
    const w = b === 1 ? tf.randomNormal([K, N]) : tf.randomNormal([b, K, N]);
    return { n, a, w, flops: 2 * n * b * M * K * N };
  });
  return {
    flops: ops.reduce((s, o) => s + o.flops, 0),
    run: () => {
      for (const o of ops) for (let i = 0; i < o.n; i++) tf.matMul(o.a as tf.Tensor2D, o.w as tf.Tensor2D).dispose();
    },
    dispose: () => ops.forEach((o) => (o.a.dispose(), o.w.dispose())),
  };
}

/** Per-kernel self time (nested kernel calls, e.g. a Transpose inside BatchMatMul, are charged to themselves). */
export class KernelProfiler {
  readonly stats = new Map<string, { ms: number; calls: number; flops: number }>();
  private installed = false;
  private stack: number[] = [];
  on = false;

  install(backend: string): void {
    if (this.installed) return;
    this.installed = true;
    for (const k of tf.getKernelsForBackend(backend)) {
      const orig = k.kernelFunc;
      tf.unregisterKernel(k.kernelName, backend);
      tf.registerKernel({
        ...k,
        kernelFunc: (args) => {
          if (!this.on) return orig(args);
          this.stack.push(0);
          const t0 = performance.now();
          const out = orig(args);
          const dt = performance.now() - t0;
          const child = this.stack.pop()!;
          if (this.stack.length) this.stack[this.stack.length - 1] += dt;
          const key = k.kernelName === 'BatchMatMul' || k.kernelName === '_FusedMatMul' ? `${k.kernelName}${mmKind(args)}` : k.kernelName;
          const s = this.stats.get(key) ?? { ms: 0, calls: 0, flops: 0 };
          s.ms += dt - child;
          s.calls += 1;
          s.flops += k.kernelName.includes('MatMul') ? mmFlops(args) : 0;
          this.stats.set(key, s);
          return out;
        },
      });
    }
  }

  reset(): void {
    this.stats.clear();
  }

  table(top = 14): Array<{ op: string; ms: number; pct: number; calls: number; gflops: number | null }> {
    const total = [...this.stats.values()].reduce((a, s) => a + s.ms, 0);
    return [...this.stats.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, top)
      .map(([op, s]) => ({
        op,
        ms: Math.round(s.ms),
        pct: Math.round((1000 * s.ms) / total) / 10,
        calls: s.calls,
        gflops: s.flops ? Math.round((s.flops / (s.ms / 1000) / 1e9) * 100) / 100 : null,
      }));
  }

  totalMs(): number {
    return [...this.stats.values()].reduce((a, s) => a + s.ms, 0);
  }
}

type KArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];

function mmDims(args: KArgs): { batch: number; m: number; k: number; n: number; tA: boolean; tB: boolean } {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA: tA, transposeB: tB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = tA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batch = Math.max(a.shape.slice(0, -2).reduce((x, y) => x * y, 1), b.shape.slice(0, -2).reduce((x, y) => x * y, 1));
  return { batch, m, k, n, tA, tB };
}

function mmFlops(args: KArgs): number {
  const d = mmDims(args);
  return 2 * d.batch * d.m * d.k * d.n;
}

function mmKind(args: KArgs): string {
  const d = mmDims(args);
  return `[${d.batch > 1 ? 'batched' : '2-D'}${d.tA ? ',tA' : ''}${d.tB ? ',tB' : ''}]`;
}
