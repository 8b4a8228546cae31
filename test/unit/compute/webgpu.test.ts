/**
 * The webgpu backend on a real adapter (CI: SwiftShader from Chromium's folder, started in-process: the Vulkan
 * loader is preloaded by path and VK_ICD_FILENAMES set before Dawn creates its instance). Skipped, with the reason,
 * only where no adapter can be created.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { getBackendInfo, initBackend } from '../../../main/engine/compute/backend';
import { describeAdapter, startWebgpu } from '../../../main/engine/compute/webgpu';
import { webgpuSkipReason } from '../../setup/webgpu';

const SKIP = await webgpuSkipReason();
if (SKIP) console.warn(`webgpu tests skipped: ${SKIP}`);

afterAll(async () => {
  await initBackend('cpu');
});

describe.skipIf(!!SKIP)('webgpu backend', () => {
  it('starts when asked, names its adapter and the maximum buffer limits it requested', async () => {
    const info = await initBackend('webgpu');
    expect(info.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    const a = info.adapter!;
    expect(a.vendor.length + a.architecture.length + a.description.length).toBeGreaterThan(0);
    // the adapter's maximum, not WebGPU's 128 MiB default binding limit (SwiftShader offers 1 GiB)
    expect(a.maxStorageBufferBindingSize).toBeGreaterThan(128 * 2 ** 20);
    expect(info.reason).toContain(describeAdapter(a));
    expect(getBackendInfo()).toBe(info);
    // a CLI backend line keeps its form: backend: webgpu (…adapter…)
    expect(`backend: ${info.name} (${info.reason})`).toMatch(/^backend: webgpu \(requested \(.+buffers ≤ \d/);
  });

  it('a software adapter is not picked unasked: the reason says so and how to force it', async () => {
    const info = await initBackend('webgpu');
    if (!info.adapter!.software) return; // hardware adapter: picked first anyway
    await initBackend('cpu');
    // what initBackend() without a preference asks for: a hardware adapter only
    const auto = await startWebgpu(false);
    expect(auto).toMatchObject({ ok: false, why: expect.stringMatching(/only a software adapter \(.+\), slower than wasm; set WINNOW_BACKEND=webgpu/) });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('matMul, softmax and a gather gradient match cpu; reads are asynchronous', async () => {
    await initBackend('cpu');
    const a = tf.randomNormal([33, 70], 0, 1, 'float32', 1);
    const b = tf.randomNormal([70, 45], 0, 1, 'float32', 2);
    const idx = [3, 1, 3, 0];
    const run = () => {
      const at = tf.tensor(a.dataSync(), a.shape);
      const bt = tf.tensor(b.dataSync(), b.shape);
      const y = tf.softmax(tf.matMul(at, bt));
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor1d(idx, 'int32')))))(bt);
      return [y, g];
    };
    const [yc, gc] = run();
    const cpu = [yc!.dataSync(), gc!.dataSync()];
    await initBackend('webgpu');
    const [yg, gg] = run();
    const gpu = [await yg!.data(), await gg!.data()];
    for (let k = 0; k < 2; k++) {
      let worst = 0;
      for (let i = 0; i < cpu[k]!.length; i++) worst = Math.max(worst, Math.abs(cpu[k]![i]! - gpu[k]![i]!));
      expect(worst).toBeLessThan(1e-4);
    }
  });

  it('transposes int32 data (int tensors, and floats cast from int) as cpu does (webgpu-fixes: TransposeProgram)', async () => {
    const ints = Int32Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 7919) % 1000 - 300);
    const run = () => {
      const x = tf.tensor3d(ints, [2, 3, 4], 'int32');
      // a masked mean's denominator: a reduction over a middle axis of a cast int tensor
      return [tf.transpose(x, [0, 2, 1]), tf.sum(tf.cast(x, 'float32'), 1), tf.transpose(tf.cast(tf.greater(x, 0), 'bool'), [2, 0, 1])];
    };
    await initBackend('cpu');
    const cpu = run().map((t) => Array.from(t.dataSync()));
    await initBackend('webgpu');
    const gpu = await Promise.all(run().map(async (t) => Array.from(await t.data())));
    expect(gpu).toEqual(cpu);
  });
});
