/**
 * The generate / eval jobs on a real project (SQLite file, the bundled stories260K model, GSM8K rows): a job stopped
 * after its first batch and resumed ends with the same saved rows and metrics as a straight run; the stored metrics
 * are the hand-computable shares and exp(token-weighted mean loss) of the saved rows; a train run's model and bad
 * input are checked before a job starts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { STORIES, TestProject, gsm8kRows } from '../scoring/helpers';
import { runEvalJob, metricsOf } from '../../../main/engine/eval/job';
import { evalRows } from '../../../main/engine/api/eval-runs';
import { toBlob } from '../../../main/engine/db/blobs';

const project = new TestProject('evaljob');
afterAll(() => project.close());

let modelId = 0;
let subsetId = 0;

async function setUp(): Promise<void> {
  if (modelId) return;
  await project.importDataset(gsm8kRows(project.home, 6));
  modelId = await project.addModel(STORIES);
  subsetId = (await project.call('subsets.create', { name: 'held-out', rule: { kind: 'random', count: 5, seed: 1 } })).id;
}

/** Stores an eval run through the API but runs its job here, so the test decides when it is cancelled. */
async function directRun(cancelAfterBatches: number | null): Promise<{ evalRunId: number; cancelled: boolean }> {
  const db = project.db;
  const { createEvalRun } = await import('../../../main/engine/api/eval-runs');
  const evalRunId = createEvalRun(db, {
    kind: 'eval', modelId, subsetId, adapter: false, metrics: ['exact_match', 'loss'], maxNewTokens: 6, batchSize: 2, maxTokens: 160, answerRegex: undefined,
  } as Parameters<typeof createEvalRun>[1]);
  let batches = -1; // the first progress call is the start, before any batch
  const ctx = (cancelAt: number | null) => ({
    jobId: `test-${evalRunId}`, dbPath: db.name, projectDir: project.home, params: { evalRunId },
    progress: () => {
      batches++;
    },
    isCancelled: () => cancelAt !== null && batches >= cancelAt,
    log: () => {},
  });
  if (cancelAfterBatches === null) {
    await runEvalJob(ctx(null));
    return { evalRunId, cancelled: false };
  }
  await expect(runEvalJob(ctx(cancelAfterBatches))).rejects.toThrow(/stopped after 2 of 5 rows/);
  return { evalRunId, cancelled: true };
}

