import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderExample, type LabelPolicy } from '../../../main/engine/data/render';
import { chatShapesEnabled, disableChatShapes, templatePrintsContentOnly } from '../../../main/engine/data/chatShapes';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';
import { DEFAULT_CHAT_TEMPLATE } from '../../../main/engine/models/tokenizer';
import type { ChatMessage, WinnowTokenizer } from '../../../main/engine/models/types';
import { fixture, STORIES_DIR, withTemplate } from './helpers';

// The fast paths (BPE split at unmergeable points, offsets by verbatim match, chat templates by substitution)
// must give exactly what the library's own code gives.
let fast: WinnowTokenizer;
let slow: WinnowTokenizer;
beforeAll(async () => {
  fast = await loadTokenizer(STORIES_DIR);
  slow = await loadTokenizer(STORIES_DIR, { fast: false });
  disableChatShapes(slow);
});

const gsm8k: ChatMessage[][] = readFileSync(fixture('gsm8k-50.jsonl'), 'utf8').trim().split('\n').map((l) => {
  const r = JSON.parse(l) as { question: string; answer: string };
  return [{ role: 'user', content: r.question }, { role: 'assistant', content: r.answer }];
});

function same(a: WinnowTokenizer, b: WinnowTokenizer, messages: ChatMessage[], labelPolicy: LabelPolicy, label: string) {
  const x = renderExample(a, messages, { labelPolicy });
  const y = renderExample(b, messages, { labelPolicy });
  expect(x.text, label).toBe(y.text);
  expect(Array.from(x.tokenIds), label).toEqual(Array.from(y.tokenIds));
  expect(Array.from(x.offsets), label).toEqual(Array.from(y.offsets));
  expect(Array.from(x.roles), label).toEqual(Array.from(y.roles));
  expect(Array.from(x.labelMask), label).toEqual(Array.from(y.labelMask));
}

describe('render fast paths', () => {
  it('give identical token ids, offsets, roles and masks on the 50 GSM8K rows', () => {
    for (const [i, m] of gsm8k.entries()) {
      same(fast, slow, m, 'assistant', `row ${i + 1}`);
      same(fast, slow, m, 'all', `row ${i + 1} (all)`);
    }
    expect(chatShapesEnabled(fast)).toBe(true); // substitution ran, and matched the real renders it was checked against
  });

  it('give identical encodings on awkward text: unicode, byte fallback, spaces, special-token text', () => {
    const texts = ['naïve ☃ 🐶 end', '  leading and  double  spaces ', 'tabs\tand\r\nCRLF', '<s>x</s><unk>y',
      'ÆØÅ 日本語 😀😀', '$12.50 * 3 = <<12.5*3=37.5>>37.5', '', ' ', 'a', '🐶'];
    for (const t of texts) {
      for (const add of [true, false]) {
        expect(fast.encode(t, { addSpecialTokens: add }), JSON.stringify(t)).toEqual(slow.encode(t, { addSpecialTokens: add }));
      }
    }
    const long = gsm8k.map((m) => m[1].content).join(' ');
    expect(fast.encode(long)).toEqual(slow.encode(long));
  });

  it('substitute contents only into templates that just print them', () => {
    expect(templatePrintsContentOnly(fast.chatTemplate)).toBe(true);
    expect(templatePrintsContentOnly(DEFAULT_CHAT_TEMPLATE)).toBe(true);
    expect(templatePrintsContentOnly("{% for m in messages %}{{ m['content'] | trim }}{% endfor %}")).toBe(false);
    expect(templatePrintsContentOnly("{% for m in messages %}{% if m.content.startswith('x') %}X{% endif %}{{ m.content }}{% endfor %}")).toBe(false);
    expect(templatePrintsContentOnly("{% set s = messages[0]['content'] %}{{ s }}")).toBe(false);
  });

  it('multi-turn chats and other templates render the same by substitution', () => {
    const multi: ChatMessage[] = [
      { role: 'system', content: '  You count sheep.  ' }, { role: 'user', content: 'One?' },
      { role: 'assistant', content: 'Two.\n' }, { role: 'user', content: '' }, { role: 'assistant', content: 'Four. {{ x }}' },
    ];
    const chatml = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}";
    const trimming = "{% for m in messages %}{{ m.role }}: {{ m.content | trim }}\n{% endfor %}";
    for (const [name, tpl] of [['chatml', chatml], ['trimming', trimming]]) {
      const a = withTemplate(fast, tpl, name);
      const b = withTemplate(slow, tpl, name);
      disableChatShapes(b);
      for (const policy of ['assistant', 'last_assistant', 'all'] as const) same(a, b, multi, policy, `${name} ${policy}`);
      expect(chatShapesEnabled(a)).toBe(name === 'chatml');
    }
    for (const policy of ['assistant', 'last_assistant', 'all'] as const) same(fast, slow, multi, policy, `own ${policy}`);
  });
});
