/**
 * Changing a stored dataset's mapping: the rows are mapped again from their stored records, what depended on the old
 * messages is named before and removed after (renders, scores, token masks, search index, layer scores of the runs
 * that read it; those runs and the subsets holding its rows become stale), and a mapping that does not fit every row
 * changes nothing. The job then renders and finds duplicates again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { writeExampleSignal } from '../../../main/engine/db/signals';
import { queryExamples } from '../../../main/engine/data/queryExamples';
import { importDataset } from '../../../main/engine/data/import';
import { renderDataset } from '../../../main/engine/data/renderDataset';
import { remapDataset, remapImpact } from '../../../main/engine/data/remap';
import { indexText } from '../../../main/engine/data/textIndex';
import { previewDataset } from '../../../main/engine/data/preview';
import { normHash } from '../../../main/engine/data/normalize';
import { runImportJob } from '../../../main/engine/data/import-job';
import type { JobContext } from '../../../main/engine/jobs/types';
import { fixture, STORIES_DIR, storiesTokenizer, tempDir } from './helpers';

const cleanups: Array<() => void> = [];
afterEach(() => { for (const c of cleanups.splice(0)) c(); });

function project(): { db: Db; dir: string; file: string } {
  const t = tempDir();
  const file = join(t.dir, 'p.winnow');
  const db = openProjectDb(file);
  cleanups.push(() => { db.close(); t.cleanup(); });
  return { db, dir: t.dir, file };
}

const count = (db: Db, sql: string, ...args: unknown[]) => db.prepare(sql).pluck().get(...args) as number;

/** GSM8K imported as question/answer, rendered, scored by run 1, a hand-edited mask, a subset; a second dataset untouched */
async function populated() {
  const p = project();
  const { db } = p;
  const gsm = await importDataset(db, { path: fixture('gsm8k-50.jsonl') });
  const other = await importDataset(db, { path: fixture('alpaca.json') });
  const tok = await storiesTokenizer();
  const keyId = (await renderDataset(db, gsm.datasetId, tok, { labelPolicy: 'assistant' })).renderKeyId;
  await renderDataset(db, other.datasetId, tok, { labelPolicy: 'assistant' });
  const ids = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(gsm.datasetId) as number[];
  const otherIds = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(other.datasetId) as number[];
  db.prepare(`INSERT INTO score_runs (id, dataset_id, signals_json, params_json, status, created_at) VALUES
    (1, ?, '["mean_loss","fim"]', '{}', 'done', '2000-01-01'), (2, ?, '["mean_loss"]', '{}', 'done', '2000-01-01')`).run(gsm.datasetId, other.datasetId);
  writeExampleSignal(db, 1, 'mean_loss', ids.map((id, i): [number, number] => [id, i]));
  writeExampleSignal(db, 2, 'mean_loss', otherIds.map((id): [number, number] => [id, 7]));
  db.prepare(`INSERT INTO layer_scores (run_id, tensor_name, block, kind, signal, value) VALUES (1, 'w', 0, 'q', 'fim', 1), (2, 'w', 0, 'q', 'fim', 2)`).run();
  db.prepare(`INSERT INTO token_masks (name, example_id, render_key_id, mask, provenance_json) VALUES ('edited', ?, ?, x'01', '{}'), ('edited', ?, ?, x'01', '{}')`)
    .run(ids[0], keyId, otherIds[0], keyId);
  db.prepare(`INSERT INTO subsets (id, name, rule_json, size, created_at) VALUES (1, 'hardest', '{}', 2, 't'), (2, 'alpaca-only', '{}', 1, 't')`).run();
  db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (1, ?), (1, ?), (2, ?)').run(ids[0], ids[1], otherIds[0]);
  return { ...p, gsm, other, ids, otherIds, tok };
}