describe('eval job', () => {
  it('resumed after a cancel, it saves the same rows and metrics as a straight run', async () => {
    await setUp();
    const straight = await directRun(null);
    const stopped = await directRun(1);
    const db = project.db;
    expect(db.prepare('SELECT status FROM eval_runs WHERE id = ?').pluck().get(stopped.evalRunId)).toBe('cancelled');
    expect(db.prepare('SELECT COUNT(*) FROM eval_rows WHERE eval_run_id = ?').pluck().get(stopped.evalRunId)).toBe(2);
    // resume: the same job again; the two saved rows are kept (not generated again: their rowid-free rows stay as written)
    await runEvalJob({
      jobId: 'resume', dbPath: db.name, projectDir: project.home, params: { evalRunId: stopped.evalRunId },
      progress: () => {}, isCancelled: () => false, log: () => {},
    });
    const a = evalRows(db, straight.evalRunId, 0, 100);
    const b = evalRows(db, stopped.evalRunId, 0, 100);
    expect(a).toHaveLength(5);
    expect(b).toEqual(a);
    expect(a.every((r) => r.completion !== null && r.referenceAnswer !== null && r.tokens.length === r.tokenLoss.length)).toBe(true);
    const m = (id: number) => JSON.parse(db.prepare('SELECT metrics_json FROM eval_runs WHERE id = ?').pluck().get(id) as string);
    expect(m(stopped.evalRunId)).toEqual(m(straight.evalRunId));
    // GSM8K references: the answer after ####
    expect(a.map((r) => r.referenceAnswer)).toEqual(a.map((r) => /#### (.*)$/.exec(r.reference!)![1]));
  }, 240_000);

  it('the stored loss and perplexity are exp of the token-weighted mean of the saved answer tokens', async () => {
    await setUp();
    const { evalRunId } = await directRun(null);
    const rows = evalRows(project.db, evalRunId, 0, 100);
    let sum = 0;
    let n = 0;
    for (const r of rows) {
      r.tokens.forEach((t, i) => {
        if (t.label && r.tokenLoss[i] !== null) {
          sum += r.tokenLoss[i]!;
          n++;
        }
      });
    }
    const m = metricsOf(project.db, evalRunId);
    expect(n).toBeGreaterThan(0);
    expect(m.tokens).toBe(n);
    expect(m.loss).toBeCloseTo(sum / n, 4);
    expect(m.perplexity).toBeCloseTo(Math.exp(sum / n), 3);
    expect(m.accuracy).toBeNull(); // not asked
  }, 240_000);

  it('metrics of hand-made rows: exact match, accuracy, perplexity = exp(Σ loss / Σ tokens)', async () => {
    await setUp();
    const db = project.db;
    const id = Number(db.prepare(`INSERT INTO eval_runs (kind, model_id, model_path, params_json, status, created_at) VALUES ('eval', ?, 'x', '{}', 'done', 't')`).run(modelId).lastInsertRowid);
    const put = db.prepare(`INSERT INTO eval_rows (eval_run_id, row_index, prompt, correct, label_correct, token_texts, label_mask, token_loss, loss_sum, loss_tokens)
      VALUES (?, ?, 'p', ?, ?, '[]', ?, ?, ?, ?)`);
    const empty = toBlob(new Uint8Array(0));
    // row losses: [0.5, 1.5] and [1.0] and none → (0.5 + 1.5 + 1.0) / 3 = 1.0, perplexity e; 2 of 3 checked right; accuracy 1 of 2
    put.run(id, 0, 1, 1, empty, empty, 2.0, 2);
    put.run(id, 1, 0, 0, empty, empty, 1.0, 1);
    put.run(id, 2, 1, null, empty, empty, 0, 0);
    const m = metricsOf(db, id);
    expect(m).toEqual({ n: 3, exact_match: 2 / 3, accuracy: 0.5, loss: 1, perplexity: Math.E, tokens: 3 });
  });

  it('refuses, before any job: both or neither held-out source, a missing file, an unfinished train run, a bad regex', async () => {
    await setUp();
    const bad = async (input: Record<string, unknown>) => {
      const r = await project.service.call('eval.start', { modelId, ...input } as never);
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.error.message;
    };
    expect(await bad({})).toMatch(/subset \(subsetId\) or a data file/);
    expect(await bad({ subsetId, dataPath: '/x.jsonl' })).toMatch(/one of the two/);
    expect(await bad({ dataPath: join(project.home, 'none.jsonl') })).toMatch(/none\.jsonl: no such file/);
    expect(await bad({ subsetId, trainRunId: 99 })).toMatch(/train run 99 not found/);
    expect(await bad({ subsetId, answerRegex: '(' })).toMatch(/--answer-regex: not a valid regular expression/);
    expect(project.db.prepare("SELECT COUNT(*) FROM eval_runs WHERE status = 'queued'").pluck().get()).toBe(0);
  });

  it('a data file with a custom answer regex and label accuracy, through the job manager', async () => {
    await setUp();
    const file = join(project.home, 'labels.jsonl');
    writeFileSync(file, [
      { messages: [{ role: 'user', content: 'Is the sky blue?' }, { role: 'assistant', content: 'Answer: yes' }] },
      { messages: [{ role: 'user', content: 'Is fire cold?' }, { role: 'assistant', content: 'Answer: no' }] },
    ].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const { jobId, evalRunId } = await project.call('eval.start', {
      modelId, dataPath: file, metrics: ['exact_match', 'accuracy', 'loss'], answerRegex: 'Answer: (\\w+)', labels: ['Answer: yes', 'Answer: no'], maxNewTokens: 4,
    });
    await project.finished(jobId);
    const rows = evalRows(project.db, evalRunId, 0, 10);
    expect(rows.map((r) => r.referenceAnswer)).toEqual(['yes', 'no']);
    expect(rows.every((r) => r.labelPrediction === 'Answer: yes' || r.labelPrediction === 'Answer: no')).toBe(true);
    const [info] = await project.call('eval.list', { trainRunId: 0 });
    expect(info!.id).toBe(evalRunId);
    expect(info!.status).toBe('done');
    const hits = rows.filter((r) => r.labelCorrect).length;
    expect(info!.metrics!.accuracy).toBe(hits / 2);
    expect(info!.metrics!.exact_match).toBe(rows.filter((r) => r.correct).length / 2);
  }, 240_000);

  it('a generate job writes completions and token losses, no answer checks', async () => {
    await setUp();
    const { jobId, evalRunId } = await project.call('eval.start', { kind: 'generate', modelId, subsetId, limit: 2, maxNewTokens: 4, maxTokens: 160 });
    const job = await project.finished(jobId);
    expect(job.kind).toBe('generate');
    const rows = evalRows(project.db, evalRunId, 0, 10);
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.completion !== null && r.correct === null && r.labelCorrect === null && r.loss !== null)).toBe(true);
    const [info] = (await project.call('eval.list', {})).filter((r) => r.id === evalRunId);
    expect(info!.metrics).toMatchObject({ n: 2, exact_match: null, accuracy: null });
  }, 240_000);
});
