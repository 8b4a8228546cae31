import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { createDataset, exampleInserter, setDatasetRowCount } from '../../../main/engine/db/datasets';
import { ensureSignalColumn, getExampleSignals, listSignalColumns, writeExampleSignal } from '../../../main/engine/db/signals';
import { queryExamples } from '../../../main/engine/data/queryExamples';
import { queryExampleIds, type ExampleQuery } from '../../../main/engine/db/queryExamples';
import { renderKeyId, renderWriter } from '../../../main/engine/db/renders';
import { tempDir } from './helpers';

let db: Db;
/** the render key the renders are stored under */
let KEY = 0;
let cleanup: () => void;
let ids: number[];
const WORDS = ['apple', 'banana', 'cherry', 'date', 'elderberry'];

// 20 examples in dataset 1, 5 in dataset 2; mean_loss = row_index / 10 except rows 3 and 7 (NULL)
beforeEach(() => {
  const t = tempDir();
  db = openProjectDb(join(t.dir, 'p.winnow'));
  cleanup = () => { db.close(); t.cleanup(); };
  const d1 = createDataset(db, { name: 'a', sourcePath: 'a.jsonl', format: 'jsonl:text', mapping: {}, hash: 'h' });
  const d2 = createDataset(db, { name: 'b', sourcePath: 'b.jsonl', format: 'jsonl:text', mapping: {}, hash: 'h' });
  ids = [];
  for (const [ds, n] of [[d1, 20], [d2, 5]]) {
    const ins = exampleInserter(db, ds);
    for (let i = 0; i < n; i++) {
      const text = `${WORDS[i % 5]} number ${i} of dataset ${ds}`;
      ids.push(ins({ rowIndex: i, rawJson: '{}', messagesJson: JSON.stringify({ text }), textPreview: text, normHash: String(i), nChars: text.length, fullText: text }));
    }
  }
  writeExampleSignal(db, null, 'mean_loss', ids.slice(0, 20).map((id, i): [number, number | null] => [id, i === 3 || i === 7 ? null : i / 10]));
  const w = renderWriter(db);
  KEY = renderKeyId(db, { tokenizerId: 'tok', templateHash: 'tpl', labelPolicy: 'assistant', maxTokens: null, renderer: 2 });
  ids.slice(0, 20).forEach((id, i) => w({
    exampleId: id, renderKeyId: KEY, tokenIds: new Int32Array(i + 1), offsets: new Int32Array(2 * (i + 1)), roles: new Uint8Array(i + 1),
    labelMask: new Uint8Array(i + 1).fill(1), nTokens: i + 1, nLabel: i + 1, truncated: false,
  }));
});
afterEach(() => cleanup());

describe('signal columns', () => {
  it('adds a column and its index once, validating the name', () => {
    ensureSignalColumn(db, 'ifd');
    ensureSignalColumn(db, 'ifd');
    expect(listSignalColumns(db)).toEqual(['mean_loss', 'ifd']);
    const idx = db.prepare("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='example_signals'").pluck().all();
    expect(idx).toEqual(expect.arrayContaining(['idx_example_signals_mean_loss', 'idx_example_signals_ifd']));
    expect(() => ensureSignalColumn(db, 'x"; DROP TABLE examples; --')).toThrow(/not a valid signal id/);
    expect(() => ensureSignalColumn(db, 'Mean')).toThrow(/not a valid signal id/);
  });

  it('keeps the latest value per example and the history per run', () => {
    db.prepare("INSERT INTO score_runs (id, signals_json, params_json, status, created_at) VALUES (1,'[]','{}','done','t'), (2,'[]','{}','done','t')").run();
    writeExampleSignal(db, 1, 'ppl', [[ids[0], 5]]);
    writeExampleSignal(db, 2, 'ppl', [[ids[0], 3], [ids[1], Number.NaN]]);
    expect(getExampleSignals(db, ids[0])).toMatchObject({ ppl: 3, mean_loss: 0 });
    expect(getExampleSignals(db, ids[1]).ppl).toBeNull();
    expect(db.prepare('SELECT run_id, value FROM example_scores WHERE example_id = ? ORDER BY run_id').all(ids[0])).toEqual([
      { run_id: 1, value: 5 }, { run_id: 2, value: 3 },
    ]);
  });
});

