/**
 * Label masks against the character spans of the rendered text, on every chat template of the fixtures (the demo
 * model's, and each real-shapes folder's: Winnow's default template for GPT-2 / distilgpt2, ChatML, Zephyr, Mistral,
 * Llama-2, Llama-3, named templates, a chat_template.jinja file, a template with {% generation %} blocks).
 *
 * The rule (render.ts): each learned assistant turn is one contiguous span of tokens, no holes. With {% generation %}
 * blocks it is the blocks' text (transformers' return_assistant_tokens_mask); otherwise it runs from the content's
 * first character through the first special token after the content (the end-of-turn token), and template text
 * after that token is not learned. The expected spans are found here from the text alone: the contents located in
 * order, the special tokens as tokenizer.json lists them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderExample } from '../../../main/engine/data/render';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';
import type { ChatMessage, WinnowTokenizer } from '../../../main/engine/models/types';
import { REAL_SHAPES, writeRealFolder, type RealCase } from '../models/real-shapes';
import { STORIES } from '../models/tiny';

const FOLDERS: Array<Omit<RealCase, 'storage'>> = [
  { name: 'gpt2', tokenizer: 'gpt2' },
  { name: 'distilgpt2', tokenizer: 'gpt2' },
  { name: 'smollm2-135m-instruct', tokenizer: 'smollm2' },
  { name: 'smollm2-jinja-file', tokenizer: 'smollm2' },
  { name: 'qwen2.5-0.5b-instruct', tokenizer: 'qwen2' },
  { name: 'named-templates', tokenizer: 'qwen2' },
  { name: 'tinyllama-1.1b-chat-v1.0', tokenizer: 'sentencepiece' },
  { name: 'mistral-7b-instruct-v0.3', tokenizer: 'mistral' },
  { name: 'llama-3.2-1b-instruct', tokenizer: 'llama3' },
  { name: 'llama-2-chat', tokenizer: 'sentencepiece' },
  { name: 'generation-tag', tokenizer: 'smollm2' },
];

const RENDERS = JSON.parse(fs.readFileSync(path.join(REAL_SHAPES, 'renders.json'), 'utf8')) as {
  conversations: Record<string, { messages: ChatMessage[] }>;
};

const CONVERSATIONS: Record<string, ChatMessage[]> = {
  'system-user-assistant': RENDERS.conversations['system-user-assistant']!.messages,
  'two turns': [
    { role: 'user', content: 'One?' },
    { role: 'assistant', content: 'Two.' },
    { role: 'user', content: 'Three?' },
    { role: 'assistant', content: ' Four, then five. ' },
  ],
  'unicode answer': [
    { role: 'user', content: 'Say hi in French.' },
    { role: 'assistant', content: 'Bonjour ! Ça va ? 😊\nÀ bientôt.' },
  ],
};

/** Special token strings as tokenizer.json lists them (added tokens flagged special). */
function specialStrings(dir: string): string[] {
  const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens: Array<{ content: string; special: boolean }> };
  return tj.added_tokens.filter((t) => t.special).map((t) => t.content);
}

/** Each message's content span in `text`, located in order (a template may trim a content). */
function contentSpans(text: string, messages: ChatMessage[]): Array<[number, number] | null> {
  let cursor = 0;
  return messages.map((m) => {
    for (const c of [m.content, m.content.trim()]) {
      const at = text.indexOf(c, cursor);
      if (at >= 0 && c !== '') {
        cursor = at + c.length;
        return [at, at + c.length];
      }
    }
    return null; // left out by the template (e.g. a system prompt)
  });
}

/**
 * Expected learned character spans, one per assistant turn, from the text alone: the content through the first special
 * token after it. (The fixture's {% generation %} blocks wrap exactly that: the content and its <|im_end|>.)
 */
function expectedSpans(text: string, messages: ChatMessage[], specials: string[]): Array<[number, number]> {
  const spans = contentSpans(text, messages);
  const out: Array<[number, number]> = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const [from, contentEnd] = spans[i]!;
    // the first special token after the content: the turn's end-of-turn token
    let to = -1;
    let at = Infinity;
    for (const s of specials) {
      const k = text.indexOf(s, contentEnd);
      if (k >= 0 && k < at) {
        at = k;
        to = k + s.length;
      }
    }
    expect(to, `an end-of-turn token after "${m.content}"`).toBeGreaterThan(0);
    out.push([from, to]);
  });
  return out;
}

/** Labels as the spans give them: a token is learned when it touches a span (zero-width tokens: when inside one's token run). */
function checkMask(tok: WinnowTokenizer, messages: ChatMessage[], want: Array<[number, number]>, label: string): void {
  const r = renderExample(tok, messages, { labelPolicy: 'assistant' });
  expect(r.text, label).toBe(tok.applyChatTemplate(messages));
  const n = r.tokenIds.length;
  const touches = (t: number, [a, b]: [number, number]) => r.offsets[2 * t + 1]! > r.offsets[2 * t]! && r.offsets[2 * t]! < b && r.offsets[2 * t + 1]! > a;
  const runs: Array<[number, number]> = [];
  for (const span of want) {
    const on = [...Array(n).keys()].filter((t) => touches(t, span));
    expect(on.length, `${label}: tokens of ${JSON.stringify(r.text.slice(...span))}`).toBeGreaterThan(0);
    runs.push([on[0]!, on[on.length - 1]!]);
    // the span's text is covered exactly by the tokens touching it (tokens may carry a space before the content)
    const covered = r.text.slice(r.offsets[2 * on[0]!]!, r.offsets[2 * on[on.length - 1]! + 1]!);
    expect(covered.trimStart(), label).toBe(r.text.slice(...span).trimStart());
  }
  const expected = new Uint8Array(n);
  for (const [a, b] of runs) expected.fill(1, a, b + 1);
  expect(Array.from(r.labelMask), `${label}: ${r.text}`).toEqual(Array.from(expected));
  // one contiguous run of learned tokens per assistant turn
  let count = 0;
  for (let t = 0; t < n; t++) if (r.labelMask[t] && (t === 0 || !r.labelMask[t - 1])) count++;
  expect(count, label).toBe(want.length);
}

