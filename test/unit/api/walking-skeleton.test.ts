/**
 * The whole loop through the engine service (the contract's implementation) on a real SQLite project, the real
 * bundled stories260K model and real GSM8K rows: import → score → subset → train (last block only, response tokens)
 * → export. Jobs run in-process; the browser e2e test drives the same service through the compute worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { initBackend } from '../../../main/engine/compute/backend';
import { readCheckpoint } from '../../../main/engine/models/safetensors';
import { loadModel, forward } from '../../../main/engine/models';
import type { EngineEvent } from '../../../preload/contract';
import { blobToFloat32, getRender } from '../../../main/engine/db';
import { serviceCalls } from '../../support/engine';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');
const MODEL = resolve(__dirname, '../../../resources/models/stories260K');

let home: string;
let service: EngineService;
const events: EngineEvent[] = [];

const { call, finished } = serviceCalls(() => service);

beforeAll(async () => {
  await initBackend();
  home = mkdtempSync(join(tmpdir(), 'winnow-skeleton-'));
  service = new EngineService({ projectsDir: home, mode: 'browser', executor: new InProcessExecutor() });
  service.onEvent((e) => events.push(e));
  service.open('skeleton');
});

afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
});

describe('walking skeleton through the engine service', () => {
  let datasetId = 0;
  let modelId = 0;
  let subsetId = 0;
  let runId = 0;

  it('a new project has the bundled model; a JSONL imports with its rows rendered', async () => {
    const project = await call('project.open', {});
    expect(project.models).toHaveLength(1);
    modelId = project.models[0]!.id;
    expect(project.models[0]!.path).toBe(MODEL);
    const { jobId } = await call('datasets.import', { path: FIXTURE });
    const job = await finished(jobId);
    expect(job.stats.rows).toBe(50);
    datasetId = Number(job.stats.datasetId);
    const page = await call('examples.query', { datasetId, limit: 10 });
    expect(page.total).toBe(50);
    expect(page.rows[0]!.nTokens).toBeGreaterThan(10);
    expect(events.some((e) => e.type === 'job' && e.job.jobId === jobId && e.job.status === 'running')).toBe(true);
  });

  it('a malformed path fails as a value that names the file and leaves the project as it was', async () => {
    const { jobId } = await call('datasets.import', { path: '/nonexistent/broken-file.jsonl' });
    await service.whenIdle();
    const job = (await call('jobs.list', {})).find((j) => j.jobId === jobId)!;
    expect(job.status).toBe('failed');
    expect(job.error!.message).toContain('broken-file.jsonl');
    expect((await call('project.open', {})).datasets).toHaveLength(1);
  });

  it('bad input to a call is refused with the field named', async () => {
    const r = await service.call('examples.query', { limit: -5 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('limit');
  });

  it('scores token_loss and mean_loss; mean_loss is the mean of token_loss over the label mask', async () => {
    const { jobId, plan } = await call('scoring.start', { modelId, datasetId, signals: ['token_loss', 'mean_loss'], batchSize: 8 });
    expect(plan.passes).toHaveLength(1);
    expect(plan.passes[0]).toMatchObject({ model: 'model', kind: 'forward', signals: ['token_loss', 'mean_loss'], examples: 50 });
    await finished(jobId);
    const sorted = await call('examples.query', { datasetId, sort: { column: 'mean_loss', dir: 'desc' }, limit: 50 });
    const values = sorted.rows.map((r) => r.signals.mean_loss!);
    expect(values.every((v) => Number.isFinite(v))).toBe(true);
    for (let i = 1; i < values.length; i++) expect(values[i - 1]!).toBeGreaterThanOrEqual(values[i]!);

    // independent check on one example: recompute ℓ_t from a direct forward pass of the same tokens
    const detail = await call('examples.get', { exampleId: sorted.rows[0]!.id });
    const tl = detail.tokenSignals.token_loss!;
    expect(tl).toHaveLength(detail.tokens.length);
    expect(tl[0]).toBeNull();
    const model = await loadModel(MODEL);
    const ids = detail.tokens.map((t) => t.id);
    const logits = forward(model.config, model.weights, tf.tensor2d([ids], [1, ids.length], 'int32'));
    const data = logits.arraySync()[0]!;
    let sum = 0;
    let n = 0;
    for (let t = 1; t < ids.length; t++) {
      const row = data[t - 1]!;
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      const loss = lse - row[ids[t]!]!;
      expect(tl[t]!).toBeCloseTo(loss, 3);
      if (detail.tokens[t]!.label) {
        sum += loss;
        n++;
      }
    }
    expect(n).toBeGreaterThan(0);
    expect(detail.signals.mean_loss!).toBeCloseTo(sum / n, 4);
    // the label mask covers the assistant turn (its content and the template text that closes it), never the user's
    expect(detail.tokens.filter((t) => t.label).some((t) => t.role === 'assistant')).toBe(true);
    expect(detail.tokens.filter((t) => t.label).every((t) => t.role === 'assistant' || t.role === 'template')).toBe(true);
    expect(detail.tokens.filter((t) => t.role === 'user').every((t) => !t.label)).toBe(true);
    logits.dispose();
  });

  it('a scoring or training request that cannot fit the backend is refused up front with the figures', async () => {
    const score = await service.call('scoring.start', { modelId, datasetId, signals: ['mean_loss'], batchSize: 256, maxTokens: 65536 });
    expect(score.ok).toBe(false);
    if (!score.ok) {
      expect(score.error.code).toBe('too_large');
      expect(score.error.message).toMatch(/does not fit .*activations/);
    }
    const train = await service.call('train.start', { modelId, subsetId: null, datasetId, layers: 'all', steps: 1, batchSize: 512, maxTokens: 65536 });
    expect(train.ok).toBe(false);
    if (!train.ok) expect(train.error.code).toBe('too_large');
    // 4,096 tokens: one forward at batch 1 fits, but the gradient pass (the whole tape, one example) does not
    const fim = await service.call('scoring.start', { modelId, datasetId, signals: ['fim'], batchSize: 1, maxTokens: 4096 });
    expect(fim.ok).toBe(false);
    if (!fim.ok) expect(fim.error.message).toMatch(/does not fit .*batch 1 × 4096 tokens/);
    const forward = await service.call('scoring.start', { modelId, datasetId, signals: ['mean_loss'], batchSize: 1, maxTokens: 4096 });
    expect(forward.ok).toBe(true);
    if (forward.ok) await finished((forward.value as { jobId: string }).jobId);
  });

  it('makes a top-20% subset by mean_loss with exactly k members', async () => {
    const subset = await call('subsets.create', { name: 'hardest', rule: { kind: 'top', signal: 'mean_loss', percent: 20, dir: 'desc' } });
    expect(subset.size).toBe(10);
    subsetId = subset.id;
    const members = await call('examples.query', { subsetId, sort: { column: 'mean_loss', dir: 'asc' }, limit: 100 });
    const outside = await call('examples.query', { datasetId, sort: { column: 'mean_loss', dir: 'desc' }, offset: 10, limit: 1 });
    expect(members.total).toBe(10);
    expect(members.rows[0]!.signals.mean_loss!).toBeGreaterThanOrEqual(outside.rows[0]!.signals.mean_loss!);
  });

  it('trains only the last block on response tokens; frozen tensors are bit-identical afterwards', async () => {
    const { jobId, runId: id } = await call('train.start', {
      modelId, subsetId, layers: 'last:1', steps: 3, batchSize: 2, lr: 1e-2, evalEvery: 3, checkpointEvery: 2, evalFraction: 0.2,
    });
    runId = id;
    const job = await finished(jobId);
    expect(Number(job.stats.loss)).toBeGreaterThan(0);
    const metrics = await call('train.metrics', { runId });
    expect(metrics.filter((m) => m.split === 'train').map((m) => m.step)).toEqual([1, 2, 3]);
    expect(metrics.some((m) => m.split === 'eval')).toBe(true);
    expect(events.some((e) => e.type === 'train.metric' && e.runId === runId)).toBe(true);

    const runs = await call('train.list', {});
    const run = runs.find((r) => r.id === runId)!;
    expect(run.status).toBe('done');
    expect(run.outModelId).not.toBeNull();
    const before = readCheckpoint(MODEL).tensors;
    const after = readCheckpoint(run.outDir!).tensors;
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, t] of before) {
      const same = Buffer.from(t.data.buffer).equals(Buffer.from(after.get(name)!.data.buffer));
      expect(same, name).toBe(!name.startsWith('model.layers.4.'));
    }
  });

  it('exports subset, token masks, layer mask, weights and scores with a manifest of hashes', async () => {
    const out = join(home, 'export');
    const { jobId } = await call('export.start', {
      outDir: out, subsetId, modelId, trainRunId: runId, what: ['subset', 'token_masks', 'layer_mask', 'weights', 'scores'],
    });
    await finished(jobId);
    const subsetLines = readFileSync(join(out, 'subset.jsonl'), 'utf8').trim().split('\n');
    expect(subsetLines).toHaveLength(10);
    const fixtureLines = new Set(readFileSync(FIXTURE, 'utf8').trim().split('\n'));
    for (const l of subsetLines) expect(fixtureLines.has(l)).toBe(true); // original rows, untouched

    const db = service.current().db;
    // the render the masks were made on, as the manifest names it
    const keyId = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).artifacts.tokenMasks.render.renderKeyId as number;
    for (const line of readFileSync(join(out, 'token_masks.jsonl'), 'utf8').trim().split('\n')) {
      const row = JSON.parse(line) as { example_id: number; input_ids: number[]; labels: number[] };
      const render = getRender(db, row.example_id, keyId)!;
      expect(row.input_ids).toEqual(Array.from(render.tokenIds));
      row.labels.forEach((l, i) => expect(l).toBe(render.labelMask[i] ? row.input_ids[i] : -100));
    }
    const mask = JSON.parse(readFileSync(join(out, 'layer_mask.json'), 'utf8')) as { trainable_tensors: string[] };
    expect(mask.trainable_tensors.length).toBeGreaterThan(0);
    expect(mask.trainable_tensors.every((n) => n.startsWith('model.layers.4.'))).toBe(true);
    expect(mask.trainable_tensors).toContain('model.layers.4.self_attn.q_proj.weight');
    expect(existsSync(join(out, 'model', 'model.safetensors'))).toBe(true);
    expect(existsSync(join(out, 'model', 'tokenizer.json'))).toBe(true);
    const csv = readFileSync(join(out, 'scores.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toContain('mean_loss');
    expect(csv).toHaveLength(11);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: Record<string, string> };
    for (const [file, hash] of Object.entries(manifest.files)) {
      expect(createHash('sha256').update(readFileSync(join(out, file))).digest('hex'), file).toBe(hash);
    }
    // a second export into the same folder is refused up front unless overwriting is asked for
    const again = await service.call('export.start', { outDir: out, subsetId, what: ['subset'] });
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error.message).toContain('not empty');
  });

  it('the tuned model is registered and loads for re-scoring', async () => {
    const project = await call('project.open', {});
    const tuned = project.models.find((m) => m.trainRunId === runId)!;
    expect(tuned).toBeDefined();
    const { jobId } = await call('scoring.start', { modelId: tuned.id, datasetId, signals: ['mean_loss'] });
    await finished(jobId);
    const row = service.current().db.prepare('SELECT "values" FROM token_scores LIMIT 1').pluck().get() as Buffer;
    expect(blobToFloat32(row).length).toBeGreaterThan(0);
  });
});
