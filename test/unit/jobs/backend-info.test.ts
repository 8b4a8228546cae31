/**
 * app.info names the compute backend from the first call after the engine starts — no job needs to have run — and
 * again after the engine is killed and started on the same home (what a browser page sees when it reconnects).
 * Before, the backend was known only once the worker had said it was ready, so a page connecting right after a
 * (re)start showed "backend not chosen yet" until a job ran.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineProcess } from './engine-process';

const home = mkdtempSync(join(tmpdir(), 'winnow-backend-info-'));
const engine = new EngineProcess(home, 'backend-info');
afterAll(async () => {
  await engine.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('app.info backend', () => {
  it('is reported on the first call after a start and after a restart, before any job', async () => {
    for (const round of ['first start', 'after SIGKILL and restart']) {
      await engine.start();
      const info = await engine.call('app.info', {});
      expect(info.backend, round).not.toBeNull();
      expect(info.backend!.name, round).toMatch(/^(webgpu|wasm|cpu|tensorflow)$/);
      expect(info.backend!.reason.length, round).toBeGreaterThan(0);
      expect(await engine.call('jobs.list', {}), round).toEqual([]);
      if (round === 'first start') await engine.kill();
    }
  }, 120_000);
});
