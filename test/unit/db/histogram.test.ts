/**
 * Column histograms: answered from the column's index (signals, token counts, n_chars) or in one SQL pass (with other
 * conditions), both against buckets computed directly in the test from the values; edges that floating point puts
 * on the other side of the arithmetic boundary, NULLs, rows never scored or rendered, constant columns, two datasets.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { createDataset, exampleInserter, setDatasetRowCount } from '../../../main/engine/db/datasets';
import { writeExampleSignals } from '../../../main/engine/db/signals';
import { renderKeyId, renderWriter } from '../../../main/engine/db/renders';
import { columnHistogram, columnHistogramYielding, passChunk, type HistogramQuery } from '../../../main/engine/db/histogram';
import { queryExamples } from '../../../main/engine/data/queryExamples';
import { mulberry32 } from '../../../main/engine/util/random';
import { tempDir } from './helpers';

let db: Db;
/** the render key the renders are stored under */
let KEY = 0;
let cleanup: () => void;
/** per dataset: example ids and their values (null = no value) per column */
const data: Record<number, { ids: number[]; cols: Record<string, Array<number | null>> }> = {};

beforeEach(() => {
  const t = tempDir();
  db = openProjectDb(join(t.dir, 'p.winnow'));
  cleanup = () => { db.close(); t.cleanup(); };
  const rnd = mulberry32(7);
  for (const [name, n] of [['a', 3000], ['b', 700]] as const) {
    const ds = createDataset(db, { name, sourcePath: `${name}.jsonl`, format: 'jsonl:text', mapping: { format: 'text', field: 'text' }, hash: 'h' });
    const ins = exampleInserter(db, ds, { fts: false });
    const ids: number[] = [];
    const nChars: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = 20 + Math.floor(rnd() * 400);
      nChars.push(c);
      ids.push(ins({ rowIndex: i, rawJson: JSON.stringify({ text: 'x' }), messagesJson: '', textPreview: '', normHash: '', nChars: c }));
    }
    setDatasetRowCount(db, ds, n);
    // loss: reals with a tenth missing; third: multiples of 1/3 (edges fall between rounding neighbours); flat: constant
    const loss = ids.map((_, i) => (i % 10 === 3 ? null : 3 * rnd()));
    const third = ids.map(() => Math.floor(rnd() * 31) / 3);
    const flat = ids.map(() => 2.5);
    // a fifth of the rows are never scored at all (no example_signals row)
    const scored = ids.map((id, i) => [id, loss[i], third[i], flat[i]]).filter((_, i) => i % 5 !== 1);
    writeExampleSignals(db, null, ['loss', 'third', 'flat'], scored);
    const notScored = (i: number) => i % 5 === 1;
    const nTokens = ids.map((_, i) => (i % 7 === 0 ? null : 1 + Math.floor(rnd() * 600)));
    const w = renderWriter(db);
  KEY = renderKeyId(db, { tokenizerId: 'tok', templateHash: 'tpl', labelPolicy: 'assistant', maxTokens: null, renderer: 2 });
    ids.forEach((id, i) => {
      const nt = nTokens[i];
      if (nt === null) return;
      w({ exampleId: id, renderKeyId: KEY, tokenIds: new Int32Array(0), offsets: new Int32Array(0), roles: new Uint8Array(0), labelMask: new Uint8Array(0),
        nTokens: nt, nLabel: Math.floor(nt / 2), truncated: false });
    });
    data[ds] = {
      ids,
      cols: {
        loss: loss.map((v, i) => (notScored(i) ? null : v)), third: third.map((v, i) => (notScored(i) ? null : v)),
        flat: flat.map((v, i) => (notScored(i) ? null : v)), n_tokens: nTokens, n_chars: nChars,
      },
    };
  }
});
afterEach(() => cleanup());

/** The histogram computed here from the values, with SQL's arithmetic (left to right, truncation). */
function direct(values: Array<number | null>, bins: number) {
  const v = values.filter((x): x is number => x !== null);
  const counts = new Array<number>(bins).fill(0);
  if (v.length === 0) return { min: null, max: null, counts, total: 0, nulls: values.length };
  const min = Math.min(...v);
  const max = Math.max(...v);
  for (const x of v) counts[max === min ? 0 : Math.min(Math.trunc(((x - min) / (max - min)) * bins), bins - 1)]++;
  return { min, max, counts, total: v.length, nulls: values.length - v.length };
}

const datasets = () => Object.keys(data).map(Number);

