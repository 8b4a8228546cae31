/**
 * Tuned-model parity: a model Winnow trained (test/parity/tuned/tuned.ts, committed in test/fixtures/parity/tuned/)
 * gives PyTorch's logits (ref_tuned.py, plain-PyTorch reference models) when Winnow loads it — as the full HF folder
 * and as changed tensors plus winnow_delta.json over the base — logits max |Δ| ≤ 1e-4 at real positions, on every
 * backend here (webgpu included where an adapter starts; the same bound). And Winnow's deterministic training, run again on the backend the fixture was made with (wasm, the
 * default; on cpu the same run takes minutes), saves the committed tensors (max |Δ| ≤ 1e-6) and exports the same
 * changed tensors, so a change to training that alters its results fails here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendName } from '../../main/engine/compute/backend';
import { forward } from '../../main/engine/models/forward';
import { disposeModel, loadModel } from '../../main/engine/models/model';
import { readCheckpoint, readSafetensors } from '../../main/engine/models/safetensors';
import { FIXTURE, INPUTS, trainTuned, withTokenizer, writeBase } from './tuned/tuned';
import { tmpDir } from '../unit/models/tiny';
import { webgpuSkipReason } from '../setup/webgpu';

const GPU_SKIP = await webgpuSkipReason();
if (GPU_SKIP) console.warn(`tuned parity on webgpu skipped: ${GPU_SKIP}`);
const BACKENDS: BackendName[] = GPU_SKIP ? ['cpu', 'wasm'] : ['cpu', 'wasm', 'webgpu'];

afterAll(async () => {
  await initBackend('cpu');
});

async function logitsOf(m: Awaited<ReturnType<typeof loadModel>>): Promise<Float32Array> {
  const B = INPUTS.ids.length;
  const T = INPUTS.ids[0]!.length;
  const t = tf.tidy(() => forward(m.config, m.weights, tf.tensor2d(INPUTS.ids, [B, T], 'int32'), tf.tensor2d(INPUTS.attention_mask, [B, T], 'int32')));
  const out = (await t.data()) as Float32Array;
  t.dispose();
  return out;
}

/** max |Δ| over the logits of real (unpadded) positions */
function worstReal(got: Float32Array, want: Float32Array, V: number): number {
  const T = INPUTS.ids[0]!.length;
  let worst = 0;
  INPUTS.attention_mask.forEach((row, b) =>
    row.forEach((on, t) => {
      if (!on) return;
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[(b * T + t) * V + v]! - want[(b * T + t) * V + v]!));
    }),
  );
  return worst;
}

const committed = (sub: string) => readCheckpoint(path.join(FIXTURE, sub)).tensors;

describe.each(BACKENDS)('tuned-model parity on %s', (backend) => {
  it('the committed tuned model, full and changed-tensors forms, gives PyTorch’s logits', async () => {
    await initBackend(backend);
    expect(JSON.parse(fs.readFileSync(path.join(FIXTURE, 'inputs.json'), 'utf8'))).toEqual(INPUTS);
    const want = readSafetensors(path.join(FIXTURE, 'expected.safetensors')).tensors.get('logits')!.data;
    const root = tmpDir('tuned-parity');
    // the delta names its base as ../base: keep the layout
    for (const sub of ['base', 'full', 'delta']) withTokenizer(path.join(FIXTURE, sub), path.join(root, sub));
    const full = await loadModel(path.join(root, 'full'));
    const delta = await loadModel(path.join(root, 'delta'));
    try {
      const V = full.config.vocabSize;
      const a = await logitsOf(full);
      const b = await logitsOf(delta);
      expect(worstReal(a, want, V), 'full form: logits max |Δ| vs PyTorch').toBeLessThanOrEqual(1e-4);
      expect(worstReal(b, want, V), 'changed-tensors form: logits max |Δ| vs PyTorch').toBeLessThanOrEqual(1e-4);
      // the same weights either way
      for (const name of Object.keys(full.weights)) {
        const [d, f] = [(await delta.weights[name]!.data()) as Float32Array, (await full.weights[name]!.data()) as Float32Array];
        expect(Buffer.from(d.buffer, d.byteOffset, d.byteLength).equals(Buffer.from(f.buffer, f.byteOffset, f.byteLength)), name).toBe(true);
      }
    } finally {
      disposeModel(full);
      disposeModel(delta);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  const madeOn = (JSON.parse(fs.readFileSync(path.join(FIXTURE, 'train.json'), 'utf8')) as { backend: string }).backend;
  it.runIf(backend === madeOn)('Winnow’s training, run again, saves the committed tensors and the same changed-tensors form', async () => {
    await initBackend(backend);
    // the generator's base is the committed base, bit for bit
    const baseDir = writeBase(tmpDir('tuned-base'));
    const base = readCheckpoint(baseDir).tensors;
    for (const [name, t] of committed('base')) expect(Buffer.from(base.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
    fs.rmSync(baseDir, { recursive: true, force: true });

    const run = await trainTuned();
    try {
      const got = readCheckpoint(run.full).tensors;
      const want = committed('full');
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, t] of want) {
        const g = got.get(name)!.data;
        let worst = 0;
        for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(g[i]! - t.data[i]!));
        expect(worst, `${name}: max |Δ| vs the committed tuned tensor`).toBeLessThanOrEqual(1e-6);
      }
      const manifest = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'winnow_delta.json'), 'utf8')) as { tensors: string[]; base: { hash: string } };
      const mine = manifest(run.delta);
      const theirs = manifest(path.join(FIXTURE, 'delta'));
      expect(mine.tensors).toEqual(theirs.tensors);
      expect(mine.base.hash).toBe(theirs.base.hash);
    } finally {
      run.cleanup();
    }
  });
});

describe('the changed-tensors form', () => {
  it('is refused over a base that changed, or when its manifest does not list what it stores', async () => {
    await initBackend('cpu');
    const root = tmpDir('tuned-delta');
    try {
      for (const sub of ['base', 'delta']) withTokenizer(path.join(FIXTURE, sub), path.join(root, sub));
      const manifestFile = path.join(root, 'delta', 'winnow_delta.json');
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { tensors: string[] };
      fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, tensors: manifest.tensors.slice(1) }));
      await expect(loadModel(path.join(root, 'delta'))).rejects.toThrow(/lists 8 tensor\(s\) but the safetensors hold 9/);
      fs.writeFileSync(manifestFile, JSON.stringify(manifest));
      // one weight of the base changes: its content hash no longer matches
      const baseFile = path.join(root, 'base', 'model.safetensors');
      const bytes = fs.readFileSync(baseFile);
      bytes[bytes.length - 1] ^= 1;
      fs.writeFileSync(baseFile, bytes);
      await expect(loadModel(path.join(root, 'delta'))).rejects.toThrow(/the base model changed/);
      fs.rmSync(path.join(root, 'base'), { recursive: true });
      await expect(loadModel(path.join(root, 'delta'))).rejects.toThrow(/base model folder .* not found/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
