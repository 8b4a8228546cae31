/**
 * The `winnow` CLI on webgpu (a child process, as a user runs it): WINNOW_BACKEND=webgpu starts the software adapter
 * (CI: SwiftShader from Chromium's folder, found by the engine itself — no environment set up front), the backend line
 * keeps its form `backend: webgpu (…adapter…)`, and the per-token losses match the same command on cpu within 1e-4.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { webgpuSkipReason } from '../../setup/webgpu';

const ROOT = resolve(__dirname, '../../..');
const MODEL = join(ROOT, 'resources/models/stories260K');
const SKIP = await webgpuSkipReason();
if (SKIP) console.warn(`CLI on webgpu skipped: ${SKIP}`);
let tmp = '';

function score(backend: string, data: string): { stderr: string; lines: Array<{ token: { token_loss: Array<number | null> } }> } {
  const out = join(tmp, `${backend}.jsonl`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'main/cli/index.ts'), 'score', '--model', MODEL, '--data', data, '--signals', 'token_loss', '--out', out], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WINNOW_HOME: join(tmp, `home-${backend}`), WINNOW_BACKEND: backend },
    timeout: 300_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return { stderr: r.stderr, lines: readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-webgpu-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!!SKIP)('winnow CLI on webgpu', () => {
  it('scores with the adapter named in the backend line, as cpu does', () => {
    const data = join(tmp, 'text.jsonl');
    writeFileSync(data, ['Once upon a time, there was a little girl.', 'The cat sat on the mat.'].map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const gpu = score('webgpu', data);
    expect(gpu.stderr).toMatch(/^backend: webgpu \(forced by WINNOW_BACKEND=webgpu \(.+buffers ≤ .+\)\)/m);
    const cpu = score('cpu', data);
    expect(gpu.lines).toHaveLength(2);
    gpu.lines.forEach((l, k) => {
      const want = cpu.lines[k]!.token.token_loss;
      l.token.token_loss.forEach((v, t) => {
        if (v === null) expect(want[t]).toBeNull();
        else expect(Math.abs(v - want[t]!), `row ${k} token ${t}`).toBeLessThanOrEqual(1e-4);
      });
    });
  });
});
