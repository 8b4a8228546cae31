/**
 * `winnow score` with the gradient, reverse-prompt and attention signals as a user runs it (child process, bundled
 * model): the flags reach the job and the JSONL carries grad_norm / grad_sim_base / rifd per example and sstoken per
 * token, aligned with input_ids.
 * With the model as its own history model every loss gain is 0, so sstoken = (1 − γ)·Attn_t ∈ [0, 1 − γ].
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GSM8K_50, STORIES } from './helpers';
import { runWinnow } from '../cli/run-winnow';

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-gradient-signals-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function winnow(args: string[]) {
  return runWinnow(join(tmp, 'home'), args);
}

describe('winnow score, gradient and attention signals', () => {
  it('writes grad_norm, grad_sim_base, rifd and sstoken with the flags given', () => {
    const lines = readFileSync(GSM8K_50, 'utf8').trim().split('\n');
    const data = join(tmp, 'data.jsonl');
    const target = join(tmp, 'target.jsonl');
    writeFileSync(data, lines.slice(0, 6).join('\n') + '\n');
    writeFileSync(target, lines.slice(40, 43).join('\n') + '\n');
    const out = join(tmp, 'scores.jsonl');
    const gamma = 0.7;
    const r = winnow([
      'score', '--model', STORIES, '--data', data, '--history-model', STORIES, '--signals', 'grad_norm,grad_sim_base,rifd,sstoken',
      '--grad-layers', 'last:1', '--grad-dim', '64', '--target-data', target, '--gamma', String(gamma), '--out', out, '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const plan = r.json.plan as { passes: Array<{ kind: string; model: string; signals: string[]; examples: number }> };
    expect(plan.passes.map((p) => `${p.model}:${p.kind}`)).toEqual([
      'model:forward', 'history:forward', 'model:forward_reverse', 'model:forward_instruction_only', 'model:backward',
    ]);
    // every scored row and the target file's rows are differentiated once
    expect(plan.passes.at(-1)!.examples).toBe(9);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(6);
    for (const row of rows) {
      expect(row.example.grad_norm).toBeGreaterThan(0);
      expect(Math.abs(row.example.grad_sim_base)).toBeLessThanOrEqual(1);
      expect(row.example.rifd).toBeGreaterThan(0);
      const ss = row.token.sstoken as Array<number | null>;
      expect(ss).toHaveLength(row.input_ids.length);
      ss.forEach((v, t) => {
        if (t > 0 && row.label_mask[t] === 1) {
          expect(v).not.toBeNull();
          expect(v!).toBeGreaterThanOrEqual(0);
          expect(v!).toBeLessThanOrEqual(1 - gamma + 1e-6);
        } else expect(v).toBeNull();
      });
    }
  }, 300_000);

  it('refuses grad_sim_base without a target set and sstoken without a history model, saying which flag', () => {
    const data = join(tmp, 'data.jsonl');
    const noTarget = winnow(['score', '--model', STORIES, '--data', data, '--signals', 'grad_sim_base', '--out', join(tmp, 'x.jsonl')]);
    expect(noTarget.status).not.toBe(0);
    expect(noTarget.stderr).toContain('--target-subset');
    const noRef = winnow(['score', '--model', STORIES, '--data', data, '--signals', 'sstoken', '--out', join(tmp, 'y.jsonl')]);
    expect(noRef.status).not.toBe(0);
    expect(noRef.stderr).toContain('--history-model');
  }, 300_000);
});