describe('queryExamples', () => {
  it('pages in id order by default, with the total', () => {
    const p1 = queryExamples(db, { offset: 0, limit: 10 });
    const p3 = queryExamples(db, { offset: 20, limit: 10 });
    expect(p1.total).toBe(25);
    expect(p1.rows.map((r) => r.id)).toEqual(ids.slice(0, 10));
    expect(p3.rows.map((r) => r.id)).toEqual(ids.slice(20));
    expect(p1.rows[0]).toEqual({ id: ids[0], datasetId: 1, rowIndex: 0, preview: 'apple number 0 of dataset 1', nTokens: null, nLabel: null, signals: { mean_loss: 0 } });
  });

  it('sorts by a signal both ways with NULLs last, filters by range and dataset', () => {
    const desc = queryExamples(db, { datasetId: 1, sort: { column: 'mean_loss', dir: 'desc' }, offset: 0, limit: 100 });
    expect(desc.rows.map((r) => r.rowIndex)).toEqual([19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 6, 5, 4, 2, 1, 0, 7, 3]);
    const asc = queryExamples(db, { datasetId: 1, sort: { column: 'mean_loss', dir: 'asc' }, offset: 0, limit: 100 });
    expect(asc.rows.map((r) => r.rowIndex).slice(0, 3)).toEqual([0, 1, 2]);
    expect(asc.rows.slice(-2).map((r) => r.signals.mean_loss)).toEqual([null, null]);
    const band = queryExamples(db, { filters: [{ column: 'mean_loss', min: 0.5, max: 1.0 }], sort: { column: 'mean_loss', dir: 'asc' }, offset: 1, limit: 2 });
    expect(band.total).toBe(5); // 0.5, 0.6, 0.8, 0.9, 1.0
    expect(band.rows.map((r) => r.signals.mean_loss)).toEqual([0.6, 0.8]);
    expect(queryExamples(db, { datasetId: 2, offset: 0, limit: 100 }).total).toBe(5);
  });

  it('joins renders of the given tokenizer for token counts', () => {
    const r = queryExamples(db, { renderKeyId: KEY, sort: { column: 'n_tokens', dir: 'desc' }, filters: [{ column: 'n_label', min: 18 }], offset: 0, limit: 10 });
    expect(r.rows.map((x) => x.nTokens)).toEqual([20, 19, 18]);
  });

  it('searches text by word prefixes, combined with other filters', () => {
    expect(queryExamples(db, { text: 'cherry', offset: 0, limit: 100 }).total).toBe(5); // rows 2,7,12,17 of ds1 + row 2 of ds2
    expect(queryExamples(db, { text: 'cher', datasetId: 2, offset: 0, limit: 100 }).rows.map((r) => r.rowIndex)).toEqual([2]);
    expect(queryExamples(db, { text: 'banana number 6', offset: 0, limit: 100 }).rows.map((r) => r.rowIndex)).toEqual([6]);
    // the last word is a prefix (being typed), earlier words are whole words
    expect(queryExamples(db, { text: 'banana numb', datasetId: 1, offset: 0, limit: 100 }).total).toBe(4);
    expect(queryExamples(db, { text: 'banan number', datasetId: 1, offset: 0, limit: 100 }).total).toBe(0);
    // search led by the FTS index, with conditions on examples, signals and renders joined to it
    const cherries = (extra: object) => queryExamples(db, { text: 'cherry', datasetId: 1, offset: 0, limit: 100, ...extra });
    expect(cherries({}).rows.map((r) => r.rowIndex)).toEqual([2, 7, 12, 17]);
    expect(cherries({ filters: [{ column: 'n_chars', min: 29 }] }).rows.map((r) => r.rowIndex)).toEqual([12, 17]);
    expect(cherries({ filters: [{ column: 'mean_loss', max: 1.5 }] }).rows.map((r) => r.rowIndex)).toEqual([2, 12]);
    expect(cherries({ renderKeyId: KEY, filters: [{ column: 'n_tokens', max: 5 }] })).toMatchObject({ total: 1, rows: [{ rowIndex: 2, nTokens: 3 }] });
    expect(cherries({ offset: 3 }).rows.map((r) => r.rowIndex)).toEqual([17]);
    // FTS syntax in user input is inert
    expect(queryExamples(db, { text: 'apple OR "banana" NEAR(', offset: 0, limit: 100 }).total).toBe(0);
  });

  it('restricts to a subset', () => {
    db.prepare("INSERT INTO subsets (id, name, rule_json, size, created_at) VALUES (1, 's', '{}', 2, 't')").run();
    db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (1, ?), (1, ?)').run(ids[4], ids[21]);
    expect(queryExamples(db, { subsetId: 1, offset: 0, limit: 10 }).rows.map((r) => r.id)).toEqual([ids[4], ids[21]]);
  });

  it('pages a dataset by id range, across the valued/NULL boundary of a signal sort, and past the end', () => {
    setDatasetRowCount(db, 1, 20); // as an import leaves it: the count is then not recounted
    const page = (offset: number, limit: number, sort?: 'asc' | 'desc') =>
      queryExamples(db, { datasetId: 1, offset, limit, ...(sort ? { sort: { column: 'mean_loss', dir: sort } } : {}) });
    expect(page(5, 4).rows.map((r) => r.rowIndex)).toEqual([5, 6, 7, 8]);
    expect(page(18, 5).rows.map((r) => r.rowIndex)).toEqual([18, 19]);
    expect(page(25, 5)).toEqual({ total: 20, rows: [] });
    // desc: 18 valued rows, then the NULL rows 3 and 7 in id order... descending
    expect(page(16, 4, 'desc').rows.map((r) => r.rowIndex)).toEqual([1, 0, 7, 3]);
    expect(page(18, 4, 'desc').rows.map((r) => r.rowIndex)).toEqual([7, 3]);
    expect(page(19, 4, 'asc').rows.map((r) => r.rowIndex)).toEqual([7]);
    expect(page(0, 3, 'asc').total).toBe(20);
    // token-count sorts walk renders the same way; examples without a render for the tokenizer come last
    const byTokens = (datasetId: number, offset: number, dir: 'asc' | 'desc') =>
      queryExamples(db, { datasetId, renderKeyId: KEY, sort: { column: 'n_tokens', dir }, offset, limit: 3 }).rows.map((r) => r.nTokens);
    expect(byTokens(1, 0, 'desc')).toEqual([20, 19, 18]);
    expect(byTokens(1, 18, 'asc')).toEqual([19, 20]);
    expect(byTokens(2, 0, 'asc')).toEqual([null, null, null]);
    expect(queryExamples(db, { datasetId: 2, renderKeyId: KEY, sort: { column: 'n_label', dir: 'desc' }, offset: 3, limit: 3 }).rows.map((r) => r.id)).toEqual([ids[21], ids[20]]);
  });

  it('gives the same answers when a dataset\'s ids are not one range', () => {
    // interleave two more datasets row by row (imports never do this; the query must not assume it)
    const d3 = createDataset(db, { name: 'c', sourcePath: 'c', format: 'jsonl:text', mapping: {}, hash: 'h' });
    const d4 = createDataset(db, { name: 'd', sourcePath: 'd', format: 'jsonl:text', mapping: {}, hash: 'h' });
    const i3 = exampleInserter(db, d3);
    const i4 = exampleInserter(db, d4);
    const three: number[] = [];
    for (let i = 0; i < 6; i++) {
      three.push(i3({ rowIndex: i, rawJson: '{}', messagesJson: '{"text":"x"}', textPreview: 'x', normHash: 'x', nChars: i, fullText: `kiwi ${i}` }));
      i4({ rowIndex: i, rawJson: '{}', messagesJson: '{"text":"y"}', textPreview: 'y', normHash: 'y', nChars: i, fullText: `kiwi ${i}` });
    }
    writeExampleSignal(db, null, 'mean_loss', three.map((id, i): [number, number] => [id, 10 - i]));
    setDatasetRowCount(db, d3, 6);
    const q = queryExamples(db, { datasetId: d3, sort: { column: 'mean_loss', dir: 'asc' }, offset: 1, limit: 3 });
    expect(q.total).toBe(6);
    expect(q.rows.map((r) => r.rowIndex)).toEqual([4, 3, 2]);
    expect(queryExamples(db, { datasetId: d3, offset: 4, limit: 10 }).rows.map((r) => r.id)).toEqual(three.slice(4));
    expect(queryExamples(db, { datasetId: d3, text: 'kiwi', offset: 0, limit: 10 }).total).toBe(6);
  });

  it('rejects unknown columns and bad paging, naming them', () => {
    expect(() => queryExamples(db, { sort: { column: 'loss; DROP TABLE examples', dir: 'asc' }, offset: 0, limit: 1 })).toThrow(/unknown column "loss; DROP TABLE examples"/);
    expect(() => queryExamples(db, { filters: [{ column: 'nope', min: 1 }], offset: 0, limit: 1 })).toThrow(/unknown column "nope"/);
    expect(() => queryExamples(db, { offset: -1, limit: 1 })).toThrow(/offset/);
    expect(() => queryExamples(db, { offset: 0, limit: 0 })).toThrow(/limit/);
  });
});

