/**
 * Hostile safetensors files: random and adversarial headers (huge or negative lengths, overlapping or out-of-range
 * offsets, wrong dtypes, bad shapes) and truncated files. Every case must end in a result or a WinnowError.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../../main/engine/models/safetensors';
import { cleanly, count, counts, fuzzParams, fuzzSeed } from './fuzz';

/** this run's fast-check seed (printed; WINNOW_FUZZ_SEED replays it) */
const SEED = fuzzSeed('safetensors');

const dir = mkdtempSync(join(tmpdir(), 'winnow-fuzz-st-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  console.log('fuzz cases run:', JSON.stringify(counts));
});

function file(header: unknown, body: Uint8Array, lengthOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const p = join(dir, `f${Math.random().toString(36).slice(2)}.safetensors`);
  writeFileSync(p, Buffer.concat([len, json, body]));
  return p;
}

const dtype = fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'Q4', '', 'f32');
const int = fc.oneof(fc.integer({ min: -10, max: 64 }), fc.constantFrom(2 ** 31, 2 ** 53, -(2 ** 40), 1e308), fc.double());
const entry = fc.record({ dtype, shape: fc.array(int, { maxLength: 4 }), data_offsets: fc.array(int, { minLength: 0, maxLength: 3 }) }, { requiredKeys: [] });

describe('safetensors parser under fuzzing', () => {
  it('random headers and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(entry, fc.anything())), fc.uint8Array({ maxLength: 256 }), async (header, body) => {
        count('safetensors/random');
        await cleanly(() => readSafetensors(file(header, body)));
      }),
      fuzzParams(SEED, 300),
    );
  });

  it('adversarial lengths, truncation and overlapping offsets of a valid file', async () => {
    const good = join(dir, 'good.safetensors');
    writeSafetensors(good, [
      { name: 'a', shape: [2, 3], data: new Float32Array(6).fill(1) },
      { name: 'b', shape: [4], data: new Float32Array(4).fill(2) },
    ]);
    const bytes = (await import('node:fs')).readFileSync(good);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bytes.length }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), async (cut, len) => {
        count('safetensors/truncated+length');
        const truncated = join(dir, `t${cut}.safetensors`);
        writeFileSync(truncated, bytes.subarray(0, cut));
        await cleanly(() => readSafetensors(truncated));
        const withLen = Buffer.from(bytes);
        withLen.writeBigUInt64LE(len, 0);
        const p = join(dir, `l${cut}.safetensors`);
        writeFileSync(p, withLen);
        await cleanly(() => readSafetensors(p));
      }),
      fuzzParams(SEED, 200),
    );
    // named problems for the classic cases
    const overlap = file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12));
    expect(await cleanly(() => readSafetensors(overlap))).toBe('error');
    const huge = file({}, new Uint8Array(0), 2n ** 62n);
    await expect(async () => readSafetensors(huge)).rejects.toThrow(/header/i);
    const wrongSize = file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
    await expect(async () => readSafetensors(wrongSize)).rejects.toThrow(/"a"/);
  });
});
