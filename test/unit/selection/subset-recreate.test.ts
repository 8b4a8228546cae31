/**
 * subsets.recreate: a subset made stale by a re-map is made again from its stored rule, in its place (same id and
 * name, not stale, the rows the rule picks now); a rule whose column lost its values says which column and that the
 * dataset needs scoring again, and leaves the old subset as it was; hand-picked rows cannot be recreated. A token-count
 * filter reads the renders its rule recorded, and names them when a re-map deleted them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestProject, STORIES, gsm8kRows } from '../scoring/helpers';
import { mulberry32 } from '../../../main/engine/util/random';

let t: TestProject;
let datasetId: number;
let modelId: number;

beforeAll(async () => {
  t = new TestProject('recreate');
  datasetId = await t.importDataset(gsm8kRows(t.home, 6));
  modelId = await t.addModel(STORIES);
  await t.score({ modelId, datasetId, signals: ['mean_loss'] });
}, 120_000);
afterAll(() => t?.close());

const members = (subsetId: number): number[] =>
  t.db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(subsetId) as number[];

/** The k rows with the highest mean_loss, read straight from the table (ties by id). */
function topByLoss(k: number): number[] {
  const rows = t.db.prepare('SELECT s.example_id AS id, s.mean_loss AS v FROM example_signals s JOIN examples e ON e.id = s.example_id WHERE e.dataset_id = ?')
    .all(datasetId) as Array<{ id: number; v: number | null }>;
  return rows.filter((r) => r.v !== null).sort((a, b) => b.v! - a.v! || a.id - b.id).slice(0, k).map((r) => r.id).sort((a, b) => a - b);
}

