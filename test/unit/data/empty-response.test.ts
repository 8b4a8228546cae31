/**
 * Real Alpaca data has rows whose `output` is "" (two in a 5,000-row sample of the release). An empty response is not
 * a malformed line: the row is imported as it is, and rendering lists it with the rows that have no trainable token
 * (an empty reply teaches nothing, not even to stop). A missing response field is still an error naming file, line
 * and field.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { listImportSkips } from '../../../main/engine/db/datasets';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { getRender, listRenderErrors } from '../../../main/engine/db/renders';
import { importDataset } from '../../../main/engine/data/import';
import { renderDataset } from '../../../main/engine/data/renderDataset';
import { renderExample } from '../../../main/engine/data/render';
import type { WinnowTokenizer } from '../../../main/engine/models/types';
import { storiesTokenizer, tempDir } from './helpers';

let tok: WinnowTokenizer;
beforeAll(async () => { tok = await storiesTokenizer(); });
let db: Db | undefined;
let cleanup: (() => void) | undefined;
afterEach(() => { db?.close(); cleanup?.(); db = undefined; cleanup = undefined; });

function project(): string {
  const t = tempDir();
  cleanup = t.cleanup;
  db = openProjectDb(join(t.dir, 'p.winnow'));
  return t.dir;
}

const ALPACA = [
  { instruction: 'Give three tips for staying healthy.', input: '', output: 'Eat well, sleep enough and move every day.' },
  // as in the Alpaca release: an instruction whose output is empty
  { instruction: 'Describe the image you see.', input: '', output: '' },
  { instruction: 'Translate to French.', input: 'Good morning', output: 'Bonjour' },
  { instruction: 'Say nothing.', input: '', output: '   ' },
  { instruction: 'Summarize the text.', input: 'The cat sat on the mat all afternoon.', output: 'A cat rested on a mat.' },
];

describe('an empty response', () => {
  it('is imported without "skip malformed", and listed with the rows that have no trainable token', async () => {
    const dir = project();
    const path = join(dir, 'alpaca.json');
    writeFileSync(path, JSON.stringify(ALPACA, null, 1));
    const r = await importDataset(db!, { path });
    expect(r).toMatchObject({ rows: 5, skipped: 0, errors: [], mapping: { format: 'alpaca' } });
    expect(listImportSkips(db!, r.datasetId)).toEqual([]);
    expect(getExampleByRow(db!, r.datasetId, 1).messages).toEqual([
      { role: 'user', content: 'Describe the image you see.' }, { role: 'assistant', content: '' },
    ]);
    expect((getExampleByRow(db!, r.datasetId, 3).messages as unknown[])[1]).toEqual({ role: 'assistant', content: '   ' });

    const res = await renderDataset(db!, r.datasetId, tok, { labelPolicy: 'assistant' });
    expect(res).toMatchObject({ rendered: 3, errors: 2 });
    expect(listRenderErrors(db!, r.datasetId, res.renderKeyId)).toEqual([
      { rowIndex: 1, reason: 'no trainable tokens (the response is empty)' },
      { rowIndex: 3, reason: 'no trainable tokens (the response is empty)' },
    ]);
    for (const row of [0, 2, 4]) {
      const ex = getExampleByRow(db!, r.datasetId, row);
      expect(getRender(db!, ex.id, res.renderKeyId)!.nLabel, `row ${row}`).toBeGreaterThan(0);
    }
    for (const row of [1, 3]) expect(getRender(db!, getExampleByRow(db!, r.datasetId, row).id, res.renderKeyId), `row ${row}`).toBeNull();
  });

  it('trains nothing of its turn, not even the end-of-turn token, while the other turns still train', () => {
    const chat = [
      { role: 'user', content: 'Hello there.' }, { role: 'assistant', content: 'Hi! How can I help?' },
      { role: 'user', content: 'Nothing, thanks.' }, { role: 'assistant', content: '' },
    ];
    const r = renderExample(tok, chat, { labelPolicy: 'assistant' });
    const trained: string[] = [];
    for (let t = 0; t < r.labelMask.length; t++) if (r.labelMask[t]) trained.push(r.text.slice(r.offsets[2 * t], r.offsets[2 * t + 1]));
    const lastAnswer = r.text.lastIndexOf('Answer:');
    expect(lastAnswer).toBeGreaterThan(0);
    let afterLast = 0;
    for (let t = 0; t < r.labelMask.length; t++) if (r.labelMask[t] && r.offsets[2 * t] >= lastAnswer) afterLast++;
    expect(afterLast).toBe(0);
    expect(trained.join('')).toContain('Hi! How can I help?');
    // under the last-assistant policy the empty last turn leaves the row with nothing to learn
    const last = renderExample(tok, chat, { labelPolicy: 'last_assistant' });
    expect(last.labelMask.every((v) => v === 0)).toBe(true);
  });

  it('is told apart from a missing one, which is still an error naming the file, line and field', async () => {
    const dir = project();
    const path = join(dir, 'qa.jsonl');
    writeFileSync(path, [
      JSON.stringify({ question: 'What is 2 + 2?', answer: '4' }),
      JSON.stringify({ question: 'What is 3 + 3?', answer: '' }),
      JSON.stringify({ question: 'What is 4 + 4?' }),
    ].join('\n') + '\n');
    await expect(importDataset(db!, { path })).rejects.toThrow('qa.jsonl line 3: field "answer" is missing');
    const r = await importDataset(db!, { path, skipMalformed: true });
    expect(r).toMatchObject({ rows: 2, skipped: 1 });
    expect((getExampleByRow(db!, r.datasetId, 1).messages as unknown[])[1]).toEqual({ role: 'assistant', content: '' });
  });
});
