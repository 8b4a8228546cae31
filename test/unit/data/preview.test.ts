import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { previewImport } from '../../../main/engine/data/preview';
import type { WinnowTokenizer } from '../../../main/engine/models/types';
import { fixture, storiesTokenizer, tempDir } from './helpers';

let tok: WinnowTokenizer;
beforeAll(async () => { tok = await storiesTokenizer(); });

describe('previewImport', () => {
  it('shows the first 20 GSM8K rows as messages and as the demo model will see them', async () => {
    const p = await previewImport(fixture('gsm8k-50.jsonl'), {}, tok);
    expect(p).toMatchObject({ fileFormat: 'jsonl', format: 'question_answer', confidence: 1, mapping: { format: 'question_answer' } });
    expect(p.fields).toEqual(['question', 'answer']);
    expect(p.rows).toHaveLength(20);
    expect(p.rows[0].line).toBe(1);
    expect(p.rows[0].messages![0]).toEqual({ role: 'user', content: expect.stringMatching(/^Natalia sold clips/) });
    expect(p.rows[0].rendered).toBe(tok.applyChatTemplate(p.rows[0].messages!));
    expect(p.rows[0].rendered).toMatch(/^<s>Question: Natalia/);
    expect(p.rows[0].nTokens).toBeGreaterThan(p.rows[0].nLabel!);
    expect(p.rows[0].nLabel).toBeGreaterThan(0);
  });

  it('says which part of each row is trained on: the answer, as character ranges of the rendered text', async () => {
    const p = await previewImport(fixture('gsm8k-50.jsonl'), {}, tok);
    for (const row of p.rows.slice(0, 5)) {
      const trained = row.trained!;
      expect(trained.length).toBeGreaterThan(0);
      // in order, not touching, inside the text
      trained.forEach(([a, b], i) => {
        expect(b).toBeGreaterThan(a);
        if (i > 0) expect(a).toBeGreaterThan(trained[i - 1]![1]);
      });
      expect(trained[trained.length - 1]![1]).toBeLessThanOrEqual(row.rendered!.length);
      const text = trained.map(([a, b]) => row.rendered!.slice(a, b)).join('');
      // the answer's words are trained on; the question's are not
      const answer = (row.messages![1]!.content as string).replace(/\s+/g, '');
      const question = (row.messages![0]!.content as string).slice(0, 30);
      expect(text.replace(/\s+/g, '')).toContain(answer.slice(0, 40));
      expect(text).not.toContain(question);
    }
  });

  it('marks the rows a mapping cannot take, and scores the mapping by the rows it accepts', async () => {
    const p = await previewImport(fixture('malformed.jsonl'));
    expect(p.rows.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(p.rows[2].error).toMatch(/invalid JSON/);
    expect(p.rows[4].error).toBe('malformed.jsonl line 5: field "answer" is missing');
    expect(p.confidence).toBeCloseTo(4 / 6);
    expect(p.rows[0].rendered).toBeUndefined(); // no tokenizer, no rendering
  });

  it('applies a mapping given by the user, and previews plain text and Parquet chats', async () => {
    const t = tempDir();
    try {
      const f = join(t.dir, 'custom.csv');
      writeFileSync(f, 'q,a,id\nWhy?,Because.,1\nHow?,,2\n,Blank.,3\n');
      const p = await previewImport(f, { mapping: { format: 'prompt_completion', prompt: 'q', completion: 'a' } }, tok);
      expect(p.fields).toEqual(['q', 'a', 'id']);
      expect(p.rows[0].messages).toEqual([{ role: 'user', content: 'Why?' }, { role: 'assistant', content: 'Because.' }]);
      // an empty response is a row that teaches nothing, not a malformed one; an empty prompt is malformed
      expect(p.rows[1].error).toBeUndefined();
      expect(p.rows[1].messages).toEqual([{ role: 'user', content: 'How?' }, { role: 'assistant', content: '' }]);
      expect(p.rows[1].nLabel).toBe(0);
      expect(p.rows[2].error).toBe('custom.csv line 4: field "q" is empty');
      expect(p.confidence).toBeCloseTo(2 / 3);
    } finally { t.cleanup(); }
    const txt = await previewImport(fixture('stories.txt'), {}, tok);
    expect(txt.format).toBe('text');
    expect(txt.rows[0].text).toBeTruthy();
    expect(txt.rows[0].rendered).toBe(txt.rows[0].text);
    const pq = await previewImport(fixture('chat.parquet'), { rows: 2 }, tok);
    expect(pq).toMatchObject({ fileFormat: 'parquet', format: 'messages' });
    expect(pq.rows).toHaveLength(2);
    expect(pq.rows[1].rendered).toBe('<s>Be brief.\nQuestion: 2+2?\nAnswer: 4</s>\n');
  });
});