describe('queryExampleIds (what a filter subset holds)', () => {
  it('takes every id the table pages through, in row order, for each kind of query', () => {
    db.prepare(`INSERT INTO token_masks (name, example_id, render_key_id, token_ids, mask, provenance_json) VALUES ('edited', ?, ?, ?, ?, '{}')`)
      .run(ids[4], KEY, Buffer.from(new Int32Array(5).buffer), Buffer.alloc(5)); // row 4 hand-edited to 0 trainable tokens
    const shapes: Array<Omit<ExampleQuery, 'offset' | 'limit' | 'sort'>> = [
      {},
      { datasetId: 1 },
      { datasetId: 2 },
      { datasetId: 1, filters: [{ column: 'mean_loss', min: 0.5 }] },
      { filters: [{ column: 'mean_loss', max: 1.2 }, { column: 'n_chars', min: 10 }] },
      { datasetId: 1, text: 'apple' },
      { datasetId: 1, renderKeyId: KEY, filters: [{ column: 'n_label', max: 8 }] },
    ];
    for (const q of shapes) {
      const paged: number[] = [];
      for (let offset = 0; ; offset += 3) {
        const page = queryExamples(db, { ...q, offset, limit: 3 });
        paged.push(...page.rows.map((r) => r.id));
        if (page.rows.length < 3) break;
      }
      expect(paged.length, JSON.stringify(q)).toBeGreaterThan(0);
      expect(queryExampleIds(db, q), JSON.stringify(q)).toEqual(paged);
    }
    // the hand edit counts: row 4 has 0 trainable tokens now, so it passes n_label <= 0 on its own
    expect(queryExampleIds(db, { datasetId: 1, renderKeyId: KEY, filters: [{ column: 'n_label', max: 0 }] })).toEqual([ids[4]]);
  });
});

describe('row order sorts', () => {
  it('row_index asc/desc within a dataset pages by id range, equal to a plain ORDER BY', () => {
    for (const dir of ['asc', 'desc'] as const) {
      for (const [offset, limit] of [[0, 7], [5, 10], [18, 5]]) {
        const got = queryExamples(db, { datasetId: 1, sort: { column: 'row_index', dir }, offset, limit }).rows.map((r) => r.rowIndex);
        const want = (db.prepare(`SELECT row_index FROM examples WHERE dataset_id = 1 ORDER BY row_index ${dir} LIMIT ? OFFSET ?`).pluck().all(limit, offset) as number[]);
        expect(got).toEqual(want);
      }
    }
    // with a filter the same order holds
    const filtered = queryExamples(db, { datasetId: 1, sort: { column: 'row_index', dir: 'desc' }, filters: [{ column: 'mean_loss', min: 1 }], offset: 0, limit: 100 });
    expect(filtered.rows.map((r) => r.rowIndex)).toEqual([19, 18, 17, 16, 15, 14, 13, 12, 11, 10]);
  });
});
