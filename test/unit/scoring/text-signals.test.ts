/**
 * exact_dup / near_dup (computed at import, data/duplicates.ts) are requestable wherever signals are: a scoring run
 * through the API records them under the run (copied from the import, computed where a dataset lacks them), the plan
 * shows a model-free "text" pass, the export's scores carry them, and subset rules filter on them. The CLI JSONL is
 * covered by cli-text-signals.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { DUPLICATE_COLUMNS, withDuplicateCompanions } from '../../../main/engine/data/duplicates';
import { planScoring } from '../../../main/engine/scoring/plan';
import { GSM8K_50, TestProject } from './helpers';

/** 6 GSM8K rows, then an exact copy of row 0 (row 6) and row 1 with one more word (row 7). */
function dupData(dir: string): string {
  const lines = readFileSync(GSM8K_50, 'utf8').trim().split('\n').slice(0, 6);
  const near = JSON.parse(lines[1]!) as { question: string; answer: string };
  near.answer += ' Done';
  const file = join(dir, 'dups.jsonl');
  writeFileSync(file, [...lines, lines[0], JSON.stringify(near)].join('\n') + '\n');
  return file;
}

let proj: TestProject;
let modelId = 0;
let datasetId = 0;
let ids: number[] = [];

const importValues = () =>
  ids.map((id) => proj.db.prepare(`SELECT ${DUPLICATE_COLUMNS.map((c) => `"${c}"`).join(', ')} FROM example_signals WHERE example_id = ?`).get(id) as Record<string, number | null>);
const runValues = (runId: number) =>
  ids.map((id) => Object.fromEntries(DUPLICATE_COLUMNS.map((c) => [c,
    (proj.db.prepare('SELECT value FROM example_scores WHERE run_id = ? AND example_id = ? AND signal = ?').pluck().get(runId, id, c) as number | null | undefined) ?? 'missing'])));

async function scoreText(): Promise<number> {
  const { jobId, plan } = await proj.call('scoring.start', { modelId, datasetId, signals: ['exact_dup', 'near_dup'], batchSize: 8, maxTokens: 512 });
  expect(plan.passes.map(({ model, kind, signals }) => ({ model, kind, signals }))).toEqual([{ model: 'none', kind: 'text', signals: ['exact_dup', 'near_dup'] }]);
  expect(plan.estimatedSeconds).toBe(0);
  const job = await proj.finished(jobId);
  expect(Number(job.stats.textExamples)).toBe(8);
  return Number(job.stats.runId);
}

beforeAll(async () => {
  await initBackend();
  proj = new TestProject('text-signals');
  modelId = (await proj.call('project.open', {})).models[0]!.id;
  datasetId = await proj.importDataset(dupData(proj.home));
  ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index').pluck().all(datasetId) as number[];
});

afterAll(() => proj?.close());

describe('exact_dup / near_dup as requestable signals', () => {
  it('the import computed them: the copy of row 0 and the near copy of row 1 are found', () => {
    const v = importValues();
    expect(v[0]).toMatchObject({ exact_dup: 2, exact_dup_rank: 0, near_dup: ids[0], near_dup_size: 2, near_dup_rank: 0 });
    expect(v[6]).toMatchObject({ exact_dup: 2, exact_dup_rank: 1, near_dup: ids[0], near_dup_size: 2, near_dup_rank: 1 });
    expect(v[7]).toMatchObject({ exact_dup: 1, exact_dup_rank: 0, near_dup: ids[1], near_dup_size: 2, near_dup_rank: 1 });
    for (const r of [2, 3, 4, 5]) expect(v[r], `row ${r}`).toMatchObject({ exact_dup: 1, near_dup: ids[r], near_dup_size: 1 });
  });

  it('a plan with model signals and text signals adds one model-free pass; unknown signals are still refused', () => {
    const plan = planScoring(proj.db, { signals: ['token_loss', 'exact_dup', 'near_dup'], modelId, datasetId });
    expect(plan.passes.map(({ model, kind, signals }) => `${model}:${kind}:${signals.join('+')}`)).toEqual(['model:forward:token_loss', 'none:text:exact_dup+near_dup']);
    expect(() => planScoring(proj.db, { signals: ['exact_dupe'], datasetId })).toThrow(/exact_dupe not available.*exact_dup, near_dup/);
  });

  it('a scoring run records the import values under the run', async () => {
    const runId = await scoreText();
    const recorded = runValues(runId);
    const imported = importValues();
    expect(recorded).toEqual(imported);
    expect(proj.db.prepare('SELECT status FROM score_runs WHERE id = ?').pluck().get(runId)).toBe('done');
  });

  it('a dataset whose duplicate columns are missing (an import stopped before them) gets them computed by the run', async () => {
    const before = importValues();
    proj.db.prepare(`UPDATE example_signals SET near_dup = NULL, near_dup_size = NULL, exact_dup = NULL WHERE example_id IN (SELECT id FROM examples WHERE dataset_id = ?)`).run(datasetId);
    const runId = await scoreText();
    expect(importValues()).toEqual(before);
    expect(runValues(runId)).toEqual(before);
  });

  it('subset rules filter on them: duplicates only, and one per exact group', async () => {
    const only = await proj.call('subsets.create', { name: 'exact dups', rule: { kind: 'threshold', signal: 'exact_dup', min: 2 }, datasetId });
    expect(only.size).toBe(2);
    const onePer = await proj.call('subsets.create', { name: 'one per near group', rule: { kind: 'threshold', signal: 'near_dup_rank', max: 0 }, datasetId });
    expect(onePer.size).toBe(6);
    const members = proj.db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(onePer.id);
    expect(members).toEqual(ids.slice(0, 6));
  });

  it("the export's scores carry every duplicate column with the stored values", async () => {
    const subset = await proj.call('subsets.create', { name: 'all rows', rule: { kind: 'all' }, datasetId });
    const outDir = join(proj.home, 'export-scores');
    const { jobId } = await proj.call('export.start', { outDir, subsetId: subset.id, what: ['scores'] });
    await proj.finished(jobId);
    const [head, ...rows] = readFileSync(join(outDir, 'scores.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    for (const c of DUPLICATE_COLUMNS) expect(head).toContain(c);
    expect(rows).toHaveLength(8);
    const imported = importValues();
    for (const row of rows) {
      const i = ids.indexOf(Number(row[0]));
      for (const c of DUPLICATE_COLUMNS) expect(Number(row[head!.indexOf(c)]), `example ${row[0]} ${c}`).toBe(imported[i]![c]);
    }
  });

  it('an output that asks for exact_dup / near_dup gets their size and rank columns too', () => {
    expect(withDuplicateCompanions(['token_loss', 'near_dup', 'exact_dup', 'exact_dup_rank'])).toEqual(
      ['token_loss', 'near_dup', 'near_dup_size', 'near_dup_rank', 'exact_dup', 'exact_dup_rank']);
  });
});
