/**
 * SIGKILL the engine host mid-job, start it again, resume: the database is intact, finished work is kept, nothing
 * is missing or done twice, a training run's loss curve continues exactly where its checkpoint left it, and a killed
 * export leaves no folder that could pass for a bundle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { EngineProcess } from './engine-process';
import { openProjectDb } from '../../../main/engine/db';
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
    // on a loaded machine the kill can land after the commit: then every row is kept and the job is resumed
    // (import-crash.test.ts); never a part of the rows
    const db = new Database(dbPath(), { readonly: true });
    const committed = db.prepare('SELECT value FROM project_meta WHERE key = ?').pluck().get(`import_saved:${jobId}`) !== undefined;
    const datasetsAtKill = db.prepare('SELECT COUNT(*) FROM datasets').pluck().get() as number;
    db.close();
    expect(datasetsAtKill).toBe(datasetsBefore + (committed ? 1 : 0));
    await engine.start();
    const project = await engine.call('project.open', {});
    expect(project.datasets.length).toBe(datasetsAtKill);
    if (committed) {
      expect(project.datasets.at(-1)!.rowCount).toBe(200_000);
      // the tests below expect the 300 GSM8K rows alone: stop the resumed job, take the big dataset out again
      const resumed = (await engine.call('jobs.list', {})).find((j) => j.jobId === jobId)!;
      if (resumed.status === 'running' || resumed.status === 'queued') await engine.call('jobs.cancel', { jobId });
      await engine.stop();
      const rw = openProjectDb(dbPath());
      rw.prepare('DELETE FROM datasets WHERE id = ?').run(project.datasets.at(-1)!.id);
      rw.prepare('DELETE FROM project_meta WHERE key = ?').run(`import_saved:${jobId}`);
      rw.close();
      await engine.start();
      return;
    }
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

  it('an export killed mid-way leaves no bundle; on restart its partial folder is removed and the job failed with the reason', async () => {
    // big enough that the kill lands while files are being written (rendering and the token masks take seconds)
    const rows = join(home, 'export-rows.jsonl');
    writeFileSync(rows, Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ question: `Q${i}: what is ${i} + ${i}?`, answer: `It is ${2 * i}. #### ${2 * i}` })).join('\n') + '\n');
    const imp = await engine.call('datasets.import', { path: rows, name: 'export-rows' });
    const imported = (await engine.waitFor(jobDone(imp.jobId))) as { job: Job };
    expect(imported.job.status).toBe('done');
    const datasetId = Number(imported.job.stats.datasetId);
    const modelId = (await engine.call('project.open', {})).models[0]!.id;
    const exportsBefore = countExports();

    const outParent = join(home, 'exports');
    const dest = join(outParent, 'bundle');
    const req = { outDir: dest, subsetId: null, datasetId, modelId, what: ['subset', 'token_masks', 'scores'] as Array<'subset' | 'token_masks' | 'scores'> };
    const { jobId } = await engine.call('export.start', req);
    // subset.jsonl is complete (20,000 ticks) and the token masks are half written
    await engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && e.job.status === 'running' && e.job.message === 'token masks' && e.job.current > 30_000);
    await engine.kill();

    const partial = join(outParent, `bundle.partial-${jobId}`);
    expect(existsSync(dest)).toBe(false); // nothing at the destination until the bundle is complete
    expect(readdirSync(partial)).toContain('token_masks.jsonl');
    expect(readdirSync(partial)).not.toContain('manifest.json');
    expect(integrity()).toBe('ok');

    await engine.start();
    const job = (await engine.call('jobs.list', {})).find((j) => j.jobId === jobId)!;
    expect(job.status).toBe('failed');
    expect(job.resumable).toBe(false);
    expect(job.error!.message).toContain(`removed the unfinished ${partial}`);
    expect(job.error!.message).toContain('start it again');
    expect(existsSync(partial)).toBe(false);
    expect(readdirSync(outParent)).toEqual([]);
    expect(countExports()).toBe(exportsBefore);
    const refused = await engine.call('bundles.open', { dir: dest }).catch((e: Error) => e.message);
    expect(refused).toMatch(/manifest\.json: missing/);

    // started again, the same export completes into the same folder and is a valid bundle
    const again = await engine.call('export.start', req);
    const done = (await engine.waitFor(jobDone(again.jobId))) as { job: Job };
    expect(done.job.status, done.job.error?.message).toBe('done');
    expect(readdirSync(outParent)).toEqual(['bundle']);
    const manifest = JSON.parse(readFileSync(join(dest, 'manifest.json'), 'utf8')) as { examples: unknown[]; files: Record<string, string> };
    expect(manifest.examples.length).toBe(20_000);
    expect(Object.keys(manifest.files).some((f) => f.includes('partial'))).toBe(false);
    const opened = await engine.call('bundles.open', { dir: dest });
    expect(opened.datasetIds).toEqual([datasetId]);
    expect(opened.tokenMasks).toBe(20_000);
    expect(countExports()).toBe(exportsBefore + 1);
    expect(integrity()).toBe('ok');

    // overwriting a non-empty folder swaps in the new files, manifest last, and leaves the user's own files alone
    writeFileSync(join(dest, 'my-notes.txt'), 'mine');
    const over = await engine.call('export.start', { ...req, what: ['subset'], overwrite: true });
    const overDone = (await engine.waitFor(jobDone(over.jobId))) as { job: Job };
    expect(overDone.job.status, overDone.job.error?.message).toBe('done');
    expect(readFileSync(join(dest, 'my-notes.txt'), 'utf8')).toBe('mine');
    const m2 = JSON.parse(readFileSync(join(dest, 'manifest.json'), 'utf8')) as { request: { what: string[] }; files: Record<string, string> };
    expect(m2.request.what).toEqual(['subset']);
    expect(Object.keys(m2.files)).not.toContain('my-notes.txt');
    expect(Object.keys(m2.files)).not.toContain('token_masks.jsonl');
    expect(readdirSync(outParent)).toEqual(['bundle']);
    expect((await engine.call('bundles.open', { dir: dest })).tokenMasks).toBe(0);
  }, 600_000);
});

function countExports(): number {
  const db = new Database(dbPath(), { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) FROM exports').pluck().get() as number;
  } finally {
    db.close();
  }
}
