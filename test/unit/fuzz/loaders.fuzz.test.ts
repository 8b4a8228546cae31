/**
 * Hostile model folders: config.json values of every wrong type, tokenizer.json / tokenizer_config.json with fields
 * removed or corrupted, and chat templates that do not parse or throw. Each case ends in a result or a WinnowError.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseModelConfig } from '../../../main/engine/models/config';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';
import { renderExample } from '../../../main/engine/data/render';
import { cleanly, count, counts, fuzzParams, fuzzSeed } from './fuzz';

/** this run's fast-check seed (printed; WINNOW_FUZZ_SEED replays it) */
const SEED = fuzzSeed('loaders');

const STORIES = resolve(__dirname, '../../../resources/models/stories260K');
const dir = mkdtempSync(join(tmpdir(), 'winnow-fuzz-load-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  console.log('fuzz cases run:', JSON.stringify(counts));
});

const goodLlama = JSON.parse(readFileSync(join(STORIES, 'config.json'), 'utf8')) as Record<string, unknown>;
const goodGpt2 = { model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 128, vocab_size: 100, layer_norm_epsilon: 1e-5 };
const weird = fc.oneof(fc.anything(), fc.constantFrom(0, -1, 1.5, NaN, Infinity, '', '12', null, [], {}, 2 ** 40));

describe('config.json under fuzzing', () => {
  it('valid configs with one field replaced by anything', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(goodLlama, goodGpt2), fc.string({ maxLength: 30 }), weird, fc.boolean(), async (base, _k, value, drop) => {
        count('config.json');
        const keys = Object.keys(base);
        const key = keys[Math.abs(_k.length * 7919) % keys.length]!;
        const cfg: Record<string, unknown> = { ...base };
        if (drop) delete cfg[key];
        else cfg[key] = value;
        const r = await cleanly(() => parseModelConfig(cfg, 'config.json'));
        if (r === 'ok') return;
      }),
      fuzzParams(SEED, 400),
    );
    await expect(async () => parseModelConfig({ ...goodLlama, num_attention_heads: 0 }, 'config.json')).rejects.toThrow(/num_attention_heads/);
    await expect(async () => parseModelConfig({ ...goodLlama, model_type: 'mamba' }, 'config.json')).rejects.toThrow(/mamba/);
  });

  it('random JSON values as the whole config', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (raw) => {
        count('config.json/random');
        await cleanly(() => parseModelConfig(raw as never, 'config.json'));
      }),
      fuzzParams(SEED, 200),
    );
  });
});

function folder(tokJson: string, tokConfig: string): string {
  const d = join(dir, `m${Math.random().toString(36).slice(2)}`);
  mkdirSync(d);
  copyFileSync(join(STORIES, 'config.json'), join(d, 'config.json'));
  writeFileSync(join(d, 'tokenizer.json'), tokJson);
  writeFileSync(join(d, 'tokenizer_config.json'), tokConfig);
  return d;
}

describe('tokenizer files under fuzzing', () => {
  const tokJson = JSON.parse(readFileSync(join(STORIES, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const tokConfig = readFileSync(join(STORIES, 'tokenizer_config.json'), 'utf8');

  it('tokenizer.json with a top-level field removed or replaced, or truncated', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(tokJson)), weird, fc.nat({ max: 100 }), async (key, value, cutPct) => {
        count('tokenizer.json');
        const mutated: Record<string, unknown> = { ...tokJson, [key]: value };
        if (value === undefined) delete mutated[key];
        const text = JSON.stringify(mutated);
        await cleanly(async () => (await loadTokenizer(folder(text, tokConfig))).encode('Once upon a time'));
        const cut = text.slice(0, Math.floor((text.length * cutPct) / 100));
        await cleanly(async () => (await loadTokenizer(folder(cut, tokConfig))).encode('x'));
      }),
      fuzzParams(SEED, 60),
    );
  });

  it('chat templates that do not parse, or throw while rendering', async () => {
    const cfg = JSON.parse(tokConfig) as Record<string, unknown>;
    const template = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(
        '{% for m in messages %}{{ m.content }',
        "{{ raise_exception('Conversation roles must alternate') }}",
        '{% if %}',
        '{{ messages[99].content }}',
        '{{ 1 / 0 }}',
        '{% for m in messages %}{{ m.nope.deeper }}{% endfor %}',
        '{{ messages | length }}',
        '',
      ),
    );
    await fc.assert(
      fc.asyncProperty(template, async (t) => {
        count('chat_template');
        await cleanly(async () => {
          const tok = await loadTokenizer(folder(JSON.stringify(tokJson), JSON.stringify({ ...cfg, chat_template: t })));
          return renderExample(tok, [{ role: 'user', content: 'What is 2+2?' }, { role: 'assistant', content: '4' }], { labelPolicy: 'assistant' });
        });
      }),
      fuzzParams(SEED, 150),
    );
    const tok = await loadTokenizer(folder(JSON.stringify(tokJson), JSON.stringify({ ...cfg, chat_template: "{{ raise_exception('roles must alternate') }}" })));
    await expect(async () => renderExample(tok, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'ok' }], { labelPolicy: 'assistant' })).rejects.toThrow(/roles must alternate/);
  });
});
