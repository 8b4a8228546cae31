/**
 * Row counts of range filters on signal columns from the indexes (db/rangeCount.ts), against counting the values in
 * the test: one column (small ranges, and large ones counted as all rows minus NULLs and the entries outside), several
 * columns, a dataset's id range or everything; rows with NULLs and rows never scored. Small probe caps make every
 * path run on a small table; the table query gives the same totals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { createDataset, exampleInserter, setDatasetRowCount } from '../../../main/engine/db/datasets';
import { writeExampleSignals } from '../../../main/engine/db/signals';
import { countSignalRanges, rangeProbe, type SignalRange } from '../../../main/engine/db/rangeCount';
import { queryExamples } from '../../../main/engine/data/queryExamples';
import { mulberry32 } from '../../../main/engine/util/random';
import { tempDir } from './helpers';

let db: Db;
let cleanup: () => void;
const rows: Array<{ id: number; ds: number; v: Record<string, number | null> | null }> = [];
const scopes: Record<number, { lo: number; hi: number }> = {};

beforeAll(() => {
  const t = tempDir();
  db = openProjectDb(join(t.dir, 'p.winnow'));
  cleanup = () => { db.close(); t.cleanup(); };
  const rnd = mulberry32(11);
  for (const n of [4000, 1500]) {
    const ds = createDataset(db, { name: `d${n}`, sourcePath: 'x', format: 'jsonl:text', mapping: { format: 'text', field: 'text' }, hash: 'h' });
    const ins = exampleInserter(db, ds, { fts: false });
    const ids = Array.from({ length: n }, (_, i) => ins({ rowIndex: i, rawJson: '{"text":"x"}', messagesJson: '', textPreview: '', normHash: '', nChars: 1 }));
    setDatasetRowCount(db, ds, n);
    scopes[ds] = { lo: ids[0]!, hi: ids[ids.length - 1]! };
    const scored: Array<Array<number | null>> = [];
    for (const id of ids) {
      // a tenth never scored; loss NULL for another tenth; rank 0 for most rows (like keep-one-per-group)
      if (rnd() < 0.1) { rows.push({ id, ds, v: null }); continue; }
      const v = { loss: rnd() < 0.1 ? null : Math.round(3000 * rnd()) / 1000, ifd: 0.5 + rnd(), rank: rnd() < 0.9 ? 0 : 1 + Math.floor(3 * rnd()) };
      rows.push({ id, ds, v });
      scored.push([id, v.loss, v.ifd, v.rank]);
    }
    writeExampleSignals(db, null, ['loss', 'ifd', 'rank'], scored);
  }
});
afterAll(() => cleanup());

function direct(ranges: SignalRange[], ds: number | undefined): number {
  return rows.filter((r) => (ds === undefined || r.ds === ds) && r.v !== null && ranges.every((f) => {
    const x = r.v![f.column];
    return x !== null && x !== undefined && (f.min === undefined || x >= f.min) && (f.max === undefined || x <= f.max);
  })).length;
}

const CASES: SignalRange[][] = [
  [{ column: 'loss', min: 1, max: 1.1 }],
  [{ column: 'loss', min: 0.2 }],
  [{ column: 'loss', max: 2.9 }],
  [{ column: 'rank', max: 0 }],
  [{ column: 'rank', min: 1 }],
  [{ column: 'ifd', min: 0.5, max: 1.5 }],
  [{ column: 'loss', min: 2 }, { column: 'ifd', max: 0.6 }],
  [{ column: 'loss', min: 0.1 }, { column: 'ifd', max: 1.4 }, { column: 'rank', max: 0 }],
  [{ column: 'loss', min: 0.5 }, { column: 'loss', max: 2.5 }, { column: 'loss', min: 1 }],
];

describe('countSignalRanges', () => {
  it('equals counting the values, for every path (probe caps from tiny to larger than the table)', () => {
    for (const cap of [5, 300, 1000, 100_000]) {
      for (const ranges of CASES) {
        for (const ds of [...Object.keys(scopes).map(Number), undefined]) {
          const got = countSignalRanges(db, ranges, ds === undefined ? null : scopes[ds]!, cap);
          expect(got, `${JSON.stringify(ranges)} dataset ${ds} cap ${cap}`).toBe(direct(ranges, ds));
        }
      }
    }
  });

  it('gives the table query its totals; is not used for columns without an index', () => {
    for (const ranges of CASES) {
      for (const ds of [...Object.keys(scopes).map(Number), undefined]) {
        expect(queryExamples(db, { datasetId: ds, filters: ranges, offset: 0, limit: 5 }).total).toBe(direct(ranges, ds));
      }
    }
    expect(countSignalRanges(db, [{ column: 'no_such', min: 1 }], null)).toBeNull();
  });

  it('pages of the table query are the matching rows in id order or sorted, whichever way they are walked', () => {
    const saved = rangeProbe.cap;
    try {
      for (const cap of [5, 100_000]) {
        rangeProbe.cap = cap;
        for (const ranges of CASES) {
          for (const ds of [...Object.keys(scopes).map(Number), undefined]) {
            const match = rows.filter((r) => (ds === undefined || r.ds === ds) && r.v !== null && ranges.every((f) => {
              const x = r.v![f.column];
              return x !== null && x !== undefined && (f.min === undefined || x >= f.min) && (f.max === undefined || x <= f.max);
            }));
            const ids = (q: Parameters<typeof queryExamples>[1]) => queryExamples(db, q).rows.map((r) => r.id);
            const at = `${JSON.stringify(ranges)} dataset ${ds} cap ${cap}`;
            expect(ids({ datasetId: ds, filters: ranges, offset: 3, limit: 40 }), at).toEqual(match.map((r) => r.id).slice(3, 43));
            // sorted by ifd descending, ties by id descending (valued rows first)
            const byIfd = [...match].sort((a, b) => (b.v!.ifd! - a.v!.ifd!) || (b.id - a.id));
            expect(ids({ datasetId: ds, filters: ranges, sort: { column: 'ifd', dir: 'desc' }, offset: 2, limit: 30 }), at).toEqual(byIfd.map((r) => r.id).slice(2, 32));
          }
        }
      }
    } finally {
      rangeProbe.cap = saved;
    }
    expect(countSignalRanges(db, [], null)).toBeNull();
  });
});
