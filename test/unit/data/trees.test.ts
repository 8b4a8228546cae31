/**
 * OpenAssistant conversation trees as they ship: oasst1/oasst2's message table (Parquet, one message per row, the
 * release's columns and types: nullable parent_id and rank, review_count, deleted, synthetic, lang) and the nested
 * tree export (`*.trees.jsonl`: message_tree_id, tree_state, prompt with replies). Each policy and filter gives exact
 * conversations; the preview counts what each policy makes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { Db } from '../../../main/engine/db/open';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { importDataset } from '../../../main/engine/data/import';
import { previewImport } from '../../../main/engine/data/preview';
import { renderExample } from '../../../main/engine/data/render';
import type { Mapping } from '../../../main/engine/data/formats';
import type { WinnowTokenizer } from '../../../main/engine/models/types';
import { projectPerTest, storiesTokenizer } from './helpers';

let tok: WinnowTokenizer;
beforeAll(async () => {
  tok = await storiesTokenizer();
});
let db: Db;
let dir: string;
const newProject = projectPerTest('winnow-trees-');
function setup() {
  ({ db, dir } = newProject());
}

interface M { id: string; parent: string | null; role: 'prompter' | 'assistant'; text: string; rank: number | null; lang: string; tree: string; deleted?: boolean; synthetic?: boolean; reviews?: number }
// tree A (en): p1 → a1 (rank 1, a leaf), a2 (rank 0) → p2 → a4 (rank 0), a5 (rank 1, synthetic); a3 deleted
// tree B (de): q1 (one review) → b1
const MESSAGES: M[] = [
  { id: 'p1', parent: null, role: 'prompter', text: 'What is a monad?', rank: null, lang: 'en', tree: 'p1' },
  { id: 'a1', parent: 'p1', role: 'assistant', text: 'A design pattern.', rank: 1, lang: 'en', tree: 'p1' },
  { id: 'a2', parent: 'p1', role: 'assistant', text: 'A monoid in the category of endofunctors.', rank: 0, lang: 'en', tree: 'p1' },
  { id: 'a3', parent: 'p1', role: 'assistant', text: 'spam', rank: null, lang: 'en', tree: 'p1', deleted: true },
  { id: 'p2', parent: 'a2', role: 'prompter', text: 'Simpler, please.', rank: 0, lang: 'en', tree: 'p1' },
  { id: 'a4', parent: 'p2', role: 'assistant', text: 'A way to chain steps.', rank: 0, lang: 'en', tree: 'p1' },
  { id: 'a5', parent: 'p2', role: 'assistant', text: 'A burrito.', rank: 1, lang: 'en', tree: 'p1', synthetic: true },
  { id: 'q1', parent: null, role: 'prompter', text: 'Was ist ein Monad?', rank: null, lang: 'de', tree: 'q1', reviews: 1 },
  { id: 'b1', parent: 'q1', role: 'assistant', text: 'Ein Entwurfsmuster.', rank: 0, lang: 'de', tree: 'q1' },
];

/** oasst1's train-*.parquet columns */
function messageParquet(msgs: M[]): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: [
      { name: 'message_id', data: msgs.map((m) => m.id), type: 'STRING' },
      { name: 'parent_id', data: msgs.map((m) => m.parent), type: 'STRING', nullable: true },
      { name: 'user_id', data: msgs.map((_, i) => `user-${i % 3}`), type: 'STRING' },
      { name: 'created_date', data: msgs.map(() => '2023-02-05T14:23:50.983374+00:00'), type: 'STRING' },
      { name: 'text', data: msgs.map((m) => m.text), type: 'STRING' },
      { name: 'role', data: msgs.map((m) => m.role), type: 'STRING' },
      { name: 'lang', data: msgs.map((m) => m.lang), type: 'STRING' },
      { name: 'review_count', data: msgs.map((m) => m.reviews ?? 3), type: 'INT32' },
      { name: 'review_result', data: msgs.map(() => true), type: 'BOOLEAN', nullable: true },
      { name: 'deleted', data: msgs.map((m) => m.deleted ?? false), type: 'BOOLEAN' },
      { name: 'rank', data: msgs.map((m) => m.rank), type: 'INT32', nullable: true },
      { name: 'synthetic', data: msgs.map((m) => m.synthetic ?? false), type: 'BOOLEAN' },
      { name: 'model_name', data: msgs.map(() => null), type: 'STRING', nullable: true },
      { name: 'message_tree_id', data: msgs.map((m) => m.tree), type: 'STRING' },
      { name: 'tree_state', data: msgs.map(() => 'ready_for_export'), type: 'STRING' },
    ],
  });
}

