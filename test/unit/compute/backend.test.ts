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
      // this machine: no tfjs-node(-gpu), so wasm, and the reason names both missing packages
      expect(info.name).toBe('wasm');
      expect(info.unavailable[0].name).toBe('tensorflow');
      expect(info.unavailable[0].why).toMatch(/tfjs-node-gpu not installed; tfjs-node not installed/);
      expect(info.reason).toMatch(/^best available: tensorflow: tfjs-node-gpu not installed/);
      expect(info.threads).toBeGreaterThanOrEqual(1);
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
    process.env.WINNOW_BACKEND = 'webgpu';
    await expect(initBackend()).rejects.toMatchObject({ code: 'bad_input', message: expect.stringMatching(/WINNOW_BACKEND="webgpu"/) });
    delete process.env.WINNOW_BACKEND;
    expect((await initBackend('cpu')).name).toBe('cpu');
  });
});
