/**
 * `project.progress`, behind the first screen's check marks, on a real project through the engine service: the
 * bundled model counts from the start; scores and subsets count on the dataset asked about only, so switching to a
 * dataset nothing was scored on unchecks them; the scoring job's message names the dataset it scored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { initBackend } from '../../../main/engine/compute/backend';
import { serviceCalls } from '../../support/engine';

const GSM8K = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');
const DUPS = resolve(__dirname, '../../fixtures/data/dups.jsonl');

let home: string;
let service: EngineService;

const { call, finished } = serviceCalls(() => service);

beforeAll(async () => {
  await initBackend();
  home = mkdtempSync(join(tmpdir(), 'winnow-progress-'));
  service = new EngineService({ projectsDir: home, mode: 'browser', executor: new InProcessExecutor() });
  service.open('progress');
});

afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
});

describe('project.progress', () => {
  it('counts what the project holds, scores and subsets on the dataset asked about', async () => {
    expect(await call('project.progress', {})).toEqual({ datasets: 0, models: 1, scoreRuns: 0, subsets: 0, trainRuns: 0, exports: 0 });

    await finished((await call('datasets.import', { path: GSM8K })).jobId);
    await finished((await call('datasets.import', { path: DUPS })).jobId);
    const { datasets, models } = await call('project.open', {});
    const gsm8k = datasets.find((d) => d.name === 'gsm8k-50.jsonl')!.id;
    const dups = datasets.find((d) => d.name === 'dups.jsonl')!.id;

    const scored = await finished((await call('scoring.start', { modelId: models[0]!.id, datasetId: dups, signals: ['mean_loss'] })).jobId);
    expect(scored.message).toBe('scored 4 examples of dups.jsonl');
    await call('subsets.create', { name: 'two', rule: { kind: 'random', count: 2, seed: 0 }, datasetId: dups });

    expect(await call('project.progress', { datasetId: dups })).toEqual({ datasets: 2, models: 1, scoreRuns: 1, subsets: 1, trainRuns: 0, exports: 0 });
    expect(await call('project.progress', { datasetId: gsm8k })).toEqual({ datasets: 2, models: 1, scoreRuns: 0, subsets: 0, trainRuns: 0, exports: 0 });
    expect(await call('project.progress', {})).toMatchObject({ scoreRuns: 1, subsets: 1 });
  });
});