describe('column histograms', () => {
  it('from the index: each dataset and all of them, every indexed kind of column, several bin counts', () => {
    for (const column of ['loss', 'third', 'flat', 'n_tokens', 'n_chars']) {
      for (const bins of [1, 7, 30, 31]) {
        for (const datasetId of [...datasets(), undefined]) {
          const values = datasetId === undefined ? datasets().flatMap((d) => data[d].cols[column]) : data[datasetId].cols[column];
          const q: HistogramQuery = { datasetId, column, bins, renderKeyId: KEY };
          expect(columnHistogram(db, q), `${column} bins ${bins} dataset ${datasetId}`).toEqual(direct(values, bins));
        }
      }
    }
  });

  it('as the service runs it, lets a page query in between its statements, with the same answer', async () => {
    const [a] = datasets();
    const order: string[] = [];
    const q = { datasetId: a, column: 'loss', bins: 30 };
    const h = columnHistogramYielding(db, q).then((r) => { order.push('histogram'); return r; });
    setImmediate(() => { queryExamples(db, { datasetId: a, sort: { column: 'loss', dir: 'desc' }, offset: 0, limit: 10 }); order.push('page'); });
    expect(await h).toEqual(columnHistogram(db, q));
    expect(order).toEqual(['page', 'histogram']);
  });

  it('in one pass with other conditions: a filter on another column, a subset', () => {
    const [a] = datasets();
    const { ids, cols } = data[a];
    const keep = ids.map((_, i) => cols.third[i] !== null && cols.third[i]! <= 4);
    expect(columnHistogram(db, { datasetId: a, column: 'loss', bins: 12, filters: [{ column: 'third', max: 4 }] }))
      .toEqual(direct(cols.loss.filter((_, i) => keep[i]), 12));
    const sub = Number(db.prepare("INSERT INTO subsets (name, rule_json, size, created_at) VALUES ('s', '{}', 0, 't')").run().lastInsertRowid);
    const members = ids.filter((_, i) => i % 3 === 0);
    const add = db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (?, ?)');
    for (const id of members) add.run(sub, id);
    expect(columnHistogram(db, { datasetId: a, subsetId: sub, column: 'n_tokens', bins: 9, renderKeyId: KEY }))
      .toEqual(direct(cols.n_tokens.filter((_, i) => i % 3 === 0), 9));
  });

  it('with filters, in chunks of ids: the same answers whatever the chunk size, and a page query gets in between chunks', async () => {
    const [a, b] = datasets();
    const all = [a!, b!];
    const keepIf = (d: number, i: number, col: string, lo: number, hi: number) => {
      const v = data[d].cols[col][i];
      return v !== null && v >= lo && v <= hi;
    };
    const cases: Array<[string, HistogramQuery, Array<number | null>]> = [
      // signal column, signal filter: example_signals alone
      ['loss | third in [1,4]', { datasetId: a, column: 'loss', bins: 11, filters: [{ column: 'third', min: 1, max: 4 }] },
        data[a!].cols.loss.filter((_, i) => keepIf(a!, i, 'third', 1, 4))],
      // the whole project, two filters
      ['third | loss in [0.5,2], flat ≥ 2 (all datasets)', { column: 'third', bins: 9, filters: [{ column: 'loss', min: 0.5, max: 2 }, { column: 'flat', min: 2 }] },
        all.flatMap((d) => data[d].cols.third.filter((_, i) => keepIf(d, i, 'loss', 0.5, 2) && keepIf(d, i, 'flat', 2, Infinity)))],
      // a token count under a signal filter: examples joined with renders
      ['n_tokens | loss ≤ 1.5', { datasetId: b, column: 'n_tokens', bins: 13, renderKeyId: KEY, filters: [{ column: 'loss', max: 1.5 }] },
        data[b!].cols.n_tokens.filter((_, i) => keepIf(b!, i, 'loss', -Infinity, 1.5))],
      // a signal under a token-count filter
      ['loss | n_tokens in [100,300]', { datasetId: a, column: 'loss', bins: 8, renderKeyId: KEY, filters: [{ column: 'n_tokens', min: 100, max: 300 }] },
        data[a!].cols.loss.filter((_, i) => keepIf(a!, i, 'n_tokens', 100, 300))],
    ];
    const saved = passChunk.ids;
    try {
      for (const [label, q, values] of cases) {
        const want = direct(values, q.bins);
        for (const ids of [1 << 20, 97, 1000]) {
          passChunk.ids = ids;
          expect(columnHistogram(db, q), `${label}, chunks of ${ids}`).toEqual(want);
        }
      }
      // a subset with a filter (chunked subset membership)
      const sub = Number(db.prepare("INSERT INTO subsets (name, rule_json, size, created_at) VALUES ('s', '{}', 0, 't')").run().lastInsertRowid);
      const add = db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (?, ?)');
      data[a!].ids.forEach((id, i) => i % 4 === 0 && add.run(sub, id));
      passChunk.ids = 97;
      expect(columnHistogram(db, { datasetId: a, subsetId: sub, column: 'loss', bins: 10, filters: [{ column: 'third', max: 5 }] }))
        .toEqual(direct(data[a!].cols.loss.filter((_, i) => i % 4 === 0 && keepIf(a!, i, 'third', -Infinity, 5)), 10));

      // the service's version yields between chunks: a page asked for meanwhile is answered before the histogram
      passChunk.ids = 500;
      const order: string[] = [];
      const q = cases[0]![1];
      const h = columnHistogramYielding(db, q).then((r) => { order.push('histogram'); return r; });
      setImmediate(() => { queryExamples(db, { datasetId: a, filters: [{ column: 'third', min: 1, max: 4 }], offset: 0, limit: 10 }); order.push('page'); });
      expect(await h).toEqual(direct(cases[0]![2], q.bins));
      expect(order).toEqual(['page', 'histogram']);
    } finally {
      passChunk.ids = saved;
    }
  });
});