describe('re-mapping a stored dataset', () => {
  it('names what it invalidates, re-maps every row from its record and removes only what depended on it', async () => {
    const { db, gsm, other, ids, otherIds, tok } = await populated();
    const impact = remapImpact(db, gsm.datasetId);
    expect(impact).toEqual({
      rows: 50, renders: 50, scoredExamples: 50, scoreRuns: [{ id: 1, signals: ['mean_loss', 'fim'] }], tokenMasks: 1,
      subsets: [{ id: 1, name: 'hardest' }],
    });
    // the preview of the new mapping comes from the stored rows
    const preview = previewDataset(db, gsm.datasetId, { mapping: { format: 'text', field: 'question' } }, tok);
    expect(preview.confidence).toBe(1);
    expect(preview.rows[0]).toMatchObject({ line: 1, text: expect.stringMatching(/^Natalia sold clips/) });
    expect(previewDataset(db, gsm.datasetId).mapping).toEqual({ format: 'question_answer', question: 'question', answer: 'answer' });

    const before = getExampleByRow(db, gsm.datasetId, 0);
    const otherBefore = db.prepare('SELECT * FROM examples WHERE dataset_id = ? ORDER BY id').all(other.datasetId);
    expect(await remapDataset(db, gsm.datasetId, { format: 'text', field: 'question' })).toEqual(impact);

    const after = getExampleByRow(db, gsm.datasetId, 0);
    expect(after.id).toBe(before.id);
    expect(after.raw).toEqual(before.raw);
    expect(after.messages).toEqual({ text: (before.raw as { question: string }).question });
    expect(after.normHash).toBe(normHash({ text: (before.raw as { question: string }).question }));
    expect(after.nChars).toBe((before.raw as { question: string }).question.length);
    expect(db.prepare('SELECT format, mapping_json FROM datasets WHERE id = ?').get(gsm.datasetId))
      .toEqual({ format: 'jsonl:text', mapping_json: '{"format":"text","field":"question"}' });

    const inGsm = 'IN (SELECT id FROM examples WHERE dataset_id = ?)';
    expect(count(db, `SELECT COUNT(*) FROM renders WHERE example_id ${inGsm}`, gsm.datasetId)).toBe(0);
    expect(count(db, `SELECT COUNT(*) FROM example_signals WHERE example_id ${inGsm}`, gsm.datasetId)).toBe(0);
    expect(count(db, `SELECT COUNT(*) FROM example_scores WHERE example_id ${inGsm}`, gsm.datasetId)).toBe(0);
    expect(count(db, 'SELECT COUNT(*) FROM token_masks WHERE example_id = ?', ids[0])).toBe(0);
    expect(db.prepare('SELECT id, status FROM score_runs ORDER BY id').all()).toEqual([{ id: 1, status: 'stale' }, { id: 2, status: 'done' }]);
    expect(db.prepare('SELECT run_id FROM layer_scores').pluck().all()).toEqual([2]);
    expect(db.prepare('SELECT id, stale_reason FROM subsets ORDER BY id').all()).toEqual([
      { id: 1, stale_reason: expect.stringContaining('re-mapped') }, { id: 2, stale_reason: null },
    ]);
    expect(count(db, 'SELECT COUNT(*) FROM subset_members WHERE subset_id = 1')).toBe(2);
    // the other dataset is untouched
    expect(db.prepare('SELECT * FROM examples WHERE dataset_id = ? ORDER BY id').all(other.datasetId)).toEqual(otherBefore);
    expect(count(db, `SELECT COUNT(*) FROM renders WHERE example_id ${inGsm}`, other.datasetId)).toBe(otherIds.length);
    expect(count(db, 'SELECT COUNT(*) FROM token_masks WHERE example_id = ?', otherIds[0])).toBe(1);

    // search: the answers are no longer part of the text; the index is rebuilt from the new messages
    // (the last word of a search matches as a prefix)
    const q = (text: string) => queryExamples(db, { datasetId: gsm.datasetId, text, offset: 0, limit: 5 });
    expect(q('clips').textPending).toBe(50);
    await indexText(db);
    const raws = (db.prepare('SELECT raw_json FROM examples WHERE dataset_id = ?').pluck().all(gsm.datasetId) as string[])
      .map((r) => JSON.parse(r) as { question: string; answer: string });
    const words = (t: string) => new Set(t.toLowerCase().match(/[a-z]+/g));
    const inQuestions = (w: string) => raws.filter((r) => [...words(r.question)].some((x) => x.startsWith(w))).length;
    const answerOnly = [...words(raws.map((r) => r.answer).join(' '))].find((w) => inQuestions(w) === 0)!;
    expect(answerOnly).toBeDefined();
    expect(q('clips').total).toBe(inQuestions('clips'));
    expect(q('altogether').total).toBe(inQuestions('altogether'));
    expect(q(answerOnly).total).toBe(0);
  });

  it('changes nothing when a row does not fit the new mapping, and says how many and which', async () => {
    const { db, gsm } = await populated();
    const snapshot = () => ({
      ex: db.prepare('SELECT * FROM examples ORDER BY id').all(), ds: db.prepare('SELECT * FROM datasets ORDER BY id').all(),
      renders: count(db, 'SELECT COUNT(*) FROM renders'), runs: db.prepare('SELECT status FROM score_runs ORDER BY id').pluck().all(),
      fts: count(db, 'SELECT COUNT(*) FROM examples_fts'),
    });
    const before = snapshot();
    await expect(remapDataset(db, gsm.datasetId, { format: 'question_answer', question: 'question', answer: 'solution' }))
      .rejects.toThrow(/^50 of 50 rows of "gsm8k-50\.jsonl" do not fit the new mapping, so nothing was changed: row 1: field "solution" is missing/);
    expect(snapshot()).toEqual(before);
    const ac = new AbortController();
    ac.abort();
    await expect(remapDataset(db, gsm.datasetId, { format: 'text', field: 'answer' }, { signal: ac.signal })).rejects.toMatchObject({ code: 'cancelled' });
    expect(snapshot()).toEqual(before);
  });

  it('as a job: re-maps, then indexes, renders with the project model and finds duplicates again', async () => {
    const { db, file, dir } = project();
    db.prepare(`INSERT INTO models (id, name, path, architecture, config_json, hash, created_at) VALUES (1, 'stories260K', ?, 'llama', '{}', 'h', 't')`).run(STORIES_DIR);
    const ctx = (params: Record<string, unknown>): JobContext => ({
      jobId: 'j', dbPath: file, projectDir: dir, params, progress: () => undefined, isCancelled: () => false, log: () => undefined,
    });
    await runImportJob(ctx({ path: fixture('gsm8k-50.jsonl') }));
    const answerWord = queryExamples(db, { text: 'altogether', offset: 0, limit: 1 }).total;
    const keyId = db.prepare('SELECT render_key_id FROM renders LIMIT 1').pluck().get() as number;
    const labels = () => count(db, 'SELECT SUM(n_label) FROM renders WHERE render_key_id = ?', keyId);
    const trained = labels();
    // every row's answer becomes the prompt and the question the response: other tokens are trained on
    const out = await runImportJob(ctx({ remap: { datasetId: 1, mapping: { format: 'prompt_completion', prompt: 'answer', completion: 'question' } } }));
    // the import job's only scores are the duplicate columns, which are made again: not counted as lost
    expect(out.stats).toMatchObject({ datasetId: 1, rows: 50, deletedRenders: 50, deletedScoredExamples: 0 });
    expect(out.message).toMatch(/^re-mapped 50 rows as prompt_completion; deleted 50 renders(,|$)/);
    // long answers as prompts push a few questions past the 512-token budget: those rows are listed, not dropped
    expect(out.stats.renderErrors).toBe(count(db, 'SELECT COUNT(*) FROM render_errors WHERE dataset_id = 1'));
    expect(count(db, 'SELECT COUNT(*) FROM renders')).toBe(50 - Number(out.stats.renderErrors));
    expect(labels()).not.toBe(trained);
    const first = getExampleByRow(db, 1, 0);
    expect(first.messages).toEqual([{ role: 'user', content: (first.raw as { answer: string }).answer }, { role: 'assistant', content: (first.raw as { question: string }).question }]);
    expect(count(db, 'SELECT COUNT(*) FROM example_signals WHERE exact_dup IS NOT NULL')).toBe(50);
    const search = queryExamples(db, { text: 'altogether', offset: 0, limit: 1 });
    expect(search.textPending).toBeUndefined();
    expect(search.total).toBe(answerWord);
  }, 60_000);
});