describe('subsets.recreate', () => {
  it('runs the stored rule again after a re-map; a column without values is a clear error that keeps the old subset', async () => {
    const hard = await t.call('subsets.create', { name: 'hard-4', rule: { kind: 'top', signal: 'mean_loss', count: 4 }, datasetId });
    const sample = await t.call('subsets.create', { name: 'sample-5', rule: { kind: 'random', count: 5, seed: 7 }, datasetId });
    const allIds = t.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
    const picked = await t.call('subsets.create', { name: 'lasso', rule: { kind: 'ids', ids: allIds.slice(0, 3), source: 'lasso' }, datasetId });
    expect(members(hard.id)).toEqual(topByLoss(4));

    // re-map: question and answer swapped, so the scores are deleted and every subset is stale
    const r = await t.call('datasets.remap', { datasetId, mapping: { format: 'prompt_completion', prompt: 'answer', completion: 'question' } });
    await t.finished(r.jobId);
    const stale = await t.call('subsets.list', {});
    expect(stale.map((s) => [s.name, s.staleReason !== null])).toEqual([['hard-4', true], ['sample-5', true], ['lasso', true]]);

    // the top rule reads mean_loss, which has no values now: the error names it and what to do; nothing changed
    const before = members(hard.id);
    const failed = await t.service.call('subsets.recreate', { subsetId: hard.id });
    expect(failed.ok).toBe(false);
    if (!failed.ok) expect(failed.error.message).toMatch(/reads column "mean_loss", which has no values in dataset "gsm8k-6.jsonl".*score the dataset with mean_loss again/);
    const kept = (await t.call('subsets.list', {})).find((s) => s.id === hard.id)!;
    expect(kept).toMatchObject({ name: 'hard-4', size: 4 });
    expect(kept.staleReason).not.toBeNull();
    expect(members(hard.id)).toEqual(before);

    // a random rule needs no scores: recreated in place, same id and name, not stale, the rule's rows
    const again = await t.call('subsets.recreate', { subsetId: sample.id });
    expect(again).toMatchObject({ id: sample.id, name: 'sample-5', size: 5, staleReason: null });
    // the seeded shuffle written out independently: Fisher–Yates over the dataset's ids with mulberry32(seed)
    const shuffled = [...allIds];
    const rand = mulberry32(7);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    expect(members(sample.id)).toEqual(shuffled.slice(0, 5).sort((a, b) => a - b));

    // scored again: the top rule picks on the new scores (different texts → different losses)
    await t.score({ modelId, datasetId, signals: ['mean_loss'] });
    const redone = await t.call('subsets.recreate', { subsetId: hard.id });
    expect(redone).toMatchObject({ id: hard.id, name: 'hard-4', size: 4, staleReason: null });
    expect(redone.rule).toMatchObject({ kind: 'top', signal: 'mean_loss', count: 4, datasetId });
    expect(members(hard.id)).toEqual(topByLoss(4));

    // hand-picked rows: refused, kept stale
    const lasso = await t.service.call('subsets.recreate', { subsetId: picked.id });
    expect(lasso.ok).toBe(false);
    if (!lasso.ok) expect(lasso.error.message).toMatch(/"lasso" is hand-picked rows \(lasso\): there is no rule to run again/);
    expect((await t.call('subsets.list', {})).find((s) => s.id === picked.id)!.staleReason).not.toBeNull();

    // a set operation whose sources are gone: refused, naming them
    const both = await t.call('subsets.combine', { name: 'both', op: 'union', subsetIds: [hard.id, sample.id] });
    await t.call('subsets.delete', { subsetId: sample.id });
    const orphan = await t.service.call('subsets.recreate', { subsetId: both.id });
    expect(orphan.ok).toBe(false);
    if (!orphan.ok) expect(orphan.error.message).toContain(`made from subset #${sample.id}, which no longer exists`);
  }, 180_000);

  it('a token-count filter recreates on the renders a re-map made again, and names the renders it had when they are gone', async () => {
    // scoring at 400 tokens renders under a second key; the re-map below renders again only with the default one
    const run = await t.score({ modelId, datasetId, signals: ['mean_loss'], maxTokens: 400 });
    const shortKey = t.db.prepare('SELECT render_key_id FROM score_runs WHERE id = ?').pluck().get(run) as number;
    const countedOn = (key: number) => t.db.prepare('SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ? AND r.render_key_id = ? AND r.n_tokens >= 150 ORDER BY r.example_id')
      .pluck().all(datasetId, key) as number[];
    const filters = [{ column: 'n_tokens', min: 150 }];
    const short = await t.call('subsets.create', { name: 'long at 400', rule: { kind: 'filter', filters, renderKeyId: shortKey }, datasetId });
    const plain = await t.call('subsets.create', { name: 'long', rule: { kind: 'filter', filters }, datasetId });
    expect(short.size).toBeGreaterThan(0);
    expect(members(short.id)).toEqual(countedOn(shortKey));
    const defaultKey = (plain.rule as { renderKeyId: number }).renderKeyId;
    expect(defaultKey).not.toBe(shortKey);
    expect(members(plain.id)).toEqual(countedOn(defaultKey));

    const r = await t.call('datasets.remap', { datasetId, mapping: { format: 'prompt_completion', prompt: 'question', completion: 'answer' } });
    await t.finished(r.jobId);
    expect(countedOn(shortKey)).toEqual([]);

    // the default key's renders were made again: recreated on them
    const again = await t.call('subsets.recreate', { subsetId: plain.id });
    expect(again).toMatchObject({ id: plain.id, staleReason: null });
    expect(members(plain.id)).toEqual(countedOn(defaultKey));

    // the 400-token renders are gone: an error naming the column and the renders, the old subset kept
    const before = members(short.id);
    const failed = await t.service.call('subsets.recreate', { subsetId: short.id });
    expect(failed.ok).toBe(false);
    if (!failed.ok) {
      expect(failed.error.code).toBe('not_found');
      expect(failed.error.message).toMatch(/reads column "n_tokens", counted on the renders \(tokenizer .*, max 400 tokens, labels: assistant\) of dataset "gsm8k-6.jsonl", and no row has them now/);
    }
    expect(members(short.id)).toEqual(before);
    expect((await t.call('subsets.list', {})).find((s) => s.id === short.id)!.staleReason).not.toBeNull();
  }, 180_000);
});
