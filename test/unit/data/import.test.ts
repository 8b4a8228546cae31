import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { listDatasets, listImportSkips } from '../../../main/engine/db/datasets';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { getRender, listRenderErrors } from '../../../main/engine/db/renders';
import { importDataset } from '../../../main/engine/data/import';
import { renderDataset } from '../../../main/engine/data/renderDataset';
import type { WinnowTokenizer } from '../../../main/engine/models/types';
import { fixture, maskedText, storiesTokenizer, tempDir } from './helpers';

let db: Db;
let dir: string;
let cleanup: () => void;
let tok: WinnowTokenizer;
beforeAll(async () => { tok = await storiesTokenizer(); });
function setup() {
  const t = tempDir();
  dir = t.dir;
  db = openProjectDb(join(dir, 'p.winnow'));
  cleanup = () => { db.close(); t.cleanup(); };
}
afterEach(() => cleanup?.());

const count = (sql: string) => db.prepare(sql).pluck().get() as number;

describe('importDataset', () => {
  it('imports the GSM8K sample with normalized messages, preview, hash and searchable text', async () => {
    setup();
    const progress: number[] = [];
    const r = await importDataset(db, { path: fixture('gsm8k-50.jsonl'), onProgress: (d) => progress.push(d) });
    expect(r).toEqual({ datasetId: 1, mapping: { format: 'question_answer', question: 'question', answer: 'answer' }, rows: 50, skipped: 0, errors: [] });
    const [ds] = listDatasets(db);
    expect(ds).toMatchObject({ name: 'gsm8k-50.jsonl', format: 'jsonl:question_answer', rowCount: 50 });
    expect(ds.hash).toMatch(/^[0-9a-f]{64}$/);
    const ex = getExampleByRow(db, 1, 0);
    expect(ex.messages).toEqual([
      { role: 'user', content: expect.stringMatching(/^Natalia sold clips/) },
      { role: 'assistant', content: expect.stringMatching(/#### 72$/) },
    ]);
    expect(ex.raw).toMatchObject({ question: expect.any(String), answer: expect.any(String) });
    expect(ex.textPreview).toMatch(/^user: Natalia sold clips.*assistant: Natalia sold 48\/2/);
    expect(ex.normHash).toMatch(/^[0-9a-f]{16}$/);
    expect(count("SELECT COUNT(*) FROM examples_fts WHERE examples_fts MATCH 'Natalia'")).toBe(1);
    expect(progress.at(-1)).toBe(50);
  });

  it('imports every fixture format', async () => {
    setup();
    const cases: Array<[string, number, string]> = [
      ['alpaca.json', 3, 'json:alpaca'], ['sharegpt.jsonl', 2, 'jsonl:sharegpt'], ['messages.jsonl', 2, 'jsonl:messages'],
      ['prompt-completion.jsonl', 2, 'jsonl:prompt_completion'], ['stories.txt', 3, 'txt:text'], ['quoted.csv', 3, 'csv:alpaca'],
      ['qa.tsv', 2, 'tsv:question_answer'], ['wrapped.json', 2, 'json:text'], ['qa.jsonl.gz', 2, 'jsonl:question_answer'],
    ];
    for (const [file, rows, format] of cases) {
      const r = await importDataset(db, { path: fixture(file) });
      expect(r.rows, file).toBe(rows);
      expect(listDatasets(db).at(-1)!.format, file).toBe(format);
    }
    const messages = listDatasets(db).find((d) => d.name === 'messages.jsonl')!;
    expect((getExampleByRow(db, messages.id, 0).messages as unknown[]).length).toBe(5);
    const csv = listDatasets(db).find((d) => d.name === 'quoted.csv')!;
    expect(getExampleByRow(db, csv.id, 0).messages).toEqual([
      { role: 'user', content: 'Write a poem about "rain"' }, { role: 'assistant', content: 'Drops fall,\r\nthe street shines' },
    ]);
    const txt = listDatasets(db).find((d) => d.name === 'stories.txt')!;
    expect(getExampleByRow(db, txt.id, 2).messages).toEqual({ text: 'The end.' });
  });

  it('aborts on a malformed line naming file and line, leaving the project as it was', async () => {
    setup();
    await importDataset(db, { path: fixture('alpaca.json') });
    const before = { ds: count('SELECT COUNT(*) FROM datasets'), ex: count('SELECT COUNT(*) FROM examples'), fts: count('SELECT COUNT(*) FROM examples_fts') };
    await expect(importDataset(db, { path: fixture('malformed.jsonl') })).rejects.toThrow(/^malformed\.jsonl line 3: invalid JSON/);
    expect({ ds: count('SELECT COUNT(*) FROM datasets'), ex: count('SELECT COUNT(*) FROM examples'), fts: count('SELECT COUNT(*) FROM examples_fts') }).toEqual(before);
    expect(db.inTransaction).toBe(false);
  });

  it('skips malformed rows when asked and keeps them in import_skips', async () => {
    setup();
    const r = await importDataset(db, { path: fixture('malformed.jsonl'), skipMalformed: true });
    expect(r.rows).toBe(4);
    expect(r.skipped).toBe(2);
    expect(r.errors.map((e) => e.line)).toEqual([3, 5]);
    expect(r.errors[1].reason).toBe('malformed.jsonl line 5: field "answer" is missing');
    const skips = listImportSkips(db, r.datasetId);
    expect(skips.map((s) => s.line)).toEqual([3, 5]);
    expect(skips[0].raw).toContain('"Broken?"');
    // row_index counts imported records: line 4 becomes row 2
    expect((getExampleByRow(db, r.datasetId, 2).raw as { question: string }).question).toBe('Fourth?');
  });

  it('rolls back when aborted midway', async () => {
    setup();
    const p = join(dir, 'big.jsonl');
    writeFileSync(p, Array.from({ length: 5000 }, (_, i) => JSON.stringify({ prompt: `p${i}`, completion: `c${i}` })).join('\n'));
    const ac = new AbortController();
    const run = importDataset(db, { path: p, signal: ac.signal, onProgress: (d) => { if (d >= 2000) ac.abort(); } });
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(count('SELECT COUNT(*) FROM datasets')).toBe(0);
    expect(count('SELECT COUNT(*) FROM examples')).toBe(0);
    expect(count('SELECT COUNT(*) FROM examples_fts')).toBe(0);
  });

  it('uses a mapping given by the caller', async () => {
    setup();
    const p = join(dir, 'custom.csv');
    writeFileSync(p, 'q,a,id\nWhy?,Because.,1\n');
    const r = await importDataset(db, { path: p, mapping: { format: 'prompt_completion', prompt: 'q', completion: 'a' } });
    expect(getExampleByRow(db, r.datasetId, 0).messages).toEqual([{ role: 'user', content: 'Why?' }, { role: 'assistant', content: 'Because.' }]);
    await expect(importDataset(db, { path: p, mapping: { format: 'question_answer', question: 'q', answer: 'answer' } }))
      .rejects.toThrow('custom.csv line 2: field "answer" is missing');
  });

  it('refuses a file whose records fit no format, naming the fields', async () => {
    setup();
    const p = join(dir, 'odd.jsonl');
    writeFileSync(p, '{"a": 1}\n{"a": 2}\n');
    await expect(importDataset(db, { path: p })).rejects.toThrow(/odd\.jsonl: cannot recognise the record format \(fields seen: "a"\)/);
    expect(count('SELECT COUNT(*) FROM datasets')).toBe(0);
  });
});

describe('renderDataset', () => {
  it('renders every example, caches by render key (tokenizer, template and options), and lists rows with nothing to learn', async () => {
    setup();
    const { datasetId } = await importDataset(db, { path: fixture('gsm8k-50.jsonl') });
    const first = await renderDataset(db, datasetId, tok, { labelPolicy: 'assistant' });
    expect(first).toEqual({ renderKeyId: first.renderKeyId, rendered: 50, cached: 0, errors: 0, truncated: 0 });
    const again = await renderDataset(db, datasetId, tok, { labelPolicy: 'assistant' });
    expect(again).toEqual({ renderKeyId: first.renderKeyId, rendered: 0, cached: 50, errors: 0, truncated: 0 });

    const ex = getExampleByRow(db, datasetId, 0);
    const r = getRender(db, ex.id, first.renderKeyId)!;
    const text = tok.applyChatTemplate(ex.messages as Array<{ role: string; content: string }>);
    const answer = (ex.raw as { answer: string }).answer;
    // learned through the eos that ends the turn, not the newline the template writes after it
    expect(maskedText(text, r.offsets, r.labelMask).trimStart()).toBe(`${answer}${tok.eosToken}`);
    expect(r.nTokens).toBe(r.tokenIds.length);
    expect(r.nLabel).toBe(r.labelMask.reduce((a, b) => a + b, 0));

    // a budget that cuts every answer off: nothing trainable is left, so those rows become render errors
    const cut = await renderDataset(db, datasetId, tok, { labelPolicy: 'assistant', maxTokens: 8 });
    expect(cut.errors).toBe(50);
    expect(cut.renderKeyId).not.toBe(first.renderKeyId);
    expect(listRenderErrors(db, datasetId, cut.renderKeyId)[0].reason).toMatch(/^no trainable tokens/);
    expect(getRender(db, ex.id, cut.renderKeyId)).toBeNull();
    // other options are another render key: the first renders and their (zero) errors are untouched
    expect(getRender(db, ex.id, first.renderKeyId)!.tokenIds).toEqual(r.tokenIds);
    expect(listRenderErrors(db, datasetId, first.renderKeyId)).toEqual([]);
  });
});
