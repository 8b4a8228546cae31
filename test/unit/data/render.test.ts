import { beforeAll, describe, expect, it } from 'vitest';
import { renderExample } from '../../../main/engine/data/render';
import type { ChatMessage, WinnowTokenizer } from '../../../main/engine/models/types';
import { maskedText, storiesTokenizer, withTemplate } from './helpers';

let tok: WinnowTokenizer;
beforeAll(async () => { tok = await storiesTokenizer(); });

const qa: ChatMessage[] = [
  { role: 'user', content: 'What is two plus two?' },
  { role: 'assistant', content: 'Four. The answer is 4.' },
];
const multi: ChatMessage[] = [
  { role: 'system', content: 'You count sheep.' },
  { role: 'user', content: 'One?' },
  { role: 'assistant', content: 'Two.' },
  { role: 'user', content: 'Three?' },
  { role: 'assistant', content: 'Four.' },
];

// Independent check: text of the tokens (by offsets) must equal what the template wrote.
function roleText(text: string, offsets: Int32Array, roles: Uint8Array, role: number): string {
  let s = '';
  for (let t = 0; t < roles.length; t++) if (roles[t] === role) s += text.slice(offsets[2 * t], offsets[2 * t + 1]);
  return s;
}

describe('renderExample (stories260K tokenizer, its own template)', () => {
  it('labels exactly the assistant content and the eos closing its turn, as one span', () => {
    const r = renderExample(tok, qa, { labelPolicy: 'assistant' });
    expect(r.text).toBe(tok.applyChatTemplate(qa));
    expect(Array.from(r.tokenIds)).toEqual(tok.encode(r.text, { addSpecialTokens: false }).ids);
    const eos = tok.eosToken!;
    // the template closes the assistant turn with "</s>\n": learned through the eos, not the newline after it
    expect(r.text.endsWith(`Four. The answer is 4.${eos}\n`)).toBe(true);
    expect(maskedText(r.text, r.offsets, r.labelMask)).toBe(`Four. The answer is 4.${eos}`);
    const on = [...r.labelMask.keys()].filter((t) => r.labelMask[t]);
    expect(on.length).toBe(on[on.length - 1]! - on[0]! + 1);
    // the "▁" SentencePiece puts after </s> and the newline are not learned (they were a hole and a label before)
    expect(Array.from(r.tokenIds.slice(on[on.length - 1]! + 1), (i) => tok.idToToken(i))).toEqual(['▁', '<0x0A>']);
    // the eos token itself is in the mask
    const eosAt = Array.from(r.tokenIds).lastIndexOf(tok.eosId!);
    expect(r.labelMask[eosAt]).toBe(1);
    expect(r.roles[eosAt]).toBe(3);
    // roles: user and assistant tokens cover their contents (tokens may carry a leading space)
    expect(roleText(r.text, r.offsets, r.roles, 1).trim()).toBe('What is two plus two?');
    expect(roleText(r.text, r.offsets, r.roles, 2).trim()).toBe('Four. The answer is 4.');
    expect(r.truncated).toBe(false);
  });

  it('handles multi-turn chats: every assistant turn, or only the last', () => {
    const eos = tok.eosToken!;
    const all = renderExample(tok, multi, { labelPolicy: 'assistant' });
    // a token may carry the space the template put before the content (" Two"); it is the content's token
    const esc = eos.replace(/[/|]/g, '\\$&');
    expect(maskedText(all.text, all.offsets, all.labelMask)).toMatch(new RegExp(`^ ?Two\\.${esc} ?Four\\.${esc}$`));
    expect(roleText(all.text, all.offsets, all.roles, 0).trim()).toBe('You count sheep.');
    const last = renderExample(tok, multi, { labelPolicy: 'last_assistant' });
    expect(maskedText(last.text, last.offsets, last.labelMask)).toMatch(new RegExp(`^ ?Four\\.${esc}$`));
    const every = renderExample(tok, multi, { labelPolicy: 'all' });
    expect(every.labelMask[0]).toBe(0); // BOS
    expect(Array.from(every.labelMask.slice(1)).every((v) => v === 1)).toBe(true);
  });

  it('renders text records with BOS and learns every token but BOS', () => {
    const r = renderExample(tok, { text: 'Once upon a time there was a dog.' }, { labelPolicy: 'assistant' });
    expect(r.tokenIds[0]).toBe(tok.bosId);
    expect(r.labelMask[0]).toBe(0);
    expect(Array.from(r.labelMask.slice(1)).every((v) => v === 1)).toBe(true);
    expect(maskedText(r.text, r.offsets, r.labelMask)).toBe('Once upon a time there was a dog.');
  });

  it('truncates to maxTokens and says so', () => {
    const full = renderExample(tok, qa, { labelPolicy: 'assistant' });
    const r = renderExample(tok, qa, { labelPolicy: 'assistant', maxTokens: 10 });
    expect(r.truncated).toBe(true);
    expect(r.tokenIds.length).toBe(10);
    expect(r.offsets.length).toBe(20);
    expect(Array.from(r.tokenIds)).toEqual(Array.from(full.tokenIds.slice(0, 10)));
    expect(Array.from(r.labelMask).every((v) => v === 0)).toBe(true); // the answer was cut off
  });
});

describe('renderExample with other template shapes', () => {
  it('ChatML-style template: learns content + closing marker, not the next header', () => {
    const chatml = withTemplate(tok, "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}", 'chatml');
    const r = renderExample(chatml, multi, { labelPolicy: 'assistant' });
    expect(maskedText(r.text, r.offsets, r.labelMask)).toBe('Two.<|im_end|>\nFour.<|im_end|>\n');
  });

  it('falls back to locating contents when prefixes do not render as prefixes, still learning the eos', () => {
    // the header counts the messages, so rendering a prefix is not a prefix of the whole
    const counting = withTemplate(tok,
      "{{ bos_token }}[{{ messages|length }}]{% for m in messages %}{% if m.role == 'user' %}User: {{ m.content }}\n{% else %}Bot: {{ m.content }}{{ eos_token }}\n{% endif %}{% endfor %}",
      'counting');
    const r = renderExample(counting, qa, { labelPolicy: 'assistant' });
    expect(r.text.startsWith(`${tok.bosToken}[2]User:`)).toBe(true);
    expect(maskedText(r.text, r.offsets, r.labelMask).trim()).toBe(`Four. The answer is 4.${tok.eosToken}`);
  });

  it('fails with a clear message when the template drops a message', () => {
    const dropping = withTemplate(tok, "{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}{% endfor %}", 'dropping');
    expect(() => renderExample(dropping, qa, { labelPolicy: 'assistant' })).toThrow(/message 1 \(assistant\): its content does not appear/);
  });
});
