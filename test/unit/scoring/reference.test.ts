/**
 * Reference-model signals on the real stories260K model: excess_loss is exactly ℓ^θ − ℓ^ref (0 when the reference is
 * the same weights), learnability is 0 for the same weights and > 0 once the reference is a copy trained on the
 * data; a reference with another tokenizer is refused naming both models.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { blobToFloat32 } from '../../../main/engine/db';
import { tmpDir } from '../models/tiny';
import { assertSameTokenizer } from '../../../main/engine/scoring/passes/reference';
import { STORIES, TestProject, gsm8kRows } from './helpers';

const ROWS = 16;

let proj: TestProject;
let modelId = 0;
let datasetId = 0;

beforeAll(async () => {
  await initBackend();
  proj = new TestProject();
  modelId = (await proj.call('project.open', {})).models[0]!.id; // the bundled stories260K
  datasetId = await proj.importDataset(gsm8kRows(proj.home, ROWS));
});

afterAll(() => proj?.close());

const tokenRows = (runId: number, signal: string) =>
  new Map(
    (proj.db.prepare('SELECT example_id AS id, "values" AS v FROM token_scores WHERE run_id = ? AND signal = ?').all(runId, signal) as Array<{ id: number; v: Buffer }>).map(
      (r) => [r.id, blobToFloat32(r.v)],
    ),
  );
const exampleValues = (runId: number, signal: string) =>
  new Map((proj.db.prepare('SELECT example_id AS id, value FROM example_scores WHERE run_id = ? AND signal = ?').all(runId, signal) as Array<{ id: number; value: number | null }>).map((r) => [r.id, r.value]));

describe('reference signals', () => {
  it('excess_loss and learnability are 0 when the reference has the same weights', async () => {
    const copy = join(tmpDir('ref-same'), 'stories-copy');
    cpSync(STORIES, copy, { recursive: true });
    const refModelId = await proj.addModel(copy);
    const runId = await proj.score({ modelId, datasetId, refModelId, signals: ['token_loss', 'excess_loss', 'learnability'] });
    const excess = tokenRows(runId, 'excess_loss');
    const loss = tokenRows(runId, 'token_loss');
    expect(excess.size).toBe(ROWS);
    for (const [id, e] of excess) {
      expect(e.length).toBe(loss.get(id)!.length);
      for (let t = 1; t < e.length; t++) expect(e[t]).toBe(0);
    }
    const learn = exampleValues(runId, 'learnability');
    expect(learn.size).toBe(ROWS);
    for (const v of learn.values()) expect(v).toBe(0);
  });

  it('learnability is (L_base − L_ref)/L_base and > 0 once the reference is trained on the data', { timeout: 400_000 }, async () => {
    const { jobId, runId: trainRun } = await proj.call('train.start', {
      modelId, subsetId: null, datasetId, layers: 'all', steps: 8, batchSize: 4, lr: 1e-2, schedule: 'constant', evalFraction: 0, evalEvery: 100, checkpointEvery: 100,
    });
    await proj.finished(jobId);
    const tuned = (await proj.call('train.list', {})).find((r) => r.id === trainRun)!.outModelId!;
    const runId = await proj.score({ modelId, datasetId, refModelId: tuned, signals: ['mean_loss', 'excess_loss', 'learnability'] });
    const base = exampleValues(runId, 'mean_loss');
    const learn = exampleValues(runId, 'learnability');
    // independent: L_ref from a scoring run of the tuned model alone
    const refRun = await proj.score({ modelId: tuned, datasetId, signals: ['mean_loss'] });
    const ft = exampleValues(refRun, 'mean_loss');
    let positive = 0;
    let mean = 0;
    for (const [id, l] of learn) {
      const expected = (base.get(id)! - ft.get(id)!) / base.get(id)!;
      expect(l!).toBeCloseTo(expected, 5);
      if (l! > 0) positive++;
      mean += l! / learn.size;
    }
    expect(mean).toBeGreaterThan(0);
    expect(positive).toBeGreaterThan(learn.size / 2);
    // excess_loss mean over the label mask is L_base − L_ref
    const excess = tokenRows(runId, 'excess_loss');
    expect([...excess.values()].some((e) => e.some((x, t) => t > 0 && x !== 0))).toBe(true);
  });

  it('a reference with a different tokenizer is refused, naming both models', async () => {
    const other = join(tmpDir('ref-tok'), 'stories-other-tokenizer');
    cpSync(STORIES, other, { recursive: true });
    const cfgPath = join(other, 'tokenizer_config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    cfg.chat_template = 'Q: {{ messages[0].content }}';
    writeFileSync(cfgPath, JSON.stringify(cfg));
    const refModelId = await proj.addModel(other);
    await expect(proj.score({ modelId, datasetId, refModelId, signals: ['excess_loss'] })).rejects.toThrow(
      /stories-other-tokenizer.*stories260K.*same tokenizer/s,
    );
    await expect(assertSameTokenizer(proj.db, modelId, refModelId)).rejects.toThrow(/stories-other-tokenizer.*stories260K.*same tokenizer/s);
    await expect(assertSameTokenizer(proj.db, modelId, modelId)).resolves.toBeUndefined();
  });
});
