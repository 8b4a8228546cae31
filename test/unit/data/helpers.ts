import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Template } from '@huggingface/jinja';
import type { ChatMessage, WinnowTokenizer } from '../../../main/engine/models/types';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';
import { openProjectDb, type Db } from '../../../main/engine/db/open';

export const FIXTURES = resolve(__dirname, '../../fixtures/data');
export const fixture = (name: string) => join(FIXTURES, name);
export const STORIES_DIR = resolve(__dirname, '../../../resources/models/stories260K');

export function tempDir(prefix = 'winnow-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fresh project (`p.winnow` in a temp dir named by `prefix`) each time the returned function is called in a test;
 * the afterEach registered here closes and removes the last one. `close` replaces closing the db opened here, for a
 * file whose tests may reopen it (then it closes the one open at the end).
 */
export function projectPerTest(prefix: string, close?: () => void): () => { db: Db; dir: string } {
  let cleanup: (() => void) | undefined;
  afterEach(() => { cleanup?.(); cleanup = undefined; });
  return () => {
    const t = tempDir(prefix);
    const db = openProjectDb(join(t.dir, 'p.winnow'));
    cleanup = () => { if (close) close(); else db.close(); t.cleanup(); };
    return { db, dir: t.dir };
  };
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
