/**
 * The gradient pass survives SIGKILL: the engine host (a real child process) is killed right after the first
 * finished batch of a fim + layer_grad_norm + grad_norm + grad_sim_base job, started again and the job resumed. It goes
 * on from the persisted cursor (not from its first example), every example gets its per-example values exactly once,
 * and the final fim / layer_grad_norm / grad_norm / grad_sim_base equal those of an uninterrupted run of the same job bit
 * for bit — both when the fim sums are saved with every batch and when (as for a large model) they are saved rarely and
 * the resumed pass re-adds the fim examples since their last save.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EngineProcess } from '../jobs/engine-process';
import type { EngineEvent, Job } from '../../../preload/contract';
import { gsm8kRows } from './helpers';

const ROWS = 32;
const BATCH = 4;
let home: string;
let engine: EngineProcess;
const dbPath = () => join(home, 'projects', 'gradkill', 'project.winnow');
const jobDone = (jobId: string) => (e: EngineEvent) => e.type === 'job' && e.job.jobId === jobId && ['done', 'failed', 'cancelled'].includes(e.job.status);
const gradientProgress = (jobId: string) => (e: EngineEvent) =>
  e.type === 'job' && e.job.jobId === jobId && e.job.status === 'running' && /^gradients \d+\//.test(e.job.message);

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'winnow-gradkill-'));
  engine = new EngineProcess(home, 'gradkill');
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  rmSync(home, { recursive: true, force: true });
});

interface Results {
  layer: Map<string, number>;
  example: Map<string, number | null>;
  perExample: Array<{ signal: string; n: number; d: number }>;
}

function results(runId: number): Results {
  const db = new Database(dbPath(), { readonly: true });
  try {
    const layer = new Map(
      (db.prepare('SELECT signal, tensor_name AS name, value FROM layer_scores WHERE run_id = ?').all(runId) as Array<{ signal: string; name: string; value: number }>).map(
        (r) => [`${r.signal}:${r.name}`, r.value],
      ),
    );
    const example = new Map(
      (db.prepare('SELECT signal, example_id AS id, value FROM example_scores WHERE run_id = ?').all(runId) as Array<{ signal: string; id: number; value: number | null }>).map(
        (r) => [`${r.signal}:${r.id}`, r.value],
      ),
    );
    const perExample = db
      .prepare('SELECT signal, COUNT(*) AS n, COUNT(DISTINCT example_id) AS d FROM example_scores WHERE run_id = ? GROUP BY signal ORDER BY signal')
      .all(runId) as Results['perExample'];
    return { layer, example, perExample };
  } finally {
    db.close();
  }
}

const MODES: Array<[string, Record<string, string>]> = [
  ['fim sums saved with every batch', { WINNOW_FIM_STATE_BYTES: String(64 << 20), WINNOW_FIM_SAVE_SECONDS: '30' }],
  // as for a large model: the sums are not saved before the kill, so the resumed pass re-adds the fim examples
  ['fim sums too large to save with every batch', { WINNOW_FIM_STATE_BYTES: '0', WINNOW_FIM_SAVE_SECONDS: '3600' }],
];

describe('gradient pass resume', () => {
  it.each(MODES)('a SIGKILLed gradient pass resumes at its last finished batch and ends as an uninterrupted run (%s)', async (mode, env) => {
    // the engine host reads these at start (the child inherits this process's environment)
    Object.assign(process.env, env);
    await engine.stop();
    await engine.start();
    const rare = env.WINNOW_FIM_STATE_BYTES === '0';
    const modelId = (await engine.call('project.open', {})).models[0]!.id;
    const { jobId: importJob } = await engine.call('datasets.import', { path: gsm8kRows(home, ROWS) });
    const imported = (await engine.waitFor(jobDone(importJob))) as { job: Job };
    const datasetId = Number(imported.job.stats.datasetId);
    const target = await engine.call('subsets.create', { name: `target ${rare ? 'rare' : 'every'}`, rule: { kind: 'random', count: 10, seed: 5 }, datasetId });
    const params = {
      modelId, datasetId, batchSize: BATCH, fimExamples: 100, seed: 7, targetSubsetId: target.id, gradDim: 256,
      signals: ['fim', 'layer_grad_norm', 'grad_norm', 'grad_sim_base'],
    };

    const { jobId } = await engine.call('scoring.start', params);
    await engine.waitFor(gradientProgress(jobId));
    await engine.kill();

    const db = new Database(dbPath(), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const runId = db.prepare('SELECT id FROM score_runs WHERE job_id = ?').pluck().get(jobId) as number;
    const meta = JSON.parse(db.prepare(`SELECT value FROM score_pass_state WHERE run_id = ? AND pass = 'gradients' AND key = 'meta'`).pluck().get(runId) as string);
    const sums = db.prepare(`SELECT COUNT(*) FROM score_pass_state WHERE run_id = ? AND key LIKE 'sq:%'`).pluck().get(runId) as number;
    const normsBefore = db.prepare(`SELECT COUNT(*) FROM example_scores WHERE run_id = ? AND signal = 'grad_norm'`).pluck().get(runId) as number;
    const layerBefore = db.prepare('SELECT COUNT(*) FROM layer_scores WHERE run_id = ?').pluck().get(runId) as number;
    db.close();
    expect(meta.total).toBe(ROWS);
    expect(meta.nTargets).toBe(10);
    expect(meta.cursor % BATCH).toBe(0);
    expect(meta.cursor).toBeGreaterThanOrEqual(BATCH);
    expect(meta.cursor).toBeLessThan(ROWS);
    expect(meta.done).toBe(false);
    if (rare) expect(sums, mode).toBe(0);
    else expect(sums, mode).toBeGreaterThan(0);
    // the batches' per-example values landed with the cursor, and nothing else did
    expect(normsBefore).toBe(meta.cursor);
    expect(layerBefore).toBe(0);

    await engine.start();
    const stale = (await engine.call('jobs.list', {})).find((j) => j.jobId === jobId)!;
    expect(stale.resumable).toBe(true);
    const first = engine.waitFor(gradientProgress(jobId));
    await engine.call('jobs.resume', { jobId });
    const firstBatch = ((await first) as { job: Job }).job.current;
    // the first batch after the restart is the one after the cursor
    expect(firstBatch).toBe(Math.min(ROWS, meta.cursor + BATCH));
    const done = (await engine.waitFor(jobDone(jobId))) as { job: Job };
    expect(done.job.status, done.job.error?.message).toBe('done');
    const resumed = results(runId);

    const { jobId: againJob } = await engine.call('scoring.start', params);
    const again = (await engine.waitFor(jobDone(againJob))) as { job: Job };
    expect(again.job.status, again.job.error?.message).toBe('done');
    const uninterrupted = results(Number(again.job.stats.runId));

    expect(resumed.perExample).toEqual([
      { signal: 'grad_norm', n: ROWS, d: ROWS },
      { signal: 'grad_sim_base', n: ROWS, d: ROWS },
    ]);
    expect(uninterrupted.perExample).toEqual(resumed.perExample);
    expect(resumed.layer.size).toBeGreaterThan(0);
    expect(resumed.layer.size).toBe(uninterrupted.layer.size);
    for (const [k, v] of uninterrupted.layer) expect(resumed.layer.get(k), k).toBe(v);
    for (const [k, v] of uninterrupted.example) expect(resumed.example.get(k), k).toBe(v);
    // the pass cleaned up after itself: only its done marker is left
    const after = new Database(dbPath(), { readonly: true });
    expect(after.prepare('SELECT key FROM score_pass_state WHERE run_id = ?').pluck().all(runId)).toEqual(['meta']);
    after.close();
  }, 600_000);
});
