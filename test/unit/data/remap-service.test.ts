/**
 * Re-mapping through the engine service, as the Data screen does it: preview a new mapping on the stored rows with
 * what it would invalidate, refuse one that does not fit, run it as a job (kind `remap`), after which the subsets holding
 * its rows are listed as stale with the reason; and a search index left behind by a stopped import is finished when the
 * project is opened again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { importDataset } from '../../../main/engine/data/import';
import { fixture } from './helpers';
import { serviceCalls } from '../../support/engine';

let home: string;
let service: EngineService;

const { call, finished: done } = serviceCalls(() => service);

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'winnow-remap-'));
  service = new EngineService({ projectsDir: join(home, 'projects'), mode: 'browser', executor: new InProcessExecutor() });
  service.open('remap');
});
afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
});

describe('datasets.remap', () => {
  it('previews a new mapping on the stored rows with its impact, refuses a misfit, re-maps as a job', async () => {
    const imp = await call('datasets.import', { path: fixture('gsm8k-50.jsonl') });
    await done(imp.jobId);
    const info0 = (await call('project.open', {})).datasets[0]!;
    const datasetId = info0.id;

    const current = await call('datasets.preview', { datasetId });
    expect(current.mapping).toEqual({ format: 'question_answer', question: 'question', answer: 'answer' });
    expect(current.impact).toMatchObject({ rows: 50, renders: 50, scoredExamples: 0, tokenMasks: 0, subsets: [] });
    expect(current.rows[0]!.rendered).toContain('Natalia');

    const next = { format: 'prompt_completion' as const, prompt: 'question', completion: 'answer', system: 'missing' };
    const preview = await call('datasets.preview', { datasetId, mapping: next });
    expect(preview.confidence).toBe(1);
    expect((await service.call('datasets.preview', {})).ok).toBe(false);

    const misfit = await service.call('datasets.remap', { datasetId, mapping: { format: 'text', field: 'prompt' } });
    expect(misfit.ok).toBe(false);
    if (!misfit.ok) expect(misfit.error.message).toMatch(/does not fit row 1: .*field "prompt" is missing/);

    // a subset of its rows: listed as current before, as stale (with the reason) after
    const sample = await call('subsets.create', { name: 'sample-10', rule: { kind: 'random', count: 10, seed: 3 }, datasetId });
    expect((await call('subsets.list', {})).find((s) => s.id === sample.id)!.staleReason).toBeNull();

    const r = await call('datasets.remap', { datasetId, mapping: next });
    expect(r.impact.renders).toBe(50);
    expect(r.impact.subsets.map((s) => s.name)).toEqual(['sample-10']);
    const job = await done(r.jobId);
    expect(job.status).toBe('done');
    expect(job.kind).toBe('remap'); // its own kind, so the jobs drawer does not call it an import
    expect(job.message).toMatch(/^re-mapped 50 rows as prompt_completion/);
    const listed = (await call('subsets.list', {})).find((s) => s.id === sample.id)!;
    expect(listed.size).toBe(10);
    expect(listed.staleReason).toBe(`dataset "${info0.name}" was re-mapped: its scores were deleted`);
    // a subset made after the re-map is chosen on what is there now
    const fresh = await call('subsets.create', { name: 'sample-after', rule: { kind: 'random', count: 10, seed: 3 }, datasetId });
    expect(fresh.staleReason).toBeNull();
    const info = (await call('project.open', {})).datasets[0]!;
    expect(info.format).toBe('jsonl:prompt_completion');
    const page = await call('examples.query', { datasetId, text: 'Natalia', offset: 0, limit: 5 });
    expect(page.total).toBe(1);
    expect(page.textPending).toBeUndefined();
    expect(page.rows[0]!.nTokens).toBeGreaterThan(0);
  }, 120_000);

  it('a search index left behind is reported by the table and finished when the project opens again', async () => {
    const db = service.current().db;
    const r = await importDataset(db, { path: fixture('alpaca.json'), textIndex: false });
    const q = await call('examples.query', { datasetId: r.datasetId, text: 'Bonjour', offset: 0, limit: 5 });
    expect(q).toMatchObject({ total: 0, textPending: 3 });
    service.close();
    service.open('remap');
    await service.whenIdle();
    const jobs = await call('jobs.list', {});
    expect(jobs[0]).toMatchObject({ kind: 'import', status: 'done', message: 'indexed 3 rows for search' });
    const after = await call('examples.query', { datasetId: r.datasetId, text: 'Bonjour', offset: 0, limit: 5 });
    expect(after.textPending).toBeUndefined();
    expect(after.total).toBe(1);
  }, 60_000);
});
