/**
 * Character spans of the token mask on the real stories260K tokenizer: ranges count Unicode code points (so an emoji
 * is one character, as in Python), cover exactly the content characters of label tokens, and re-applying them to the
 * same tokenization gives back the label mask on content tokens.
 */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';
import { renderExample } from '../../../main/engine/data/render';
import { contentSpans, trainedCharSpans } from '../../../main/engine/export/char-spans';
import { renderChatTemplate } from '../../../main/engine/data/chatShapes';
import type { ChatMessage } from '../../../main/engine/models/types';

const MODEL = resolve(__dirname, '../../../resources/models/stories260K');

describe('trainedCharSpans', () => {
  it('code-point ranges over each message, equal to the label tokens\' characters', async () => {
    const tok = await loadTokenizer(MODEL);
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is 2+2? 😀' },
      { role: 'assistant', content: 'It is 4 😀😀, friend.' },
      { role: 'user', content: 'And 3+3?' },
      { role: 'assistant', content: 'Six.' },
    ];
    for (const policy of ['assistant', 'last_assistant', 'all'] as const) {
      const r = renderExample(tok, messages, { labelPolicy: policy });
      const spans = trainedCharSpans(tok, messages, r.offsets, r.labelMask)!;
      expect(spans.map((s) => s.role)).toEqual(messages.map((m) => m.role));
      const text = renderChatTemplate(tok, messages);
      const where = contentSpans(tok, messages, text)!;
      messages.forEach((m, i) => {
        const cps = Array.from(m.content);
        // expected, from the tokens: a code point is trained when a label token covers one of its UTF-16 units
        const want = new Array<boolean>(cps.length).fill(false);
        let u = where[i]!.contentStart;
        cps.forEach((cp, k) => {
          for (let t = 0; t < r.labelMask.length; t++) {
            if (r.labelMask[t] && r.offsets[2 * t]! < u + cp.length && r.offsets[2 * t + 1]! > u) want[k] = true;
          }
          u += cp.length;
        });
        const got = new Array<boolean>(cps.length).fill(false);
        for (const [a, b] of spans[i]!.trained) for (let k = a; k < b; k++) got[k] = true;
        expect(got, `${policy} message ${i}`).toEqual(want);
        for (const [, b] of spans[i]!.trained) expect(b).toBeLessThanOrEqual(cps.length);
      });
      if (policy === 'assistant') {
        expect(spans[2]!.trained).toEqual([[0, Array.from(messages[2]!.content).length]]);
        expect(spans[1]!.trained).toEqual([]);
        expect(spans[4]!.turn_end_trained).toBe(true);
      }
      if (policy === 'last_assistant') expect(spans[2]!.trained).toEqual([]);
    }
  });

  it('a text record is one "text" message over the whole text', async () => {
    const tok = await loadTokenizer(MODEL);
    const rec = { text: 'Once upon a time 🐉 lived.' };
    const r = renderExample(tok, rec, { labelPolicy: 'assistant' });
    const spans = trainedCharSpans(tok, rec, r.offsets, r.labelMask)!;
    expect(spans).toHaveLength(1);
    expect(spans[0]!.role).toBe('text');
    expect(spans[0]!.trained).toEqual([[0, Array.from(rec.text).length]]);
  });
});
