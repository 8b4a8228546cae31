/** The threaded wasm build under Node: runs in a child process (a backend starts once per process). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../../..');

function run(threads: string): { info: { name: string; threads: number; reason: string }; max: number } {
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import { initBackend } from './main/engine/compute/backend';
    const info = await initBackend('wasm');
    const a = tf.randomUniform([96, 80], -1, 1, 'float32', 1), b = tf.randomUniform([80, 72], -1, 1, 'float32', 2);
    const got = tf.matMul(a, b).dataSync();
    const av = a.dataSync(), bv = b.dataSync();
    let max = 0;
    for (let i = 0; i < 96; i++) for (let j = 0; j < 72; j++) {
      let s = 0; for (let k = 0; k < 80; k++) s += av[i * 80 + k] * bv[k * 72 + j];
      max = Math.max(max, Math.abs(s - got[i * 72 + j]));
    }
    console.log(JSON.stringify({ info, max }));`;
  const file = path.join(ROOT, `.tmp-wasm-threads-${process.pid}-${threads || 'default'}.mts`);
  fs.writeFileSync(file, script);
  const r = spawnSync('npx', ['tsx', file], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WINNOW_WASM_THREADS: threads, WINNOW_BACKEND: '' },
    timeout: 120_000,
  });
  fs.rmSync(file, { force: true });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('wasm threads under Node', () => {
  it('WINNOW_WASM_THREADS=2 starts the threaded build with 2 threads, and matmul is right', () => {
    const r = run('2');
    expect(r.info.name).toBe('wasm');
    expect(r.info.threads).toBe(2);
    expect(r.info.reason).toMatch(/2 threads/);
    expect(r.max).toBeLessThan(1e-4);
  });

  it('default is 1 thread', () => {
    const r = run('');
    expect(r.info.threads).toBe(1);
    expect(r.max).toBeLessThan(1e-4);
  });
});
