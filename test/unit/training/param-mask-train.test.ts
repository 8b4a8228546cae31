/**
 * Training under a parameter mask: only the mask's entries change. The optimizer's masked update is checked against
 * AdamW and SGD (decoupled weight decay) written here in float64; a whole training job on a tiny Llama with weight
 * decay leaves every unmasked entry — of masked tensors and of every other tensor — bit-identical to the base weights,
 * while the masked entries moved; train.estimate and train.start count the mask's tensors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint, readSafetensorsHeader } from '../../../main/engine/models/safetensors';
import { createOptimizer } from '../../../main/engine/training/optimizer';
import { loadParamMaskBits } from '../../../main/engine/selection/param-masks-store';
import { rng, writeTinyModel } from '../models/tiny';
import { TestProject, gsm8kRows } from '../scoring/helpers';

beforeAll(async () => {
  await initBackend();
});

/** bit patterns of float32 values, so -0 vs 0 and NaN payloads count as changes */
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('masked optimizer step', () => {
  for (const kind of ['adamw', 'sgd'] as const) {
    it(`${kind}: masked entries follow the update written here, the others keep their bits (weight decay on)`, () => {
      const r = rng(kind === 'adamw' ? 3 : 4);
      const n = 40;
      const w0 = Float32Array.from({ length: n }, (_, i) => (i === 5 ? -0 : r() - 0.5));
      const mask = Uint8Array.from({ length: n }, () => (r() < 0.4 ? 1 : 0));
      mask[5] = 0;
      const v = tf.variable(tf.tensor1d(w0));
      const m = tf.tensor1d(mask, 'bool');
      const opt = createOptimizer(kind, { weightDecay: 0.1 });
      const lr = 0.05;
      // reference state (float64)
      const w = Float64Array.from(w0);
      const m1 = new Float64Array(n);
      const m2 = new Float64Array(n);
      for (let step = 1; step <= 3; step++) {
        // the training loop masks the gradient before the optimizer; do the same here
        const g = Float32Array.from({ length: n }, (_, i) => (mask[i] ? r() - 0.5 : 0));
        const gt = tf.tensor1d(g);
        opt.apply(new Map([['p', v]]), new Map([['p', gt]]), lr, new Map([['p', m]]));
        gt.dispose();
        for (let i = 0; i < n; i++) {
          if (!mask[i]) continue;
          if (kind === 'sgd') {
            w[i] = w[i]! * (1 - lr * 0.1) - lr * g[i]!;
            continue;
          }
          m1[i] = 0.9 * m1[i]! + 0.1 * g[i]!;
          m2[i] = 0.999 * m2[i]! + 0.001 * g[i]! * g[i]!;
          const upd = m1[i]! / (1 - 0.9 ** step) / (Math.sqrt(m2[i]! / (1 - 0.999 ** step)) + 1e-8);
          w[i] = w[i]! * (1 - lr * 0.1) - lr * upd;
        }
      }
      const got = v.dataSync() as Float32Array;
      for (let i = 0; i < n; i++) {
        if (mask[i]) expect(Math.abs(got[i]! - w[i]!), `entry ${i}`).toBeLessThanOrEqual(1e-6);
        else expect(bits(got)[i], `entry ${i}`).toBe(bits(w0)[i]);
      }
      if (kind === 'adamw') {
        // dense state: full-size moments, zero where the mask is 0
        const st = opt.state().tensors.get('p.exp_avg')!.dataSync();
        expect(st.length).toBe(n);
        for (let i = 0; i < n; i++) if (!mask[i]) expect(st[i]).toBe(0);
      }
      opt.dispose();
      v.dispose();
      m.dispose();
    });
  }
});

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};

