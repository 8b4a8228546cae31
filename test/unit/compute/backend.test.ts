import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { getBackendInfo, initBackend } from '../../../main/engine/compute/backend';

describe('initBackend', () => {
  afterEach(() => {
    delete process.env.WINNOW_BACKEND;
  });

  it('picks the best available backend and says why the better ones are unavailable', async () => {
    const info = await initBackend();
    expect(tf.getBackend()).toBe(info.name);
    const native = await import(/* @vite-ignore */ '@tensorflow/tfjs-node' as string).then(
      () => true,
      () => false,
    );
    if (!native) {
      // this machine: no hardware GPU adapter and no tfjs-node(-gpu), so wasm; the reason names why webgpu was not
      // used (no adapter, or only a software one) and both missing packages
      if (info.name !== 'webgpu') {
        expect(info.name).toBe('wasm');
        expect(info.unavailable.map((u) => u.name)).toEqual(['webgpu', 'tensorflow']);
        expect(info.unavailable[0].why).toMatch(/no WebGPU adapter|only a software adapter|did not load/);
        expect(info.unavailable[1].why).toMatch(/tfjs-node-gpu not installed; tfjs-node not installed/);
        expect(info.reason).toMatch(/^best available: webgpu: .*; tensorflow: tfjs-node-gpu not installed/);
        expect(info.threads).toBeGreaterThanOrEqual(1);
      }
    }
    expect(getBackendInfo()).toBe(info);
    expect(await initBackend()).toBe(info); // idempotent
  });

  it('honours a preference and WINNOW_BACKEND, and rejects unknown names', async () => {
    const cpu = await initBackend('cpu');
    expect(cpu).toMatchObject({ name: 'cpu', reason: 'requested', threads: 1 });
    expect(tf.getBackend()).toBe('cpu');
    process.env.WINNOW_BACKEND = 'wasm';
    const forced = await initBackend('cpu');
    expect(forced.name).toBe('wasm');
    expect(forced.reason).toMatch(/^forced by WINNOW_BACKEND=wasm/);
    process.env.WINNOW_BACKEND = 'metal';
    await expect(initBackend()).rejects.toMatchObject({ code: 'bad_input', message: expect.stringMatching(/WINNOW_BACKEND="metal" is not a backend \(use one of: webgpu, tensorflow, wasm, cpu\)/) });
    delete process.env.WINNOW_BACKEND;
    expect((await initBackend('cpu')).name).toBe('cpu');
  });
});
