/**
 * Export's `wiseAlpha`: a real two-step training run on a tiny model, exported with α = 0.5 (whole folder and the
 * changed-tensors form) and α = 1; the bundle's weights are (1−α)·base + α·tuned computed here from the two folders.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../main/engine/models/safetensors';
import { gsm8kRows, TestProject } from '../scoring/helpers';
import { TINY_QWEN2, writeTinyModel } from '../models/tiny';

let proj: TestProject;
let base: string;
let tuned: string;
let runId: number;

beforeAll(async () => {
  proj = new TestProject('wise-export');
  base = writeTinyModel(TINY_QWEN2, 41);
  const modelId = await proj.addModel(base);
  const datasetId = await proj.importDataset(gsm8kRows(proj.home, 4));
  const t = await proj.call('train.start', { modelId, subsetId: null, datasetId, layers: 'all', steps: 2, batchSize: 2, lr: 0.02, evalFraction: 0 });
  await proj.finished(t.jobId);
  runId = t.runId;
  tuned = (await proj.call('train.list', {})).find((x) => x.id === runId)!.outDir!;
});
afterAll(() => {
  proj?.close();
  fs.rmSync(base, { recursive: true, force: true });
});

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function exportWeights(name: string, extra: Record<string, unknown>): Promise<string> {
  const out = path.join(proj.home, name);
  const { jobId } = await proj.call('export.start', { outDir: out, subsetId: null, trainRunId: runId, what: ['weights'], ...extra });
  await proj.finished(jobId);
  return out;
}

describe('export with wiseAlpha', () => {
  it('writes (1−α)·base + α·tuned as the bundle weights, whole or as the changed tensors', async () => {
    const b = readCheckpoint(base).tensors;
    const t = readCheckpoint(tuned).tensors;
    const full = await exportWeights('wise-full', { wiseAlpha: 0.5 });
    const w = readCheckpoint(path.join(full, 'model')).tensors;
    let changed = 0;
    for (const [name, tt] of t) {
      const want = new Float32Array(tt.data.length);
      for (let i = 0; i < want.length; i++) want[i] = Math.fround(0.5 * b.get(name)!.data[i]! + 0.5 * tt.data[i]!);
      expect(bytesOf(w.get(name)!.data).equals(bytesOf(want)), name).toBe(true);
      if (!bytesOf(tt.data).equals(bytesOf(b.get(name)!.data))) changed++;
    }
    expect(changed).toBeGreaterThan(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(full, 'manifest.json'), 'utf8')) as { artifacts: { weights: Record<string, unknown> } };
    expect(manifest.artifacts.weights).toMatchObject({ form: 'full', wiseAlpha: 0.5, base, tuned });
    // nothing of the interpolation's working folder is left in the bundle
    expect(fs.readdirSync(full).filter((f) => f.includes('wise-tmp'))).toEqual([]);

    const delta = await exportWeights('wise-changed', { wiseAlpha: 0.5, weightsForm: 'changed' });
    const d = readCheckpoint(path.join(delta, 'model')).tensors;
    expect(d.size).toBe(changed);
    for (const [name, x] of d) expect(bytesOf(x.data).equals(bytesOf(w.get(name)!.data)), name).toBe(true);

    const one = readCheckpoint(path.join(await exportWeights('wise-one', { wiseAlpha: 1 }), 'model')).tensors;
    for (const [name, tt] of t) expect(bytesOf(one.get(name)!.data).equals(bytesOf(tt.data)), name).toBe(true);
  });

  it('refuses wiseAlpha without weights in the export', async () => {
    const r = await proj.service.call('export.start', { outDir: path.join(proj.home, 'no-weights'), subsetId: null, trainRunId: runId, what: ['subset'], wiseAlpha: 0.5 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/wiseAlpha \(WiSE-FT\) interpolates exported weights/);
    expect(fs.existsSync(path.join(proj.home, 'no-weights'))).toBe(false);
  });
});
