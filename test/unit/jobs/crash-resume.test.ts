/**
 * SIGKILL the engine host mid-job, start it again, resume: the database is intact, finished work is kept, nothing
 * is missing or done twice, and a training run's loss curve continues exactly where its checkpoint left it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { EngineProcess } from './engine-process';
import type { EngineEvent, Job } from '../../../preload/contract';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-300.jsonl');
let home: string;
let engine: EngineProcess;
const dbPath = () => join(home, 'projects', 'crash', 'project.winnow');

const jobDone = (jobId: string) => (e: EngineEvent) => e.type === 'job' && e.job.jobId === jobId && ['done', 'failed', 'cancelled'].includes(e.job.status);

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'winnow-crash-'));
  engine = new EngineProcess(home, 'crash');
  await engine.start();
  const { jobId } = await engine.call('datasets.import', { path: FIXTURE });
  const done = (await engine.waitFor(jobDone(jobId))) as { job: Job };
  expect(done.job.status).toBe('done');
});

afterAll(async () => {
  await engine?.stop();
  rmSync(home, { recursive: true, force: true });
});

function integrity(): string {
  const db = new Database(dbPath(), { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe('crash safety', () => {
  it('an import killed mid-transaction leaves nothing of itself; the job is failed with the reason', async () => {
    const { writeFileSync } = await import('node:fs');
    const big = join(home, 'big.jsonl');
    const row = (i: number) => JSON.stringify({ question: `Q${i}: how many apples does Ann have?`, answer: `She has ${i} apples. #### ${i}` });
    writeFileSync(big, Array.from({ length: 200_000 }, (_, i) => row(i)).join('\n') + '\n');
    const datasetsBefore = (await engine.call('project.open', {})).datasets.length;
    const { jobId } = await engine.call('datasets.import', { path: big });
    await engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && e.job.status === 'running' && e.job.current > 0 && /^imported/.test(e.job.message));
    await engine.kill();
    expect(integrity()).toBe('ok');
    await engine.start();
    const project = await engine.call('project.open', {});
    expect(project.datasets.length).toBe(datasetsBefore);
    const job = (await engine.call('jobs.list', {})).find((j) => j.jobId === jobId)!;
    expect(job.status).toBe('failed');
    expect(job.resumable).toBe(false);
    expect(job.error!.message).toContain('start it again');
  }, 600_000);

  it('a scoring job killed mid-run resumes with no example missing or scored twice', async () => {
    const project = await engine.call('project.open', {});
    const modelId = project.models[0]!.id;
    const { jobId } = await engine.call('scoring.start', { modelId, signals: ['token_loss', 'mean_loss'], batchSize: 4 });
    await engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && e.job.current >= 24);
    await engine.kill();

    expect(integrity()).toBe('ok');
    const db = new Database(dbPath(), { readonly: true });
    const run = db.prepare('SELECT id, cursor FROM score_runs WHERE job_id = ?').get(jobId) as { id: number; cursor: number };
    const scoredBefore = db.prepare(`SELECT COUNT(*) FROM example_scores WHERE run_id = ? AND signal = 'length_tokens'`).pluck().get(run.id) as number;
    const tokenRows = db.prepare(`SELECT COUNT(*) FROM token_scores WHERE run_id = ? AND signal = 'token_loss'`).pluck().get(run.id) as number;
    const meanRows = db.prepare(`SELECT COUNT(*) FROM example_scores WHERE run_id = ? AND signal = 'mean_loss'`).pluck().get(run.id) as number;
    db.close();
    expect(run.cursor).toBe(scoredBefore);
    expect(scoredBefore).toBeGreaterThanOrEqual(24);
    expect(scoredBefore).toBeLessThan(300);
    // batches are atomic: every scored example has all its signals
    expect(tokenRows).toBe(scoredBefore);
    expect(meanRows).toBe(scoredBefore);

    await engine.start();
    const jobs = await engine.call('jobs.list', {});
    const stale = jobs.find((j) => j.jobId === jobId)!;
    expect(stale.status).toBe('failed');
    expect(stale.resumable).toBe(true);
    expect(stale.error!.message).toContain('resume');

    const firstProgress = engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && e.job.status === 'running' && /^scored/.test(e.job.message));
    await engine.call('jobs.resume', { jobId });
    const first = (await firstProgress) as { job: Job };
    expect(first.job.current).toBeGreaterThanOrEqual(scoredBefore); // it did not start over
    const done = (await engine.waitFor(jobDone(jobId))) as { job: Job };
    expect(done.job.status).toBe('done');

    const after = new Database(dbPath(), { readonly: true });
    const rendered = after.prepare('SELECT COUNT(*) FROM renders').pluck().get() as number;
    const perExample = after
      .prepare(`SELECT COUNT(*) AS n, COUNT(DISTINCT example_id) AS d FROM token_scores WHERE run_id = ? AND signal = 'token_loss'`)
      .get(run.id) as { n: number; d: number };
    after.close();
    expect(perExample.n).toBe(rendered);
    expect(perExample.d).toBe(rendered);
    expect(integrity()).toBe('ok');
  }, 600_000);

  it('a training run killed mid-run resumes from its checkpoint and its loss curve continues exactly', async () => {
    const project = await engine.call('project.open', {});
    const modelId = project.models[0]!.id;
    const subset = await engine.call('subsets.create', { name: 'some', rule: { kind: 'random', count: 40, seed: 1 } });
    const before = new Map<number, number>();
    const off = engine.onEvent((e) => {
      if (e.type === 'train.metric' && e.metric.split === 'train') before.set(e.metric.step, e.metric.loss);
    });
    const { jobId, runId } = await engine.call('train.start', {
      modelId, subsetId: subset.id, layers: 'last:2', steps: 16, batchSize: 2, lr: 5e-3, checkpointEvery: 4, evalEvery: 100, seed: 3,
    });
    await engine.waitFor((e) => e.type === 'train.metric' && e.runId === runId && e.metric.step >= 10);
    off();
    await engine.kill();
    expect(integrity()).toBe('ok');

    await engine.start();
    const stale = (await engine.call('jobs.list', {})).find((j) => j.jobId === jobId)!;
    expect(stale.resumable).toBe(true);
    const after = new Map<number, number>();
    engine.onEvent((e) => {
      if (e.type === 'train.metric' && e.metric.split === 'train') after.set(e.metric.step, e.metric.loss);
    });
    await engine.call('jobs.resume', { jobId });
    const done = (await engine.waitFor(jobDone(jobId))) as { job: Job };
    expect(done.job.status, done.job.error?.message).toBe('done');

    // resumed from the last checkpoint (step 8): steps 9.. are recomputed, none before
    expect(Math.min(...after.keys())).toBe(9);
    for (const [step, loss] of after) if (before.has(step)) expect(loss).toBeCloseTo(before.get(step)!, 5);
    const metrics = await engine.call('train.metrics', { runId });
    expect(metrics.filter((m) => m.split === 'train').map((m) => m.step)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
  }, 600_000);
});
