/**
 * Parity with the plain-PyTorch reference (test/parity/reference/ref_models.py; fixtures written by make_fixtures.py
 * with torch 1.13 CPU, so CI needs no torch): each fixture's weights are loaded with Winnow's loader and checked on
 * every backend available here. Tolerances (TOL below):
 *   cpu, wasm: logits max |Δ| ≤ 1e-4; per-token loss max |Δ| ≤ 1e-5 × the mean loss; every parameter's gradient of
 *              the mean loss within 1e-3 relative error (‖Δ‖ / ‖g_torch‖);
 *   webgpu:    the same bounds — they hold on SwiftShader (CI). GPU shaders sum in another order (tiled matmuls,
 *              tree reductions) and exp/log are the driver's; if a hardware driver needs more, widen TOL.webgpu here.
 * webgpu runs over whatever adapter starts (CI: SwiftShader) and is skipped, with the reason, where none can.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../main/engine/compute/backend';
import { forward } from '../../main/engine/models/forward';
import { disposeModel, loadModel } from '../../main/engine/models/model';
import { readSafetensors } from '../../main/engine/models/safetensors';
import { weightedLmLoss } from '../../main/engine/training/loss';
import { STORIES, copyStoriesTokenizer, tmpDir } from '../unit/models/tiny';
import { webgpuSkipReason } from '../setup/webgpu';

const FIXTURES = path.resolve(__dirname, '../fixtures/parity');
const CASES = ['gpt2', 'llama-gqa', 'qwen2-bias-untied', 'llama-rope-linear', 'llama-rope-llama3', 'stories260K'];
const GPU_SKIP = await webgpuSkipReason();
if (GPU_SKIP) console.warn(`parity on webgpu skipped: ${GPU_SKIP}`);
const BACKENDS: BackendName[] = GPU_SKIP ? ['cpu', 'wasm'] : ['cpu', 'wasm', 'webgpu'];
const TOL: Record<string, { logits: number; loss: number; grad: number }> = {
  cpu: { logits: 1e-4, loss: 1e-5, grad: 1e-3 },
  wasm: { logits: 1e-4, loss: 1e-5, grad: 1e-3 },
  tensorflow: { logits: 1e-4, loss: 1e-5, grad: 1e-3 },
  webgpu: { logits: 1e-4, loss: 1e-5, grad: 1e-3 },
};

/** A loadable folder: the fixture's config + weights (stories260K: the bundled model) and the stories tokenizer. */
function modelDir(name: string): string {
  if (name === 'stories260K') return STORIES;
  const dir = tmpDir(`parity-${name}`);
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURES, name, f), path.join(dir, f));
  copyStoriesTokenizer(dir);
  return dir;
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function relErr(got: Float32Array, want: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < want.length; i++) {
    d += (got[i]! - want[i]!) ** 2;
    n += want[i]! ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}

afterAll(async () => {
  await initBackend('cpu');
});

describe.each(BACKENDS)('parity with PyTorch on %s', (backend) => {
  it.each(CASES)('%s: logits, per-token loss, every gradient', async (name) => {
    await initBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const tol = TOL[backend]!;
    const inputs = JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'inputs.json'), 'utf8')) as { ids: number[][]; attention_mask: number[][] };
    const expected = new Map([...readSafetensors(path.join(FIXTURES, name, 'expected.safetensors')).tensors].map(([k, t]) => [k, t.data]));
    const m = await loadModel(modelDir(name));
    try {
      const B = inputs.ids.length;
      const T = inputs.ids[0]!.length;
      const V = m.config.vocabSize;
      const ids = Int32Array.from(inputs.ids.flat());
      const mask = Int32Array.from(inputs.attention_mask.flat());
      const idsT = tf.tensor2d(ids, [B, T], 'int32');
      const maskT = tf.tensor2d(mask, [B, T], 'int32');
      const targetW = Float32Array.from(mask, (v, i) => (i % T === 0 ? 0 : v));

      // logits at real positions (padded positions' logits are not defined by either side)
      const logits = forward(m.config, m.weights, idsT, maskT);
      const got = (await logits.data()) as Float32Array;
      const want = expected.get('logits')!;
      let worst = 0;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          if (!mask[b * T + t]) continue;
          const o = (b * T + t) * V;
          worst = Math.max(worst, maxAbs(got.subarray(o, o + V), want.subarray(o, o + V)));
        }
      }
      expect(worst, 'logits max |Δ|').toBeLessThanOrEqual(tol.logits);

      // per-token loss −log p(x_t | x_<t) at real targets, from the same logits
      const logpT = tf.tidy(() => tf.logSoftmax(logits.slice([0, 0, 0], [B, T - 1, V])));
      const logp = (await logpT.data()) as Float32Array;
      tf.dispose([logpT, logits]);
      const wantLoss = expected.get('token_loss')!;
      const meanLoss = expected.get('mean_loss')![0]!;
      let lossWorst = 0;
      for (let b = 0; b < B; b++) {
        for (let t = 1; t < T; t++) {
          if (!mask[b * T + t]) continue;
          const mine = -logp[(b * (T - 1) + t - 1) * V + ids[b * T + t]!]!;
          lossWorst = Math.max(lossWorst, Math.abs(mine - wantLoss[b * (T - 1) + t - 1]!));
        }
      }
      expect(lossWorst / meanLoss, 'per-token loss max |Δ| / mean loss').toBeLessThanOrEqual(tol.loss);

      // gradients of the mean loss over real targets, with respect to every parameter (raw tensors, as scoring does)
      const names = Object.keys(m.weights);
      const lossOf = (...ws: tf.Tensor[]): tf.Scalar => {
        const rec: Record<string, tf.Tensor> = {};
        names.forEach((n, i) => (rec[n] = ws[i]!));
        return weightedLmLoss(forward(m.config, rec, idsT, maskT), ids, targetW, B, T, { dft: false }).loss;
      };
      const { value, grads } = tf.valueAndGrads(lossOf)(names.map((n) => m.weights[n]!));
      expect(Math.abs((await value.data())[0]! - meanLoss) / meanLoss).toBeLessThanOrEqual(tol.loss);
      const gradData = await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>));
      names.forEach((n, i) => {
        const g = expected.get(`grad.${n}`);
        expect(g, `fixture has grad.${n}`).toBeTruthy();
        expect(relErr(gradData[i]!, g!), `grad ${n}`).toBeLessThanOrEqual(tol.grad);
      });
      tf.dispose([value, ...grads, idsT, maskT]);
    } finally {
      disposeModel(m);
    }
  });
});