describe('a training job under a parameter mask', () => {
  let proj: TestProject;
  let dir = '';
  let modelId = 0;
  let datasetId = 0;

  beforeAll(async () => {
    proj = new TestProject('pmtrain');
    dir = writeTinyModel(TINY_LLAMA, 31);
    modelId = await proj.addModel(dir);
    datasetId = await proj.importDataset(gsm8kRows(proj.home, 6));
  });
  afterAll(() => proj?.close());

  for (const [method, optimizer] of [['salience', 'adamw'], ['gps', 'sgd']] as const) {
    it(`${method} mask + ${optimizer} with weight decay: unmasked entries bit-identical after 4 steps, masked ones moved`, async () => {
      const c = await proj.call('paramMasks.compute', {
        name: `${method}-mask`, modelId, method, metric: 'abs_wg', density: 0.05, perRow: method === 'gps' ? 2 : undefined, scope: 'all', datasetId,
      });
      const maskId = Number((await proj.finished(c.jobId)).stats.maskId);
      const info = await proj.call('paramMasks.get', { maskId });
      const est = await proj.call('train.estimate', { modelId, layers: 'all', paramMaskId: maskId });
      expect(est.maskedParams).toBe(info.trainableParams);
      expect(est.trainableTensors).toBe(info.tensors.length);
      expect(est.trainableParams).toBe(info.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0));

      const { jobId, runId } = await proj.call('train.start', {
        modelId, subsetId: null, datasetId, layers: info.scope, paramMaskId: maskId, steps: 4, batchSize: 2, lr: 0.02,
        optimizer, weightDecay: 0.1, evalFraction: 0, checkpointEvery: 2,
      });
      await proj.finished(jobId);
      const run = (await proj.call('train.list', {})).find((x) => x.id === runId)!;
      const before = readCheckpoint(dir).tensors;
      const after = readCheckpoint(run.outDir!).tensors;
      const masks = loadParamMaskBits(proj.db, maskId);
      let moved = 0;
      for (const [name, t] of before) {
        const a = bits(after.get(name)!.data as Float32Array);
        const b = bits(t.data as Float32Array);
        const m = masks.get(name)?.mask;
        for (let i = 0; i < b.length; i++) {
          if (m && m[i]) {
            // weight decay moves every nonzero masked entry even where a batch had no gradient for it
            if (t.data[i] !== 0) expect(a[i], `${name}[${i}] should have moved`).not.toBe(b[i]);
            moved++;
          } else if (a[i] !== b[i]) {
            expect.fail(`${name}[${i}] is outside the mask but changed: ${t.data[i]} → ${after.get(name)!.data[i]}`);
          }
        }
      }
      expect(moved).toBe(info.trainableParams);
    });
  }

  it('exports the run\'s mask (uint8 safetensors + json) and its changed tensors; refuses a mask export without a mask', async () => {
    const run = (await proj.call('train.list', {})).find((r) => r.config.paramMaskId !== undefined && r.config.optimizer === 'adamw')!;
    const info = await proj.call('paramMasks.get', { maskId: run.config.paramMaskId! });
    const out = join(proj.home, 'bundle');
    const { jobId } = await proj.call('export.start', { outDir: out, subsetId: null, trainRunId: run.id, what: ['param_mask', 'weights'], weightsForm: 'changed' });
    await proj.finished(jobId);
    const json = JSON.parse(readFileSync(join(out, 'param_mask.json'), 'utf8')) as { trainable_params: number; tensors: Array<{ name: string }> };
    expect(json.trainable_params).toBe(info.trainableParams);
    const header = readSafetensorsHeader(join(out, 'param_mask.safetensors'));
    expect([...header.entries.keys()].sort()).toEqual(info.tensors.map((t) => t.name).sort());
    for (const e of header.entries.values()) expect(e.dtype).toBe('U8');
    const bits = loadParamMaskBits(proj.db, info.id);
    const raw = readFileSync(join(out, 'param_mask.safetensors'));
    const start = 8 + Number(raw.readBigUInt64LE(0));
    for (const [name, e] of header.entries) {
      expect(Uint8Array.from(raw.subarray(start + e.data_offsets[0], start + e.data_offsets[1])), name).toEqual(bits.get(name)!.mask);
    }
    // changed tensors: exactly the mask's tensors that moved; the manifest and README name the files
    const delta = JSON.parse(readFileSync(join(out, 'model', 'winnow_delta.json'), 'utf8')) as { tensors: string[] };
    for (const n of delta.tensors) expect(bits.has(n), n).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: Record<string, string> };
    expect(Object.keys(manifest.files)).toEqual(expect.arrayContaining(['param_mask.safetensors', 'param_mask.json', 'model/winnow_delta.json']));
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('param_mask.safetensors');

    const none = await proj.service.call('export.start', { outDir: join(proj.home, 'none'), subsetId: null, datasetId, what: ['param_mask'] });
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.error.message).toMatch(/needs a parameter mask/);
  });

  it('paused and resumed under a mask, a run ends with the same weights as an uninterrupted one', async () => {
    const maskId = (await proj.call('paramMasks.list', { modelId })).find((m) => m.method === 'salience')!.id;
    const cfg = { modelId, subsetId: null, datasetId, layers: 'all', paramMaskId: maskId, steps: 6, batchSize: 2, lr: 0.02, weightDecay: 0.1, evalFraction: 0, checkpointEvery: 2 };
    const straight = await proj.call('train.start', cfg);
    await proj.finished(straight.jobId);
    const paused = await proj.call('train.start', cfg);
    // pause once the job reports step 3 (a checkpoint is written on cancel)
    const off = proj.service.onEvent((e) => {
      if (e.type === 'job' && e.job.jobId === paused.jobId && e.job.status === 'running' && e.job.current >= 3) {
        off();
        void proj.service.call('jobs.cancel', { jobId: paused.jobId });
      }
    });
    await proj.service.whenIdle();
    const job = (await proj.call('jobs.list', {})).find((j) => j.jobId === paused.jobId)!;
    expect(job.status).toBe('cancelled');
    await proj.call('jobs.resume', { jobId: paused.jobId });
    await proj.finished(paused.jobId);
    const runs = await proj.call('train.list', {});
    const a = readCheckpoint(runs.find((r) => r.id === straight.runId)!.outDir!).tensors;
    const b = readCheckpoint(runs.find((r) => r.id === paused.runId)!.outDir!).tensors;
    for (const [name, t] of a) expect(Buffer.from(b.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
  });

  it('refuses a mask of another model', async () => {
    const other = await proj.addModel(writeTinyModel(TINY_LLAMA, 32));
    const maskId = (await proj.call('paramMasks.list', { modelId }))[0]!.id;
    const r = await proj.service.call('train.start', { modelId: other, subsetId: null, datasetId, layers: 'all', paramMaskId: maskId, steps: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/belongs to model/);
  });
});
