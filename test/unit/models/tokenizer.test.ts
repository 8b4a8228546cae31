import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeOffsets, TokenBytes } from '../../../main/engine/models/offsets';
import { DEFAULT_CHAT_TEMPLATE, loadTokenizer } from '../../../main/engine/models/tokenizer';
import { WinnowError } from '../../../main/engine/util/errors';
import { STORIES, tmpDir } from './tiny';

function copyStories(configPatch: Record<string, unknown> | null): string {
  const dir = tmpDir('tok');
  fs.copyFileSync(path.join(STORIES, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const cfg = JSON.parse(fs.readFileSync(path.join(STORIES, 'tokenizer_config.json'), 'utf8'));
  if (configPatch) {
    const next = { ...cfg, ...configPatch };
    for (const [k, v] of Object.entries(configPatch)) if (v === undefined) delete next[k];
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(next));
  }
  return dir;
}

describe('tokenizer', () => {
  it('offsets cover the text exactly: spaces, newlines, digits, byte-fallback characters', async () => {
    const tok = await loadTokenizer(STORIES);
    for (const text of ['Once upon a time', 'Hi!\n\n42 cats, 7 dogs.', ' a  b ', 'naïve ☃ 🐶 end', '']) {
      const { ids, offsets } = tok.encode(text, { addSpecialTokens: false });
      expect(offsets.length).toBe(ids.length);
      let covered = '';
      let lastEnd = 0;
      for (const [s, e] of offsets) {
        expect(s).toBeGreaterThanOrEqual(0);
        expect(e).toBeLessThanOrEqual(text.length);
        expect(s).toBeLessThanOrEqual(e);
        if (s >= lastEnd) covered += text.slice(s, e);
        lastEnd = Math.max(lastEnd, e);
      }
      expect(covered, JSON.stringify(text)).toBe(text);
    }
    // every byte piece of a multi-byte character points at that whole character
    const t = 'a🐶';
    const enc = tok.encode(t, { addSpecialTokens: false });
    const pieces = enc.ids.map((i) => tok.idToToken(i));
    expect(pieces).toEqual(['▁a', '<0xF0>', '<0x9F>', '<0x90>', '<0xB6>']);
    expect(enc.offsets).toEqual([[0, 1], [1, 3], [1, 3], [1, 3], [1, 3]]);
  });

  it('BOS is added by default with an empty span; literal special tokens are recognised with their span', async () => {
    const tok = await loadTokenizer(STORIES);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    const a = tok.encode('Once');
    expect(a.ids[0]).toBe(1);
    expect(a.offsets[0]).toEqual([0, 0]);
    expect(a.offsets[1]).toEqual([0, 4]);
    const b = tok.encode('<s>Hi</s>', { addSpecialTokens: false });
    expect(b.ids[0]).toBe(1);
    expect(b.ids[b.ids.length - 1]).toBe(2);
    expect(b.offsets[0]).toEqual([0, 3]);
    expect(b.offsets[b.offsets.length - 1]).toEqual([5, 9]);
    expect(tok.decode(b.ids, { skipSpecialTokens: true })).toBe('Hi');
    expect(tok.decode([])).toBe('');
  });

  it('GPT-2 style byte-level tokens map back to the right characters', () => {
    // 'Ġ' is the byte-level alphabet's space, 'Ã©' the two bytes of 'é'
    const tb = new TokenBytes('bytelevel', false, null);
    const offs = computeOffsets('Hi café', ['Hi', 'Ġcaf', 'Ã©'], [false, false, false], tb);
    expect(offs).toEqual([[0, 2], [2, 6], [6, 7]]);
  });

  it('falls back to the documented default chat template, using the tokenizer own BOS/EOS', async () => {
    const tok = await loadTokenizer(copyStories({ chat_template: undefined }));
    expect(tok.chatTemplateIsDefault).toBe(true);
    expect(tok.chatTemplate).toBe(DEFAULT_CHAT_TEMPLATE);
    const s = tok.applyChatTemplate(
      [
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'Hi' },
      ],
      { addGenerationPrompt: true },
    );
    expect(s).toBe('<s><|system|>\nBe kind.</s>\n<|user|>\nHi</s>\n<|assistant|>\n');
  });

  it('template errors are bad_input with the template message; missing tokenizer.json names the path', async () => {
    const broken = await loadTokenizer(copyStories({ chat_template: '{% for m in messages %}{{ m.content }' }));
    let e: unknown;
    try {
      broken.applyChatTemplate([{ role: 'user', content: 'x' }]);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(WinnowError);
    expect((e as WinnowError).code).toBe('bad_input');
    expect((e as WinnowError).message).toMatch(/chat_template in .*tokenizer_config\.json: /);

    const raising = await loadTokenizer(copyStories({ chat_template: "{{ raise_exception('only user turns') }}" }));
    expect(() => raising.applyChatTemplate([])).toThrow(/only user turns/);

    const dir = tmpDir('tok');
    await expect(loadTokenizer(dir)).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining(path.join(dir, 'tokenizer.json')) });
  });

  it('id is a stable hash of the tokenizer files', async () => {
    const a = await loadTokenizer(STORIES);
    const again = await loadTokenizer(STORIES);
    const other = await loadTokenizer(copyStories({ chat_template: 'x' }));
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
    expect(again.id).toBe(a.id);
    expect(other.id).not.toBe(a.id);
  });
});
