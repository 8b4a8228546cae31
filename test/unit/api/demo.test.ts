/**
 * The demo project opens already scored (issue 20): at first start it imports the bundled GSM8K train file and then,
 * as a second visible job, scores a seeded sample of 300 rows with the bundled stories260K (token_loss, mean_loss,
 * ifd, embedding), so the Examples table, the token view and the map have something to show. A dataset imported later
 * is not scored unasked. Real projects (SQLite files), the bundled model and data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { initBackend } from '../../../main/engine/compute/backend';
import { DEMO_SAMPLE } from '../../../main/engine/api/demo';
import type { Job } from '../../../preload/contract';
import { serviceCalls } from '../../support/engine';

const GSM8K_50 = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');

let home: string;
let service: EngineService;

const { call } = serviceCalls(() => service);

/** Waits until the queue is idle and stays idle (the demo's score job is queued when the import finishes). */
async function settle(): Promise<Job[]> {
  for (let quiet = 0; quiet < 3;) {
    await service.whenIdle();
    await new Promise((r) => setTimeout(r, 100));
    const jobs = await call('jobs.list', {});
    quiet = jobs.every((j) => j.status !== 'queued' && j.status !== 'running') ? quiet + 1 : 0;
  }
  return call('jobs.list', {});
}

beforeAll(async () => {
  // the app's job worker runs on the fastest backend there is (wasm here), not tfjs's plain-JS cpu default
  await initBackend();
  home = mkdtempSync(join(tmpdir(), 'winnow-demo-'));
  service = new EngineService({ projectsDir: home, mode: 'browser', executor: new InProcessExecutor() });
});

afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
});

describe('the demo project', () => {
  it('imports GSM8K, then scores a sample of it as a second job: columns, token scores and the map have data', { timeout: 900_000 }, async () => {
    service.open('demo');
    const jobs = await settle();
    expect(jobs.map((j) => [j.kind, j.status])).toEqual(expect.arrayContaining([['import', 'done'], ['score', 'done']]));
    expect(jobs.filter((j) => j.kind === 'score')).toHaveLength(1);
    const datasetId = Number(jobs.find((j) => j.kind === 'import')!.stats.datasetId);

    // the Examples table: exactly the sampled rows have mean_loss and ifd
    for (const column of ['mean_loss', 'ifd']) {
      const h = await call('examples.histogram', { datasetId, column, bins: 10 });
      expect(h.total).toBe(DEMO_SAMPLE);
      expect(h.nulls).toBe(7473 - DEMO_SAMPLE);
    }
    const top = await call('examples.query', { datasetId, offset: 0, limit: 5, sort: { column: 'mean_loss', dir: 'desc' } });
    expect(top.rows[0]!.signals.mean_loss).toBeGreaterThan(0);
    // the token view: per-token losses on the scored row's tokens
    const detail = await call('examples.get', { exampleId: top.rows[0]!.id });
    const losses = detail.tokenSignals.token_loss!;
    expect(losses).toHaveLength(detail.tokens.length);
    const trained = losses.filter((v, i) => detail.tokens[i]!.label && v !== null);
    expect(trained.length).toBeGreaterThan(0);
    expect(trained.every((v) => Number.isFinite(v))).toBe(true);
    // the map: the sampled rows' embeddings project
    const map = await call('examples.map', { datasetId });
    expect(map.message).toBeNull();
    expect(map.ids).toHaveLength(DEMO_SAMPLE);
  });

  it('a dataset imported into the demo later is not scored unasked', { timeout: 600_000 }, async () => {
    await call('datasets.import', { path: GSM8K_50 });
    const jobs = await settle();
    expect(jobs.filter((j) => j.kind === 'import').map((j) => j.status)).toEqual(['done', 'done']);
    expect(jobs.filter((j) => j.kind === 'score')).toHaveLength(1);
  });
});