describe('label masks on every fixture template', () => {
  const dirs = new Map<string, string>();
  beforeAll(() => {
    dirs.set('stories260K (demo)', STORIES);
    for (const f of FOLDERS) dirs.set(f.name, writeRealFolder({ ...f, storage: { dtype: 'F32' } }));
  });

  it.each([['stories260K (demo)'], ...FOLDERS.map((f) => [f.name])])('%s', async (name) => {
    const dir = dirs.get(name)!;
    const tok = await loadTokenizer(dir);
    let checked = 0;
    for (const [conv, messages] of Object.entries(CONVERSATIONS)) {
      let text: string;
      try {
        text = tok.applyChatTemplate(messages);
      } catch {
        continue; // a template that refuses the conversation (e.g. a system turn): nothing to learn from it
      }
      checkMask(tok, messages, expectedSpans(text, messages, specialStrings(dir)), `${name} / ${conv}`);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  it('the demo template: `…</s>` then a newline — the eos is learned, the "▁" and newline after it are not', async () => {
    const tok = await loadTokenizer(STORIES);
    const r = renderExample(tok, CONVERSATIONS['two turns']!, { labelPolicy: 'assistant' });
    const pieces = Array.from(r.tokenIds, (i) => tok.idToToken(i));
    const labels = Array.from(r.tokenIds, (id, t) => (r.labelMask[t] ? id : -100));
    // the export's labels end [..., 2, -100, -100] (were [..., 2, -100, <0x0A>]: a hole, then the newline)
    expect(labels.slice(-3)).toEqual([tok.eosId, -100, -100]);
    expect(pieces.slice(-2)).toEqual(['▁', '<0x0A>']);
  });
});

describe('a template with {% generation %} blocks: the blocks are learned, whatever else the turn prints', () => {
  it('a block that leaves the end-of-turn token out: it is not learned (transformers\' assistant mask)', async () => {
    const dir = writeRealFolder({ name: 'generation-tag', tokenizer: 'smollm2', storage: { dtype: 'F32' } });
    const f = path.join(dir, 'tokenizer_config.json');
    const cfg = JSON.parse(fs.readFileSync(f, 'utf8')) as { chat_template: string };
    cfg.chat_template = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}{% if message['role'] == 'assistant' %}" +
      "{%- generation -%}\n  {{ message['content'] }}\n{%- endgeneration -%}{{ '<|im_end|>' }}{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '\\n' }}{% endfor %}";
    fs.writeFileSync(f, JSON.stringify(cfg));
    const tok = await loadTokenizer(dir);
    const messages = CONVERSATIONS['two turns']!;
    const text = tok.applyChatTemplate(messages);
    expect(tok.generationSpans!(messages)!.map(([a, b]) => text.slice(a, b))).toEqual(['Two.', ' Four, then five. ']);
    const spans = contentSpans(text, messages).filter((_, i) => messages[i]!.role === 'assistant') as Array<[number, number]>;
    checkMask(tok, messages, spans, 'generation without the eos');
  });

  it('the fixture template (block = content + <|im_end|>): its text, not the newline after it', async () => {
    const tok = await loadTokenizer(writeRealFolder({ name: 'generation-tag', tokenizer: 'smollm2', storage: { dtype: 'F32' } }));
    const messages = CONVERSATIONS['two turns']!;
    const text = tok.applyChatTemplate(messages);
    expect(tok.generationSpans!(messages)!.map(([a, b]) => text.slice(a, b))).toEqual(['Two.<|im_end|>', ' Four, then five. <|im_end|>']);
  });
});

describe('a template whose turns end without a special token', () => {
  it('learns the turn through its closing text, never the next header', async () => {
    const dir = writeRealFolder({ name: 'smollm2-135m-instruct', tokenizer: 'smollm2', storage: { dtype: 'F32' } });
    const f = path.join(dir, 'tokenizer_config.json');
    const cfg = JSON.parse(fs.readFileSync(f, 'utf8')) as { chat_template: string };
    cfg.chat_template = "{% for m in messages %}{% if m['role'] == 'user' %}### Question: {{ m['content'] }}\n\n{% else %}### Answer: {{ m['content'] }}\n\n{% endif %}{% endfor %}";
    fs.writeFileSync(f, JSON.stringify(cfg));
    const tok = await loadTokenizer(dir);
    const messages = CONVERSATIONS['two turns']!;
    const text = tok.applyChatTemplate(messages);
    const spans = contentSpans(text, messages);
    // the closing "\n\n" of each answer, up to the next "### Question:" (or the end)
    const want: Array<[number, number]> = [[spans[1]![0], text.indexOf('### Question:', spans[1]![1])], [spans[3]![0], text.length]];
    expect(want.map(([a, b]) => text.slice(a, b))).toEqual(['Two.\n\n', ' Four, then five. \n\n']);
    checkMask(tok, messages, want, 'no end-of-turn token');
  });
});
