/**
 * `winnow score --out` writes the token ids of the model it scored with (issue 15: a GPT-2 run in a new project wrote
 * the demo model's ids — BOS 1, ids < 512 — next to GPT-2's losses, because it read any render of the rows). A child
 * process over the TypeScript sources, as a user runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';
import { writeRealFolder } from '../models/real-shapes';
import { runWinnow } from './run-winnow';

const TEXTS = [
  'Once upon a time a small fox found a red ball in the garden.',
  'The sea was calm, and the boat moved slowly towards the island.',
  'Bonjour ! Ça va ? 😊 — a line with accents and an emoji.',
];
const CHATS = [
  { question: 'What is two plus three?', answer: 'Two plus three is five.' },
  { question: 'Where do fish live?', answer: 'In water: rivers, lakes and the sea.' },
];
let tmp: string;

function winnow(args: string[]) {
  return runWinnow(join(tmp, 'home'), args);
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-render-'));
  writeFileSync(join(tmp, 'texts.jsonl'), TEXTS.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  writeFileSync(join(tmp, 'chats.jsonl'), CHATS.map((c) => JSON.stringify(c)).join('\n') + '\n');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** input_ids and token_loss of each line equal the model's own tokenization of the text (cut at 64). */
async function expectOwnTokens(out: string, dir: string): Promise<void> {
  const tok = await loadTokenizer(dir);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; input_ids: number[]; token: { token_loss: unknown[] } });
  expect(lines).toHaveLength(TEXTS.length);
  for (const l of lines) {
    expect(l.input_ids).toEqual(tok.encode(TEXTS[l.index]!).ids.slice(0, 64));
    expect(l.token.token_loss).toHaveLength(l.input_ids.length);
  }
}

describe('winnow score --out', () => {
  it('a GPT-2 model in a new project (which holds the demo model’s renders): GPT-2’s own ids', async () => {
    const gpt2 = writeRealFolder({ name: 'gpt2', tokenizer: 'gpt2', storage: { dtype: 'F32', gpt2Prefix: '', attnBuffers: true } });
    const out = join(tmp, 'gpt2.jsonl');
    const r = winnow(['score', '--model', gpt2, '--data', join(tmp, 'texts.jsonl'), '--signals', 'token_loss', '--max-tokens', '64', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ rows: TEXTS.length, errors: 0 });
    await expectOwnTokens(out, gpt2);
    // not the demo tokenizer's: GPT-2 has no BOS and ids far past 512
    const first = JSON.parse(readFileSync(out, 'utf8').split('\n')[0]!) as { input_ids: number[] };
    expect(first.input_ids[0]).not.toBe(1);
    expect(Math.max(...first.input_ids)).toBeGreaterThan(512);
  });

  it.each([['GPT-2 then Llama', ['gpt2', 'llama']], ['Llama then GPT-2', ['llama', 'gpt2']]])(
    'chats imported once (the demo model renders them), scored by %s: each run writes its own model’s ids',
    async (_name, order) => {
      const dirs: Record<string, string> = {
        llama: writeRealFolder({ name: 'llama-2-chat', tokenizer: 'sentencepiece', storage: { dtype: 'F32' } }),
        gpt2: writeRealFolder({ name: 'gpt2', tokenizer: 'gpt2', storage: { dtype: 'F32', gpt2Prefix: '', attnBuffers: true } }),
      };
      const project = join(tmp, 'projects', order.join('-'));
      const imp = winnow(['import', join(tmp, 'chats.jsonl'), '--project', project, '--json']);
      expect(imp.status, imp.stderr).toBe(0);
      // the same rows rendered with three tokenizers and templates: a run that read "any render" writes another's ids
      for (const name of order) {
        const out = join(tmp, `${order.join('-')}-${name}.jsonl`);
        const r = winnow(['score', '--project', project, '--model', dirs[name]!, '--signals', 'token_loss', '--max-tokens', '64', '--out', out, '--json']);
        expect(r.status, r.stderr).toBe(0);
        const tok = await loadTokenizer(dirs[name]!);
        const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; input_ids: number[]; token: { token_loss: unknown[] } });
        expect(lines).toHaveLength(CHATS.length);
        for (const l of lines) {
          const c = CHATS[l.index]!;
          const text = tok.applyChatTemplate([{ role: 'user', content: c.question }, { role: 'assistant', content: c.answer }]);
          expect(l.input_ids, `${name} row ${l.index}`).toEqual(tok.encode(text, { addSpecialTokens: false }).ids.slice(0, 64));
          expect(l.token.token_loss).toHaveLength(l.input_ids.length);
        }
      }
    },
  );
});
