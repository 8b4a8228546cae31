import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Template } from '@huggingface/jinja';
import type { ChatMessage, WinnowTokenizer } from '../../../main/engine/models/types';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';

export const FIXTURES = resolve(__dirname, '../../fixtures/data');
export const fixture = (name: string) => join(FIXTURES, name);
export const STORIES_DIR = resolve(__dirname, '../../../resources/models/stories260K');

export function tempDir(prefix = 'winnow-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The bundled demo model's real tokenizer (llama2.c tok512 converted to tokenizer.json). */
export function storiesTokenizer(): Promise<WinnowTokenizer> {
  return loadTokenizer(STORIES_DIR);
}

/** The same real tokenizer under another chat template (to exercise template shapes). */
export function withTemplate(tok: WinnowTokenizer, template: string, id: string): WinnowTokenizer {
  const t = new Template(template);
  return {
    id, bosId: tok.bosId, eosId: tok.eosId, padId: tok.padId, bosToken: tok.bosToken, eosToken: tok.eosToken,
    vocabSize: tok.vocabSize, chatTemplate: template, chatTemplateIsDefault: false,
    encode: (text, opts) => tok.encode(text, opts),
    decode: (ids, opts) => tok.decode(ids, opts),
    idToToken: (i) => tok.idToToken(i),
    applyChatTemplate: (messages: ChatMessage[], opts) => t.render({
      messages, bos_token: tok.bosToken ?? '', eos_token: tok.eosToken ?? '', add_generation_prompt: opts?.addGenerationPrompt ?? false,
    }),
  };
}

/** Text covered by the tokens whose mask is 1, from the render's own offsets. */
export function maskedText(text: string, offsets: Int32Array, mask: Uint8Array): string {
  let s = '';
  for (let t = 0; t < mask.length; t++) if (mask[t]) s += text.slice(offsets[2 * t], offsets[2 * t + 1]);
  return s;
}
