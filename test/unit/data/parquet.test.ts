import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecordBatches, readRecords, type RecordItem } from '../../../main/engine/data/readers';
import { detectFormat } from '../../../main/engine/data/formats';
import { importDataset } from '../../../main/engine/data/import';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { listDatasets } from '../../../main/engine/db/datasets';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { fixture, tempDir } from './helpers';

// Fixtures written by pyarrow (test/fixtures/data/make-parquet.py): real Parquet, not hyparquet's own output.
let cleanup: (() => void) | undefined;
afterEach(() => { cleanup?.(); cleanup = undefined; });

async function collect(path: string): Promise<RecordItem[]> {
  const out: RecordItem[] = [];
  for await (const r of readRecords(path)) out.push(r);
  return out;
}

describe('Parquet reader', () => {
  it('streams one batch per row group and maps a list<struct> column to messages', async () => {
    const sizes: number[] = [];
    for await (const b of readRecordBatches(fixture('chat.parquet'))) sizes.push(b.length);
    expect(sizes).toEqual([3, 3, 1]);
    const rows = await collect(fixture('chat.parquet'));
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rows[1].record).toEqual({
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: '2+2?' }, { role: 'assistant', content: '4' }],
      id: 10_000_000_001, source: 'hand',
    });
    expect((rows[3].record as { messages: Array<{ content: string }> }).messages[1].content).toBe('ünïcödé ☃');
    expect(detectFormat(rows.map((r) => r.record))).toMatchObject({ format: 'messages', confidence: 1, mapping: { format: 'messages', field: 'messages' } });
  });

  it('reads gzip-compressed Parquet with the same rows as the JSONL it came from', async () => {
    const rows = await collect(fixture('gsm8k-10.parquet'));
    const jsonl = readFileSync(fixture('gsm8k-50.jsonl'), 'utf8').trim().split('\n').slice(0, 10).map((l) => JSON.parse(l));
    expect(rows.map((r) => r.record)).toEqual(jsonl);
  });

  it('reads zstd-compressed Parquet (Polars and DuckDB write it by default) with the same rows as the JSONL', async () => {
    const file = fixture('gsm8k-10.zstd.parquet');
    // the pages really are zstd frames (magic 28 b5 2f fd), not stored plain
    expect(readFileSync(file).includes(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe(true);
    const groups: number[] = [];
    for await (const g of readRecordBatches(file)) groups.push(g.length);
    expect(groups).toEqual([5, 5]);
    const jsonl = readFileSync(fixture('gsm8k-50.jsonl'), 'utf8').trim().split('\n').slice(0, 10).map((l) => JSON.parse(l));
    expect((await collect(file)).map((r) => r.record)).toEqual(jsonl);
  });

  it('imports Parquet as a dataset; a broken file is named', async () => {
    const t = tempDir();
    const db: Db = openProjectDb(join(t.dir, 'p.winnow'));
    cleanup = () => { db.close(); t.cleanup(); };
    const r = await importDataset(db, { path: fixture('chat.parquet') });
    expect(r.rows).toBe(7);
    expect(listDatasets(db)[0].format).toBe('parquet:messages');
    expect((getExampleByRow(db, r.datasetId, 4).messages as unknown[]).length).toBe(4);
    expect(JSON.parse(db.prepare('SELECT raw_json FROM examples WHERE row_index = 0').pluck().get() as string).id).toBe(10_000_000_000);

    const bad = join(t.dir, 'cut.parquet');
    writeFileSync(bad, readFileSync(fixture('chat.parquet')).subarray(0, 1500));
    await expect(importDataset(db, { path: bad })).rejects.toThrow(/^cut\.parquet: /);
    await expect(collect(join(t.dir, 'missing.parquet'))).rejects.toThrow(/missing\.parquet: file not found/);
    expect(listDatasets(db)).toHaveLength(1);
  });
});
