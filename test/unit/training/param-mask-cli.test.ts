/**
 * `winnow train --param-mask …` as a user runs it (a child process over the TypeScript sources) on the bundled
 * stories260K and GSM8K rows: the mask is computed, the run trains only its entries, and the output folder holds the
 * changed tensors plus winnow_delta.json, and param_mask.safetensors (uint8, one tensor per opened tensor).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { disposeModel, loadModel } from '../../../main/engine/models/model';
import { readCheckpoint, readSafetensorsHeader } from '../../../main/engine/models/safetensors';
import { ROOT, runWinnow } from '../cli/run-winnow';

const MODEL = join(ROOT, 'resources/models/stories260K');
const GSM = join(ROOT, 'test/fixtures/data/gsm8k-50.jsonl');
let tmp = '';

function winnow(args: string[]) {
  return runWinnow(join(tmp, 'home'), args);
}

/** U8 tensors of a safetensors file, read here from its header and bytes */
function readU8(file: string): Map<string, { shape: number[]; data: Uint8Array }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const out = new Map<string, { shape: number[]; data: Uint8Array }>();
  for (const [name, e] of readSafetensorsHeader(file).entries) {
    expect(e.dtype).toBe('U8');
    out.set(name, { shape: e.shape, data: new Uint8Array(buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1])) });
  }
  return out;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-pm-cli-'));
  writeFileSync(join(tmp, 'gsm10.jsonl'), readFileSync(GSM, 'utf8').trim().split('\n').slice(0, 10).join('\n') + '\n');
  await initBackend();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('winnow train --param-mask', () => {
  it('trains only the mask entries and writes the changed tensors, the delta manifest and the mask', async () => {
    const out = join(tmp, 'tuned');
    const r = winnow(['train', '--model', MODEL, '--data', join(tmp, 'gsm10.jsonl'), '--layers', 'last:2', '--param-mask', 'salience:abs_wg:0.02',
      '--param-examples', '8', '--steps', '3', '--batch', '2', '--lr', '0.01', '--out', out, '--changed-only', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json.paramMask).toMatchObject({ file: join(out, 'param_mask.safetensors') });
    const masks = readU8(join(out, 'param_mask.safetensors'));
    const info = JSON.parse(readFileSync(join(out, 'param_mask.json'), 'utf8')) as { trainable_params: number; scope: string; method: string; metric: string };
    expect(info).toMatchObject({ method: 'salience', metric: 'abs_wg', scope: 'last:2' });
    let ones = 0;
    for (const [name, m] of masks) {
      expect(name).toMatch(/^model\.layers\.[34]\./); // stories260K has 5 blocks: the scope is the last two
      for (const v of m.data) {
        expect(v === 0 || v === 1).toBe(true);
        ones += v;
      }
    }
    expect(ones).toBe(info.trainable_params);
    expect((r.json.paramMask as { trainableParams: number }).trainableParams).toBe(ones);

    // the changed-only folder: a subset of the mask's tensors, the base named by path
    const delta = JSON.parse(readFileSync(join(out, 'model', 'winnow_delta.json'), 'utf8')) as { base: { path: string }; tensors: string[] };
    expect(delta.base.path).toBe(MODEL);
    expect(delta.tensors.length).toBeGreaterThan(0);
    for (const n of delta.tensors) expect(masks.has(n), n).toBe(true);
    expect(existsSync(join(out, 'model', 'tokenizer.json'))).toBe(true);

    // loaded over the base: every entry outside the mask is the base's, bit for bit
    const base = readCheckpoint(MODEL).tensors;
    const tuned = await loadModel(join(out, 'model'));
    try {
      let moved = 0;
      for (const [name, t] of base) {
        const got = new Uint32Array((tuned.weights[name]!.dataSync() as Float32Array).slice().buffer);
        const want = new Uint32Array(Float32Array.from(t.data).buffer);
        const m = masks.get(name)?.data;
        for (let i = 0; i < want.length; i++) {
          if (m?.[i]) moved += got[i] !== want[i] ? 1 : 0;
          else if (got[i] !== want[i]) expect.fail(`${name}[${i}] outside the mask changed`);
        }
      }
      expect(moved).toBeGreaterThan(0.9 * ones);
    } finally {
      disposeModel(tuned);
    }
  });

  it('refuses a bad mask spec with the grammar, exit code 2', () => {
    const r = winnow(['train', '--model', MODEL, '--data', join(tmp, 'gsm10.jsonl'), '--param-mask', 'salience:wg:0.1', '--steps', '1', '--out', join(tmp, 'x'), '--json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown metric "wg".*salience:abs_g\|abs_wg\|sq_wg/);
  });
});
