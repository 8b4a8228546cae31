/**
 * "Save as subset" on the Examples screen (issue 20): a `filter` subset holds exactly the rows the table shows for the
 * same filters — column ranges, a text search, Trainable (n_label) counting hand-edited masks — because the engine
 * evaluates it with the table's own query. Real project (SQLite, bundled stories260K, GSM8K rows), through the
 * engine service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import type { ApiInput } from '../../../preload/contract';
import { describeRule } from '../../../renderer/src/features/subsets/rules';
import { TestProject } from '../scoring/helpers';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');

let t: TestProject;
let datasetId = 0;

const call: TestProject['call'] = (name, input) => t.call(name, input);

type Filters = Array<{ column: string; min?: number; max?: number }>;

/** The ids the Examples table shows for these filters (all on one page), ascending. */
async function tableIds(filters: Filters, text?: string): Promise<number[]> {
  const r = await call('examples.query', { datasetId, filters, text, offset: 0, limit: 1000 } as ApiInput<'examples.query'>);
  expect(r.rows).toHaveLength(r.total);
  return r.rows.map((x) => x.id).sort((a, b) => a - b);
}

/** A subset's members, as the table lists them when it shows that subset. */
async function memberIds(subsetId: number): Promise<number[]> {
  const r = await call('examples.query', { datasetId, subsetId, offset: 0, limit: 1000 } as ApiInput<'examples.query'>);
  return r.rows.map((x) => x.id).sort((a, b) => a - b);
}

beforeAll(async () => {
  t = new TestProject('filtered');
  datasetId = await t.importDataset(FIXTURE);
});

afterAll(() => t?.close());

describe('a filter subset is the rows the table shows', () => {
  it('two ranges and a text search: the same rows as the table, described in words, recreated the same', async () => {
    const all = await call('examples.query', { datasetId, offset: 0, limit: 1000 } as ApiInput<'examples.query'>);
    expect(all.total).toBe(50);
    // rows 5..44 and all but the longest renders: each a proper part of the dataset
    const tokens = all.rows.map((r) => r.nTokens!).sort((a, b) => a - b);
    expect(tokens[0]).toBeGreaterThan(0);
    expect(tokens[40]).toBeLessThan(tokens[49]!);
    const filters: Filters = [
      { column: 'row_index', min: 5, max: 44 },
      { column: 'n_tokens', max: tokens[40]! },
    ];

    const expected = await tableIds(filters, 'many');
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(50);
    // each filter narrows: without the text, or without a range, the table shows more rows
    expect((await tableIds(filters)).length).toBeGreaterThan(expected.length);
    expect((await tableIds(filters.slice(0, 1), 'many')).length).toBeGreaterThan(expected.length);

    const s = await call('subsets.create', { name: 'filtered', rule: { kind: 'filter', filters, text: 'many' }, datasetId });
    expect(s.size).toBe(expected.length);
    expect(await memberIds(s.id)).toEqual(expected);
    expect(s.rule).toMatchObject({ kind: 'filter', filters, text: 'many', datasetId });
    expect(describeRule(s.rule)).toBe(`5 ≤ row_index ≤ 44, n_tokens ≤ ${tokens[40]}, text “many” (Examples filter)`);

    const again = await call('subsets.recreate', { subsetId: s.id });
    expect(again.size).toBe(expected.length);
    expect(await memberIds(s.id)).toEqual(expected);
  });

  it('an n_label filter counts hand-edited masks under the render key the table reads', async () => {
    const top = (await call('examples.query', { datasetId, sort: { column: 'n_label', dir: 'desc' }, offset: 0, limit: 1 } as ApiInput<'examples.query'>)).rows[0]!;
    expect(top.nLabel).toBeGreaterThan(1);
    const detail = await call('examples.get', { exampleId: top.id });
    const first = detail.tokens.findIndex((t) => t.label);
    await call('tokenMasks.save', { exampleId: top.id, mask: detail.tokens.map((_, i) => (i === first ? 1 : 0)) });

    const filters: Filters = [{ column: 'n_label', max: 1 }];
    const expected = await tableIds(filters);
    expect(expected).toEqual([top.id]);
    const s = await call('subsets.create', { name: 'one trainable token', rule: { kind: 'filter', filters }, datasetId });
    expect(await memberIds(s.id)).toEqual(expected);
    // the token counts are tied to the render they were counted on
    expect(s.rule).toMatchObject({ kind: 'filter', renderKeyId: expect.any(Number) });
    expect(describeRule(s.rule)).toBe('n_label ≤ 1 (Examples filter)');

    // a range on n_label from below: the edited row is out, as in the table
    const high: Filters = [{ column: 'n_label', min: 2 }];
    const s2 = await call('subsets.create', { name: 'two or more', rule: { kind: 'filter', filters: high }, datasetId });
    expect(await memberIds(s2.id)).toEqual(await tableIds(high));
    expect(s2.size).toBe(49);
  });

  it('within a subset: the rows the table shows for that subset; recreate is refused once the subset is gone', async () => {
    const within = await call('subsets.create', { name: 'first half', rule: { kind: 'filter', filters: [{ column: 'row_index', max: 24 }] }, datasetId });
    expect(within.size).toBe(25);
    const filters: Filters = [{ column: 'n_tokens', min: 1 }];
    const shown = await call('examples.query', { datasetId, subsetId: within.id, filters, text: 'how', offset: 0, limit: 1000 } as ApiInput<'examples.query'>);
    expect(shown.total).toBeGreaterThan(0);
    expect(shown.total).toBeLessThan(25);
    const s = await call('subsets.create', { name: 'how, first half', rule: { kind: 'filter', filters, text: 'how', subsetId: within.id }, datasetId });
    expect(await memberIds(s.id)).toEqual(shown.rows.map((r) => r.id).sort((a, b) => a - b));
    expect(describeRule(s.rule)).toBe('n_tokens ≥ 1, text “how” within “first half” (Examples filter)');
    await call('subsets.delete', { subsetId: within.id });
    const r = await t.service.call('subsets.recreate', { subsetId: s.id });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain(`#${within.id}, which no longer exists`);
  });

  it('refuses an unknown column by name and makes no subset', async () => {
    const before = await call('subsets.list', {});
    const r = await t.service.call('subsets.create', { name: 'bad', rule: { kind: 'filter', filters: [{ column: 'no_such_signal', min: 1 }] }, datasetId });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('bad_input');
      expect(r.error.message).toContain('"no_such_signal"');
    }
    expect(await call('subsets.list', {})).toEqual(before);
  });
});
