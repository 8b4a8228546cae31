/**
 * `winnow train --lora` and `winnow score --adapter` as a user runs them, on the bundled stories260K model: the train
 * command writes OUT/adapter/ in PEFT's format (with --merged also OUT/model/), scoring with the adapter changes the
 * losses and equals scoring the merged model, and bad flags are refused before any work, naming the flag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runWinnow } from './run-winnow';

const MODEL = join(ROOT, 'resources/models/stories260K');
const GSM = join(ROOT, 'test/fixtures/data/gsm8k-50.jsonl');
let tmp: string;
const winnow = (args: string[]) => runWinnow(join(tmp, 'home'), args);

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-lora-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function meanLosses(file: string): number[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { example: { mean_loss: number } }).example.mean_loss);
}

describe('winnow train --lora / score --adapter', () => {
  it('trains an adapter on the last block, writes it in PEFT format, and scores base + adapter as the merged model', () => {
    const out = join(tmp, 'tuned');
    const trained = winnow([
      'train', '--model', MODEL, '--data', GSM, '--lora', '4:8', '--lora-targets', 'q_proj,v_proj', '--layers', 'last:1',
      '--steps', '3', '--batch', '2', '--lr', '0.01', '--merged', '--out', out, '--json',
    ]);
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.json).toMatchObject({ out: join(out, 'adapter'), loraModules: 2, merged: join(out, 'model') });
    const conf = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(conf).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], layers_to_transform: [4], fan_in_fan_out: false });
    expect(existsSync(join(out, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(out, 'model', 'config.json'))).toBe(true);

    const data = join(tmp, 'few.jsonl');
    writeFileSync(data, readFileSync(GSM, 'utf8').trim().split('\n').slice(0, 6).join('\n') + '\n');
    const score = (model: string, file: string, extra: string[] = []) => {
      const r = winnow(['score', '--model', model, '--data', data, '--signals', 'mean_loss', '--out', file, '--json', ...extra]);
      expect(r.status, r.stderr).toBe(0);
      return meanLosses(file);
    };
    const plain = score(MODEL, join(tmp, 'plain.jsonl'));
    const adapted = score(MODEL, join(tmp, 'adapted.jsonl'), ['--adapter', join(out, 'adapter')]);
    const merged = score(join(out, 'model'), join(tmp, 'merged.jsonl'));
    expect(adapted).toHaveLength(6);
    adapted.forEach((v, i) => expect(Math.abs(v - merged[i]!), `row ${i}`).toBeLessThan(1e-5));
    expect(Math.max(...adapted.map((v, i) => Math.abs(v - plain[i]!)))).toBeGreaterThan(1e-5);
  });

  it('generate and eval with --adapter equal generate and eval with the merged model', () => {
    const out = join(tmp, 'tuned');
    const data = join(tmp, 'few.jsonl');
    const gen = (args: string[], file: string) => {
      const r = winnow(['generate', '--data', data, '--max-new-tokens', '12', '--batch', '3', '--out', file, '--json', ...args]);
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; tokens: number[]; completion: string });
    };
    // greedy decoding: the same weights give the same tokens
    const adapted = gen(['--model', MODEL, '--adapter', join(out, 'adapter')], join(tmp, 'gen-adapted.jsonl'));
    const merged = gen(['--model', join(out, 'model')], join(tmp, 'gen-merged.jsonl'));
    expect(adapted).toHaveLength(6);
    expect(adapted).toEqual(merged);
    const evalLoss = (args: string[], file: string) => {
      const r = winnow(['eval', '--data', data, '--metric', 'loss', '--out', file, '--json', ...args]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(readFileSync(file, 'utf8')) as { loss: number; rows: Array<{ loss: number }>; adapter?: string };
    };
    const ea = evalLoss(['--model', MODEL, '--adapter', join(out, 'adapter')], join(tmp, 'eval-adapted.json'));
    const em = evalLoss(['--model', join(out, 'model')], join(tmp, 'eval-merged.json'));
    const eb = evalLoss(['--model', MODEL], join(tmp, 'eval-plain.json'));
    expect(ea.adapter).toBe(join(out, 'adapter'));
    ea.rows.forEach((row, i) => expect(Math.abs(row.loss - em.rows[i]!.loss), `row ${i}`).toBeLessThan(1e-5));
    // the adapter is applied: the base model's loss differs
    expect(Math.abs(ea.loss - eb.loss)).toBeGreaterThan(1e-5);
  });

  it('refuses bad LoRA flags and a folder that is not an adapter, naming them', () => {
    const bad = winnow(['train', '--model', MODEL, '--data', GSM, '--lora', '4:x', '--steps', '1', '--out', join(tmp, 'x')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--lora must be R or R:ALPHA');
    const stray = winnow(['train', '--model', MODEL, '--data', GSM, '--layers', 'all', '--lora-targets', 'q_proj', '--steps', '1', '--out', join(tmp, 'x')]);
    expect(stray.stderr).toContain('--lora-targets needs --lora');
    const target = winnow(['train', '--model', MODEL, '--data', GSM, '--lora', '2', '--lora-targets', 'c_attn', '--steps', '1', '--out', join(tmp, 'x')]);
    expect(target.status).not.toBe(0);
    expect(target.stderr).toMatch(/c_attn match no linear module/);
    const noAdapter = winnow(['score', '--model', MODEL, '--data', GSM, '--signals', 'mean_loss', '--adapter', MODEL, '--out', join(tmp, 'y.jsonl')]);
    expect(noAdapter.status).not.toBe(0);
    expect(noAdapter.stderr).toContain('adapter_config.json: not found');
  });
});
