/**
 * Trainable tokens with hand-edited masks (issue 20): a row whose edited mask trains on fewer tokens than its template
 * sorts, filters and is counted in the Trainable histogram by the edited count, as training will count it. Real
 * project (SQLite, bundled stories260K, GSM8K rows), through the engine service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import type { ApiInput } from '../../../preload/contract';
import { TestProject } from '../scoring/helpers';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');

let t: TestProject;
let datasetId = 0;

const call: TestProject['call'] = (name, input) => t.call(name, input);

const page = (extra: Partial<ApiInput<'examples.query'>> = {}) =>
  call('examples.query', { datasetId, offset: 0, limit: 100, ...extra } as ApiInput<'examples.query'>);

beforeAll(async () => {
  t = new TestProject('edited');
  datasetId = await t.importDataset(FIXTURE);
});

afterAll(() => t?.close());

describe('Trainable counts hand-edited masks', () => {
  it('sorts, filters and buckets an edited row by its edited count; other rows keep the template count', async () => {
    const before = await page({ sort: { column: 'n_label', dir: 'desc' } });
    expect(before.total).toBe(50);
    const top = before.rows[0]!;
    const second = before.rows[1]!;
    expect(top.nLabel).toBeGreaterThan(2);
    const minBefore = Math.min(...before.rows.map((r) => r.nLabel ?? Infinity));
    expect(minBefore).toBeGreaterThan(1);
    // edit the row with the most trainable tokens down to one token
    const detail = await call('examples.get', { exampleId: top.id });
    const first = detail.tokens.findIndex((t) => t.label);
    const mask = detail.tokens.map((_, i) => (i === first ? 1 : 0));
    await call('tokenMasks.save', { exampleId: top.id, mask });

    const desc = await page({ sort: { column: 'n_label', dir: 'desc' } });
    expect(desc.rows[0]!.id).toBe(second.id);
    expect(desc.rows.at(-1)!.id).toBe(top.id);
    expect(desc.rows.at(-1)).toMatchObject({ nLabel: 1, edited: true });
    const asc = await page({ sort: { column: 'n_label', dir: 'asc' } });
    expect(asc.rows[0]).toMatchObject({ id: top.id, nLabel: 1, edited: true });
    // the values come in order, edited or not
    const values = asc.rows.map((r) => r.nLabel!);
    expect(values).toEqual([...values].sort((a, b) => a - b));

    // filters: "Trainable ≤ 1" finds the edited row; "≥ its template count" no longer does
    const low = await page({ filters: [{ column: 'n_label', max: 1 }] });
    expect(low.total).toBe(1);
    expect(low.rows.map((r) => r.id)).toEqual([top.id]);
    const high = await page({ filters: [{ column: 'n_label', min: top.nLabel! }] });
    expect(high.rows.map((r) => r.id)).not.toContain(top.id);
    // paging through a sorted, filtered scope: the pages add up to the total, each row once
    const pages = [0, 7, 14, 21, 28, 35, 42, 49].map((offset) => page({ sort: { column: 'n_label', dir: 'asc' }, filters: [{ column: 'n_label', max: 10_000 }], offset, limit: 7 }));
    const seen = (await Promise.all(pages)).flatMap((p) => p.rows.map((r) => r.id));
    expect(new Set(seen).size).toBe(50);

    // a row without a render of this tokenizer (as after a render error) has no count: sorted after the others
    const unrendered = before.rows[5]!.id;
    t.db.prepare('DELETE FROM renders WHERE example_id = ?').run(unrendered);
    for (const dir of ['asc', 'desc'] as const) {
      const all = await page({ sort: { column: 'n_label', dir } });
      expect(all.total).toBe(50);
      expect(all.rows.at(-1)).toMatchObject({ id: unrendered, nLabel: null });
      const paged = (await Promise.all([0, 20, 40].map((offset) => page({ sort: { column: 'n_label', dir }, offset, limit: 20 })))).flatMap((p) => p.rows.map((r) => r.id));
      expect(paged).toEqual(all.rows.map((r) => r.id));
    }

    // the histogram of Trainable starts at the edited count
    const h = await call('examples.histogram', { datasetId, column: 'n_label', bins: 5 });
    expect(h.min).toBe(1);
    expect(h.max).toBe(second.nLabel);
    expect(h.total).toBe(49);
    expect(h.nulls).toBe(1);
    expect(h.counts[0]).toBeGreaterThanOrEqual(1);
  });
});
