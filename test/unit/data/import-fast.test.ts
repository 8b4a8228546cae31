/**
 * The fast import path: parsing in a worker thread gives exactly what parsing in the importing thread gives; rows
 * store only their record (messages and preview are derived on read, equal to mapping the record again); the search
 * index is built after the commit, can be stopped and continued, and the table says what it does not cover yet; the
 * index dropped for a big import comes back, also when the import fails.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { listImportSkips } from '../../../main/engine/db/datasets';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { queryExamples } from '../../../main/engine/data/queryExamples';
import { importDataset } from '../../../main/engine/data/import';
import { indexText, textIndexBacklog } from '../../../main/engine/data/textIndex';
import { toMessages, type Mapping } from '../../../main/engine/data/formats';
import { tempDir } from './helpers';

const cleanups: Array<() => void> = [];
afterEach(() => { for (const c of cleanups.splice(0)) c(); });

function project(): { db: Db; dir: string } {
  const t = tempDir();
  const db = openProjectDb(join(t.dir, 'p.winnow'));
  cleanups.push(() => { db.close(); t.cleanup(); });
  return { db, dir: t.dir };
}

/**
 * n alpaca rows with unicode, empty inputs, a malformed line and a row missing its output every 997 rows, blank lines,
 * and (with `long`) a 300 KB row and a malformed one as long
 */
function writeRows(path: string, n: number, long = false): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 997 === 500) lines.push(`{"instruction": "broken ${i}"`);
    else if (i % 997 === 600) lines.push(JSON.stringify({ instruction: `no output ${i}` }));
    else if (i % 1499 === 700) lines.push('');
    else if (long && i === 2000) lines.push(JSON.stringify({ instruction: 'long', output: 'ä'.repeat(150_000) }));
    else if (long && i === 3000) lines.push(`{"instruction": "${'x'.repeat(300_000)}`);
    else lines.push(JSON.stringify({ instruction: `Übersetze Satz ${i}: „Grüß Gott“ 👋`, input: i % 3 ? '' : `ctx ${i}`, output: `Translation ${i}\r\nline two` }));
  }
  writeFileSync(path, lines.join('\r\n') + '\r\n');
}

const rowsOf = (db: Db) => db.prepare('SELECT row_index, raw_json, messages_json, text_preview, norm_hash, n_chars FROM examples ORDER BY id').all();

