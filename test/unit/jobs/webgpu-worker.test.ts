/**
 * The engine host (browser-mode server, a child process) started with WINNOW_BACKEND=webgpu: its compute worker (a
 * worker_threads worker) creates Dawn's device itself, app.info reports the backend with its adapter, and a scoring
 * job and a training job run there. Skipped, with the reason, only where no WebGPU adapter can be created.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineProcess } from './engine-process';
import type { EngineEvent, Job } from '../../../preload/contract';
import { webgpuSkipReason } from '../../setup/webgpu';
import { softwareIcd } from '../../../main/engine/compute/vulkan-env';

const SKIP = await webgpuSkipReason();
if (SKIP) console.warn(`engine on webgpu skipped: ${SKIP}`);

const home = mkdtempSync(join(tmpdir(), 'winnow-webgpu-worker-'));
const engine = new EngineProcess(home, 'webgpu-worker');
const jobDone = (jobId: string) => (e: EngineEvent) => e.type === 'job' && e.job.jobId === jobId && ['done', 'failed', 'cancelled'].includes(e.job.status);

afterAll(async () => {
  await engine.stop();
  delete process.env.WINNOW_BACKEND;
  rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!!SKIP)('the engine on webgpu', () => {
  it('reports the adapter in app.info, and scores and trains in its compute worker', async () => {
    process.env.WINNOW_BACKEND = 'webgpu'; // the engine host inherits this process's environment
    // as a user starts it: without the VK_ICD_FILENAMES this test process set for itself (the host must set it for its
    // worker, whose process.env never reaches the Vulkan loader)
    if (process.env.VK_ICD_FILENAMES === softwareIcd()) delete process.env.VK_ICD_FILENAMES;
    await engine.start();
    const info = await engine.call('app.info', {});
    expect(info.backend!.name).toBe('webgpu');
    expect(info.backend!.adapter!.description.length + info.backend!.adapter!.vendor.length).toBeGreaterThan(0);
    expect(info.backend!.reason).toMatch(/^forced by WINNOW_BACKEND=webgpu \(/);

    const data = join(home, 'short.jsonl');
    writeFileSync(data, [['What is 4 plus 5?', 'Nine.'], ['Lily saw a red bird.', 'The bird sang.']].map(([question, answer]) => JSON.stringify({ question, answer })).join('\n') + '\n');
    const modelId = (await engine.call('project.open', {})).models[0]!.id;
    const { jobId: importJob } = await engine.call('datasets.import', { path: data });
    const imported = ((await engine.waitFor(jobDone(importJob))) as { job: Job }).job;
    const datasetId = Number(imported.stats.datasetId);
    const { jobId } = await engine.call('scoring.start', { modelId, datasetId, signals: ['mean_loss', 'token_entropy'], batchSize: 2, maxTokens: 64 } as never);
    const scored = ((await engine.waitFor(jobDone(jobId))) as { job: Job }).job;
    expect(scored.status, scored.error?.message).toBe('done');
    const train = await engine.call('train.start', { modelId, subsetId: null, datasetId, layers: 'last:1', steps: 2, batchSize: 2, evalFraction: 0, maxTokens: 64 } as never);
    const trained = ((await engine.waitFor(jobDone(train.jobId))) as { job: Job }).job;
    expect(trained.status, trained.error?.message).toBe('done');
  }, 300_000);
});
