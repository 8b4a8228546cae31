import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { importDataset } from '../../../main/engine/data/import';
import { computeDuplicates, minhash, NUM_PERM } from '../../../main/engine/data/duplicates';
import { getExampleSignals } from '../../../main/engine/db/signals';
import { queryExamples } from '../../../main/engine/data/queryExamples';
import { fixture, tempDir } from './helpers';

let cleanup: (() => void) | undefined;
afterEach(() => { cleanup?.(); cleanup = undefined; });

const VOCAB = ('apple river stone cloud music garden window yellow quiet engine paper silver forest bridge candle ' +
  'mountain ocean pencil rabbit summer winter orange planet coffee doctor basket castle dragon feather island ' +
  'jungle kettle lemon mirror needle pillow rocket saddle tiger violin wagon anchor bottle copper desert ember').split(' ');

function words(seed: number, n: number): string[] {
  let s = seed;
  return Array.from({ length: n }, () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return VOCAB[s % VOCAB.length]; });
}

function setup(): { db: Db; dir: string } {
  const t = tempDir();
  const db = openProjectDb(join(t.dir, 'p.winnow'));
  cleanup = () => { db.close(); t.cleanup(); };
  return { db, dir: t.dir };
}

describe('computeDuplicates', () => {
  it('groups exact copies and a one-word edit of a 60-word text, and nothing unrelated', async () => {
    const { db, dir } = setup();
    const a = words(1, 60);
    const edited = [...a];
    edited[30] = 'zebra';
    const texts = [
      a.join(' '), // row 0
      words(2, 60).join(' '), // 1: unrelated
      `  ${a.join('   ').toUpperCase()}\n`, // 2: exact copy after normalization (case, spaces)
      edited.join(' '), // 3: near copy
      words(3, 60).join(' '), // 4: unrelated
      ...readFileSync(fixture('gsm8k-50.jsonl'), 'utf8').trim().split('\n').map((l) => {
        const r = JSON.parse(l) as { question: string; answer: string };
        return `${r.question}\n${r.answer}`;
      }),
    ];
    const p = join(dir, 'texts.jsonl');
    writeFileSync(p, texts.map((text) => JSON.stringify({ text })).join('\n'));
    const { datasetId } = await importDataset(db, { path: p });
    const res = await computeDuplicates(db, datasetId);
    expect(res).toEqual({ examples: 55, exactGroups: 1, exactDuplicates: 2, nearGroups: 1, nearDuplicates: 3 });

    const sig = (row: number) => getExampleSignals(db, row + 1); // example ids are 1.. in row order
    expect(sig(0)).toMatchObject({ exact_dup: 2, exact_dup_rank: 0, near_dup: 1, near_dup_size: 3, near_dup_rank: 0 });
    expect(sig(2)).toMatchObject({ exact_dup: 2, exact_dup_rank: 1, near_dup: 1, near_dup_size: 3, near_dup_rank: 1 });
    expect(sig(3)).toMatchObject({ exact_dup: 1, exact_dup_rank: 0, near_dup: 1, near_dup_size: 3, near_dup_rank: 2 });
    for (const row of [1, 4, 5, 30, 54]) {
      expect(sig(row), `row ${row}`).toMatchObject({ exact_dup: 1, exact_dup_rank: 0, near_dup: row + 1, near_dup_size: 1, near_dup_rank: 0 });
    }

    // the table can ask "is a duplicate" and "keep one per group"
    expect(queryExamples(db, { datasetId, filters: [{ column: 'exact_dup', min: 2 }], offset: 0, limit: 100 }).total).toBe(2);
    expect(queryExamples(db, { datasetId, filters: [{ column: 'near_dup_rank', max: 0 }], offset: 0, limit: 100 }).total).toBe(53);
    expect(queryExamples(db, { datasetId, filters: [{ column: 'exact_dup_rank', max: 0 }], offset: 0, limit: 100 }).total).toBe(54);
  });

  it('MinHash estimates Jaccard similarity of word 5-grams', () => {
    const a = words(7, 200);
    const b = [...a.slice(0, 100), ...words(8, 100)]; // shares 96 of 196 shingles with a: J = 96 / 296
    const ma = minhash(a.join(' '));
    const mb = minhash(b.join(' '));
    let same = 0;
    for (let i = 0; i < NUM_PERM; i++) if (ma[i] === mb[i]) same++;
    expect(same / NUM_PERM).toBeGreaterThan(96 / 296 - 0.12);
    expect(same / NUM_PERM).toBeLessThan(96 / 296 + 0.12);
    expect(Array.from(minhash(a.join('  ')))).toEqual(Array.from(ma)); // whitespace does not matter
  });

  it('stops when cancelled, writing nothing', async () => {
    const { db } = setup();
    const { datasetId } = await importDataset(db, { path: fixture('gsm8k-50.jsonl') });
    const ac = new AbortController();
    ac.abort();
    await expect(computeDuplicates(db, datasetId, { signal: ac.signal })).rejects.toMatchObject({ code: 'cancelled' });
    expect(db.prepare('SELECT COUNT(*) FROM example_signals').pluck().get()).toBe(0);
  });
});