/** oasst's *.trees.jsonl: one tree per line, each message with its replies */
function nestedExport(msgs: M[]): string {
  const node = (m: M): unknown => ({
    message_id: m.id, user_id: 'u', created_date: '2023-02-05T14:23:50.983374+00:00', text: m.text, role: m.role, lang: m.lang,
    review_count: m.reviews ?? 3, review_result: true, deleted: m.deleted ?? false, ...(m.rank !== null ? { rank: m.rank } : {}), synthetic: m.synthetic ?? false,
    emojis: { '+1': 2 }, replies: msgs.filter((c) => c.parent === m.id).map(node),
  });
  return msgs.filter((m) => m.parent === null).map((root) => JSON.stringify({ message_tree_id: root.id, tree_state: 'ready_for_export', prompt: node(root), origin: null })).join('\n') + '\n';
}

const texts = (msgs: unknown) => (msgs as Array<{ content: string }>).map((m) => m.content);
const TOP1_A = ['What is a monad?', 'A monoid in the category of endofunctors.', 'Simpler, please.', 'A way to chain steps.'];

describe.each([
  ['oasst1 message table (Parquet, one message per row)', 'oasst1-train.parquet', () => Buffer.from(messageParquet(MESSAGES))],
  ['nested tree export (JSONL, prompt with replies)', '2023-04-12_oasst_ready.trees.jsonl', () => nestedExport(MESSAGES)],
])('%s', (_, name, body) => {
  const file = () => {
    const p = join(dir, name);
    writeFileSync(p, body());
    return p;
  };
  const imp = async (mapping?: Mapping) => {
    const r = await importDataset(db, { path: file(), ...(mapping ? { mapping } : {}) });
    return { ...r, convs: Array.from({ length: r.rows }, (_, i) => texts(getExampleByRow(db, r.datasetId, i).messages)) };
  };
  const tree = (t: NonNullable<Mapping['tree']>): Mapping => ({ format: 'messages', field: 'messages', tree: t });

  it('detected and imported as the best-ranked path of each tree (top1), deleted and synthetic messages left out', async () => {
    setup();
    const r = await imp();
    expect(r.mapping).toEqual(tree({ policy: 'top1' }));
    expect(r.convs).toEqual([TOP1_A, ['Was ist ein Monad?', 'Ein Entwurfsmuster.']]);
    const rendered = renderExample(tok, getExampleByRow(db, r.datasetId, 0).messages as never, { labelPolicy: 'assistant' });
    expect(rendered.text).toContain('Question: What is a monad?\nAnswer: A monoid in the category of endofunctors.');
  });

  it('every path to a leaf, and the filters: synthetic, deleted, language, minimum reviews', async () => {
    setup();
    expect((await imp(tree({ policy: 'all_paths' }))).convs).toEqual([
      ['What is a monad?', 'A design pattern.'], TOP1_A, ['Was ist ein Monad?', 'Ein Entwurfsmuster.'],
    ]);
    expect((await imp(tree({ policy: 'all_paths', synthetic: true }))).convs).toContainEqual([...TOP1_A.slice(0, 3), 'A burrito.']);
    expect((await imp(tree({ policy: 'all_paths', synthetic: true, deleted: true }))).rows).toBe(5);
    expect((await imp(tree({ policy: 'top1', lang: ['de'] }))).convs).toEqual([['Was ist ein Monad?', 'Ein Entwurfsmuster.']]);
    expect((await imp(tree({ policy: 'top1', minReviews: 2 }))).convs).toEqual([TOP1_A]);
  });

  it('the preview shows the top-1 conversations and how many each policy gives', async () => {
    setup();
    const pv = await previewImport(file(), {}, tok);
    expect(pv.trees).toEqual({ trees: 2, messages: 9, top1: 2, allPaths: 3, complete: true });
    expect(pv.rows).toHaveLength(2);
    expect(pv.certainty).toBe('high');
    const en = await previewImport(file(), { mapping: tree({ policy: 'all_paths', lang: ['en'] }) }, tok);
    expect(en.trees).toMatchObject({ top1: 1, allPaths: 2 });
    expect(en.rows).toHaveLength(2);
  });

  it('an exported subset of the conversations imports again as the same rows', async () => {
    setup();
    const r = await imp(tree({ policy: 'all_paths' }));
    const stored = Array.from({ length: r.rows }, (_, i) => getExampleByRow(db, r.datasetId, i).raw);
    const p = join(dir, 'subset.jsonl');
    writeFileSync(p, stored.map((s) => JSON.stringify(s)).join('\n') + '\n');
    for (const mapping of [undefined, r.mapping]) {
      const again = await importDataset(db, { path: p, ...(mapping ? { mapping } : {}) });
      expect(Array.from({ length: again.rows }, (_, i) => texts(getExampleByRow(db, again.datasetId, i).messages))).toEqual(r.convs);
    }
  });
});
