/**
 * Optimizer parity: training/optimizer.ts (AdamW, SGD, global-norm clipping) and training/schedule.ts (warm-up, then
 * cosine or linear decay) against torch.optim.AdamW / SGD, clip_grad_norm_ and torch's own lr schedulers, on fixed
 * parameters and gradients (fixture from test/parity/optim/ref_optim.py). Every step's lr, pre-clip norm and parameters
 * must agree, on every backend here (webgpu included, where an adapter starts: CI's SwiftShader): lr within 1e-9,
 * pre-clip norm within 1e-5 relative, parameters within 2e-6 — the same bounds on every backend.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../main/engine/compute/backend';
import { clipByGlobalNorm, createOptimizer } from '../../main/engine/training/optimizer';
import { learningRate } from '../../main/engine/training/schedule';
import { webgpuSkipReason } from '../setup/webgpu';

const GPU_SKIP = await webgpuSkipReason();
if (GPU_SKIP) console.warn(`optimizer parity on webgpu skipped: ${GPU_SKIP}`);

interface Case {
  optimizer: 'adamw' | 'sgd';
  weight_decay: number;
  schedule: 'constant' | 'linear' | 'cosine';
  max_norm: number | null;
  lrs: number[];
  norms: number[];
  params: Array<Record<string, number[]>>;
}
const FIX = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../fixtures/parity/optim.json'), 'utf8')) as {
  steps: number;
  base_lr: number;
  warmup: number;
  shapes: Record<string, number[]>;
  init: Record<string, number[]>;
  grads: Array<Record<string, number[]>>;
  cases: Case[];
};

afterAll(async () => {
  await initBackend('cpu');
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe.each<BackendName>(GPU_SKIP ? ['cpu', 'wasm'] : ['cpu', 'wasm', 'webgpu'])('optimizers on %s', (backend) => {
  it.each(FIX.cases.map((c) => [`${c.optimizer}, ${c.schedule}, wd ${c.weight_decay}, clip ${c.max_norm}`, c] as const))('%s: same lr, norm and parameters as torch at every step', async (_label, c) => {
    await initBackend(backend);
    const vars = new Map(Object.entries(FIX.init).map(([k, v]) => [k, tf.variable(tf.tensor(v, FIX.shapes[k]!), true, `optim-${backend}-${FIX.cases.indexOf(c)}-${k}`)]));
    const opt = createOptimizer(c.optimizer, { weightDecay: c.weight_decay });
    let worstParam = 0;
    for (let step = 0; step < FIX.steps; step++) {
      const lr = learningRate(c.schedule, FIX.base_lr, step, FIX.steps, FIX.warmup);
      expect(Math.abs(lr - c.lrs[step]!)).toBeLessThan(1e-9);
      const grads = new Map(Object.entries(FIX.grads[step]!).map(([k, g]) => [k, tf.tensor(g, FIX.shapes[k]!)]));
      const norm = await clipByGlobalNorm(grads, c.max_norm);
      if (c.max_norm !== null) expect(Math.abs(norm - c.norms[step]!) / c.norms[step]!).toBeLessThan(1e-5);
      opt.apply(vars, grads, lr);
      for (const g of grads.values()) g.dispose();
      for (const [k, v] of vars) worstParam = Math.max(worstParam, maxAbsDiff(await v.data(), c.params[step]![k]!));
    }
    expect(worstParam).toBeLessThan(2e-6);
    opt.dispose();
    for (const v of vars.values()) v.dispose();
  });
});
