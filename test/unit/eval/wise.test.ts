/**
 * WiSE-FT against a direct computation on tiny models written here: every tensor of θ(α) is (1−α)·base + α·tuned,
 * computed in the test from the two checkpoints read back; α = 0 and α = 1 are the base and the tuned model bit for
 * bit; the sweep's loss at each α equals `winnow eval`'s loss on the model `winnow wise` writes for that α, and its α = 0
 * point equals eval on the base folder itself.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { readCheckpoint } from '../../../main/engine/models/safetensors';
import { WISE_FILE, writeWiseModel } from '../../../main/engine/models/wise';
import { parseAlphas, wiseSweep } from '../../../main/engine/eval/wise-sweep';
import { readDataRows } from '../../../main/engine/eval/rows';
import { runEvalCommand } from '../../../main/cli/commands/eval';
import { runWiseCommand } from '../../../main/cli/commands/wise';
import { TestProject } from '../scoring/helpers';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import type { ProjectInfo } from '../../../preload/contract';
import { TINY_GPT2, TINY_QWEN2, tmpDir, writeTinyModel } from '../models/tiny';

const ROOT = path.resolve(__dirname, '../../..');
let tmp: string;
let base: string;
let tuned: string;
let data: string;
const flags = { maxNewTokens: 4 };

beforeAll(async () => {
  await initBackend();
  tmp = tmpDir('wise');
  base = writeTinyModel(TINY_QWEN2, 1);
  tuned = writeTinyModel(TINY_QWEN2, 2); // same names and shapes, other values: stands for the tuned copy
  data = path.join(tmp, 'rows.jsonl');
  fs.writeFileSync(data, [
    { messages: [{ role: 'user', content: 'Tom has 3 apples.' }, { role: 'assistant', content: 'He has 3. #### 3' }] },
    { messages: [{ role: 'user', content: 'Once upon a time' }, { role: 'assistant', content: 'there was a cat.' }] },
    { messages: [{ role: 'user', content: 'Lily went out' }, { role: 'assistant', content: 'to play in the park.' }] },
  ].map((r) => JSON.stringify(r)).join('\n') + '\n');
});

afterAll(() => {
  for (const d of [tmp, base, tuned]) fs.rmSync(d, { recursive: true, force: true });
});

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('WiSE-FT interpolation', () => {
  it('is (1−α)·base + α·tuned tensor by tensor, and the ends are the two models bit for bit', () => {
    const b = readCheckpoint(base).tensors;
    const t = readCheckpoint(tuned).tensors;
    for (const alpha of [0, 0.3, 0.5, 1]) {
      const out = path.join(tmp, `direct-${alpha}`);
      const r = writeWiseModel(base, tuned, alpha, out);
      expect(r.tensors).toBe(t.size);
      const w = readCheckpoint(out).tensors;
      expect([...w.keys()].sort()).toEqual([...t.keys()].sort());
      let differsFromBoth = false;
      for (const [name, tt] of t) {
        const bt = b.get(name)!;
        const got = w.get(name)!;
        expect(got.shape).toEqual(tt.shape);
        const want = new Float32Array(tt.data.length);
        for (let i = 0; i < want.length; i++) want[i] = Math.fround((1 - alpha) * bt.data[i]! + alpha * tt.data[i]!);
        expect(bytesOf(got.data).equals(bytesOf(want)), `${name} at α=${alpha}`).toBe(true);
        if (alpha === 0) expect(bytesOf(got.data).equals(bytesOf(bt.data))).toBe(true);
        if (alpha === 1) expect(bytesOf(got.data).equals(bytesOf(tt.data))).toBe(true);
        if (!bytesOf(got.data).equals(bytesOf(bt.data)) && !bytesOf(got.data).equals(bytesOf(tt.data))) differsFromBoth = true;
      }
      // between the ends the model is neither of the two
      expect(differsFromBoth).toBe(alpha > 0 && alpha < 1);
      expect(JSON.parse(fs.readFileSync(path.join(out, WISE_FILE), 'utf8'))).toMatchObject({ alpha, base, tuned });
      for (const f of ['config.json', 'tokenizer.json']) expect(fs.readFileSync(path.join(out, f))).toEqual(fs.readFileSync(path.join(tuned, f)));
    }
  });

  it('refuses two models that do not match, naming the tensor, and writes nothing', () => {
    const other = writeTinyModel(TINY_GPT2, 3);
    const out = path.join(tmp, 'mismatch');
    try {
      expect(() => writeWiseModel(base, other, 0.5, out)).toThrow(/tensor "transformer\.[^"]+" is in the tuned model .* but not in the base/);
      expect(fs.existsSync(out)).toBe(false);
      expect(() => runWiseCommand({ base, tuned, alpha: '1.5', out })).toThrow(/--alpha must be a number from 0 to 1, got "1.5"/);
      expect(() => parseAlphas('0,x')).toThrow(/--alphas: "x" must be a number from 0 to 1/);
      expect(parseAlphas('1, 0.5,0,0.5')).toEqual([0, 0.5, 1]);
      fs.mkdirSync(out);
      fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
      expect(() => writeWiseModel(base, tuned, 0.5, out)).toThrow(/is not empty/);
      expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('WiSE-FT sweep', () => {
  it("the curve's loss at each α equals eval on the model `winnow wise` writes; α = 0 equals eval on the base", async () => {
    const rows = await readDataRows(data);
    const alphas = [0, 0.5, 1];
    const curve = await wiseSweep({ base, tuned, alphas, rows, eval: { metric: 'loss', dataName: 'rows.jsonl', flags, quiet: true } });
    expect(curve.points.map((p) => p.alpha)).toEqual(alphas);
    const evalLoss = async (model: string, name: string): Promise<number> => {
      const r = await runEvalCommand({ model, data, out: path.join(tmp, `${name}.json`), metric: 'loss', flags, quiet: true });
      return r.loss as number;
    };
    for (const p of curve.points) {
      const dir = path.join(tmp, `cli-${p.alpha}`);
      runWiseCommand({ base, tuned, alpha: String(p.alpha), out: dir });
      expect(p.value).toBe(await evalLoss(dir, `eval-${p.alpha}`));
      expect(p.summary.tokens).toBeGreaterThan(0);
    }
    expect(curve.points[0]!.value).toBe(await evalLoss(base, 'eval-base'));
    expect(curve.points[2]!.value).toBe(await evalLoss(tuned, 'eval-tuned'));
    // two different random models: the curve is not flat, and best is its lowest loss
    expect(curve.points[0]!.value).not.toBe(curve.points[2]!.value);
    const lowest = Math.min(...curve.points.map((p) => p.value!));
    expect(curve.best).toEqual({ alpha: curve.points.find((p) => p.value === lowest)!.alpha, value: lowest });
    expect(curve.rowsPerAlpha.map((r) => r.length)).toEqual([3, 3, 3]);
  });

  it('winnow wise-sweep writes curve.json with each α\'s eval summary and rows (a child process, as a user runs it)', () => {
    const out = path.join(tmp, 'curve.json');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'main/cli/index.ts'), 'wise-sweep', '--base', base, '--tuned', tuned,
      '--alphas', '1,0', '--data', data, '--metric', 'loss', '--out', out, '--json'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, WINNOW_HOME: path.join(tmp, 'home') }, timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const curve = JSON.parse(fs.readFileSync(out, 'utf8')) as { metric: string; points: Array<{ alpha: number; value: number; summary: Record<string, unknown> }>; rows: Record<string, unknown[]>; n: number };
    expect(curve.metric).toBe('loss');
    expect(curve.n).toBe(3);
    expect(curve.points.map((p) => p.alpha)).toEqual([0, 1]);
    expect(Object.keys(curve.rows).sort()).toEqual(['0', '1']);
    expect(curve.points[0]!.summary).toMatchObject({ metric: 'loss', n: 3 });
    const printed = JSON.parse(r.stdout.trim().split('\n').pop()!) as { points: Array<{ alpha: number; value: number }> };
    expect(printed.points).toEqual(curve.points.map((p) => ({ alpha: p.alpha, value: p.value })));
    const pass = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'main/cli/index.ts'), 'wise-sweep', '--base', base, '--tuned', tuned,
      '--alphas', '0,1', '--data', data, '--metric', 'pass_at_1', '--out', path.join(tmp, 'no.json')], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    expect(pass.status).not.toBe(0);
    expect(pass.stderr).toContain('--allow-code-execution');
    expect(fs.existsSync(path.join(tmp, 'no.json'))).toBe(false);
  });

  it('winnow wise --project registers the model it writes in the project', async () => {
    const out = path.join(tmp, 'cli-project-model');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'main/cli/index.ts'), 'wise', '--base', base, '--tuned', tuned,
      '--alpha', '0.5', '--out', out, '--project', path.join(tmp, 'projects', 'p1'), '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout.trim().split('\n').pop()!) as { modelId: number; out: string; alpha: number };
    expect(printed).toMatchObject({ out, alpha: 0.5 });
    const service = new EngineService({ projectsDir: path.join(tmp, 'projects'), mode: 'browser', executor: new InProcessExecutor() });
    try {
      service.open('p1');
      const info = await service.call('project.open', {});
      expect(info.ok).toBe(true);
      expect((info.ok ? (info.value as ProjectInfo) : null)?.models.find((x) => x.id === printed.modelId)?.path).toBe(out);
    } finally {
      service.close();
    }
  });

  it('models.wise writes θ(α) of two registered models and registers it', async () => {
    const p = new TestProject('wise');
    try {
      const b = await p.addModel(base);
      const t = await p.addModel(tuned);
      const m = await p.call('models.wise', { baseModelId: b, tunedModelId: t, alpha: 0.25 });
      expect(m.id).not.toBe(b);
      expect(m.name).toMatch(/WiSE α=0.25/);
      expect(m.path).toBe(path.join(p.service.current().dir, 'models', `wise-${t}-a0.25`));
      const want = writeWiseModel(base, tuned, 0.25, path.join(tmp, 'api-direct'));
      const got = readCheckpoint(m.path).tensors;
      for (const [name, x] of readCheckpoint(want.out).tensors) expect(bytesOf(got.get(name)!.data).equals(bytesOf(x.data))).toBe(true);
      const info = await p.call('project.open', {});
      expect(info.models.map((x) => x.id)).toContain(m.id);
      const bad = await p.service.call('models.wise', { baseModelId: b, tunedModelId: 999, alpha: 0.5 });
      expect(bad.ok).toBe(false);
    } finally {
      fs.rmSync(p.home, { recursive: true, force: true });
    }
  });
});