describe('fast import', () => {
  it('parses the same in a worker thread as in the importing thread, malformed lines included', async () => {
    const a = project();
    const b = project();
    const path = join(a.dir, 'rows.jsonl');
    writeRows(path, 6000);
    const inThread = await importDataset(a.db, { path, skipMalformed: true, worker: false });
    const inWorker = await importDataset(b.db, { path, skipMalformed: true, worker: true });
    expect(inWorker).toEqual(inThread);
    expect(inThread.rows).toBe(6000 - inThread.skipped - 4);
    expect(inThread.errors.map((e) => e.line).slice(0, 2)).toEqual([501, 601]);
    expect(rowsOf(b.db)).toEqual(rowsOf(a.db));
    expect(listImportSkips(b.db, 1)).toEqual(listImportSkips(a.db, 1));
    // without skipping, the worker's first malformed line aborts the import, naming it, and nothing is kept
    await expect(importDataset(b.db, { path, worker: true })).rejects.toThrow(/^rows\.jsonl line 501: invalid JSON/);
    expect(b.db.prepare('SELECT COUNT(*) FROM datasets').pluck().get()).toBe(1);
  }, 120_000);

  it('several workers sharing a file in pieces give the same rows, line numbers and reasons as one reader', async () => {
    const a = project();
    const b = project();
    const path = join(a.dir, 'rows.jsonl');
    // pieces of 64 KB: lines cross piece ends everywhere, and the two long lines span whole pieces
    writeRows(path, 8000, true);
    const one = await importDataset(a.db, { path, skipMalformed: true, worker: false });
    const shared = await importDataset(b.db, { path, skipMalformed: true, worker: { workers: 3, pieceBytes: 64 << 10 } });
    expect(shared).toEqual(one);
    expect(one.errors.map((e) => e.line)).toContain(3001);
    expect(one.errors.find((e) => e.line === 6583)!.reason).toBe('rows.jsonl line 6583: field "output" is missing');
    expect(rowsOf(b.db)).toEqual(rowsOf(a.db));
    expect(listImportSkips(b.db, 1)).toEqual(listImportSkips(a.db, 1));
    await expect(importDataset(b.db, { path, worker: { workers: 3, pieceBytes: 64 << 10 } })).rejects.toThrow(/^rows\.jsonl line 501: invalid JSON/);
  }, 120_000);

  it('stores the record once; messages and preview are the mapping applied to it', async () => {
    const { db, dir } = project();
    const path = join(dir, 'rows.jsonl');
    writeRows(path, 300);
    const r = await importDataset(db, { path, skipMalformed: true });
    const mapping = JSON.parse(db.prepare('SELECT mapping_json FROM datasets').pluck().get() as string) as Mapping;
    expect(db.prepare("SELECT COUNT(*) FROM examples WHERE messages_json != '' OR text_preview != ''").pluck().get()).toBe(0);
    for (const row of [0, 3, 150, r.rows - 1]) {
      const ex = getExampleByRow(db, r.datasetId, row);
      expect(ex.messages).toEqual(toMessages(ex.raw, mapping, row));
      const [user, assistant] = ex.messages as Array<{ role: string; content: string }>;
      expect(ex.textPreview).toBe(`user: ${user.content} ⏎ assistant: ${assistant.content}`.replace(/\s+/g, ' '));
    }
    // the table's page makes the same preview
    const page = queryExamples(db, { datasetId: r.datasetId, offset: 0, limit: 2 });
    expect(page.rows[1].preview).toBe(getExampleByRow(db, r.datasetId, 1).textPreview);
  });

  it('builds the search index after the commit, stops and goes on, and the table says what is not searchable yet', async () => {
    const { db, dir } = project();
    const path = join(dir, 'rows.jsonl');
    writeRows(path, 5000);
    const r = await importDataset(db, { path, skipMalformed: true, textIndex: false });
    const search = () => queryExamples(db, { datasetId: r.datasetId, text: 'Translation 4321', offset: 0, limit: 10 });
    expect(search()).toMatchObject({ total: 0, textPending: r.rows });
    expect(textIndexBacklog(db)).toEqual([{ datasetId: r.datasetId, upto: 0, pending: r.rows }]);

    const ac = new AbortController();
    let seen = 0;
    // 1,500 rows go in one transaction: stopped after the first, exactly that prefix is indexed
    const first = await indexText(db, { signal: ac.signal, perCommit: 1500, onProgress: (d) => { seen = d; ac.abort(); } });
    expect(first.complete).toBe(false);
    expect(first.indexed).toBe(seen);
    const upto = db.prepare('SELECT text_indexed_upto FROM datasets').pluck().get() as number;
    const lo = db.prepare('SELECT MIN(id) FROM examples').pluck().get() as number;
    expect(upto).toBe(lo + seen - 1);
    expect(db.prepare("SELECT COUNT(*) FROM examples_fts WHERE examples_fts MATCH 'translation'").pluck().get()).toBe(seen);

    const rest = await indexText(db);
    expect(rest).toEqual({ indexed: r.rows - seen, complete: true });
    const found = search();
    expect(found.textPending).toBeUndefined();
    expect(found.total).toBe(1);
    expect(found.rows[0].preview).toContain('Translation 4321');
    expect(textIndexBacklog(db)).toEqual([]);
  });

  it('a big import rebuilds the n_chars index once at the end; a failed one leaves it as it was', async () => {
    const { db, dir } = project();
    const path = join(dir, 'rows.jsonl');
    writeRows(path, 4000);
    const indexes = () => db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'examples' ORDER BY name").pluck().all();
    const before = indexes();
    expect(before).toContain('idx_examples_n_chars');
    // fails at the malformed line after rows were written with the index dropped
    await expect(importDataset(db, { path })).rejects.toThrow(/line 501/);
    expect(indexes()).toEqual(before);
    await importDataset(db, { path, skipMalformed: true });
    expect(indexes()).toEqual(before);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // the rebuilt index answers range queries like the table
    const n = db.prepare('SELECT COUNT(*) FROM examples WHERE n_chars BETWEEN 60 AND 70').pluck().get();
    expect(queryExamples(db, { filters: [{ column: 'n_chars', min: 60, max: 70 }], offset: 0, limit: 1 }).total).toBe(n);
  });
});
