import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { f32ToBf16, f32ToF16 } from '../../../main/engine/models/half';
import { readCheckpoint, readSafetensors, writeCheckpoint, writeSafetensors } from '../../../main/engine/models/safetensors';
import { WinnowError } from '../../../main/engine/util/errors';
import { rng, tmpDir } from './tiny';

function randomTensor(seed: number, shape: number[]): Float32Array {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => (r() - 0.5) * 1e3 * r() ** 4);
}

/** Build a raw safetensors file from a header object and a data buffer. */
function rawFile(file: string, header: unknown, data: Buffer, lenOverride?: number): void {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(lenOverride ?? h.byteLength));
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
}

function expectError(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WinnowError);
    expect((err as Error).message).toMatch(re);
    return;
  }
  throw new Error(`expected an error matching ${re}`);
}

describe('safetensors', () => {
  it('round-trips F32 bit-identically, with metadata, including NaN/inf/-0 and empty tensors', () => {
    const dir = tmpDir('st');
    const file = path.join(dir, 'a.safetensors');
    const special = Float32Array.of(NaN, Infinity, -Infinity, -0, 1e-45, 3.4028235e38);
    const tensors = [
      { name: 'w', shape: [3, 5], data: randomTensor(1, [3, 5]) },
      { name: 'special', shape: [6], data: special },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
      { name: 'scalar', shape: [], data: Float32Array.of(7.5) },
    ];
    writeSafetensors(file, tensors, 'F32', { format: 'pt', note: 'hi' });
    const back = readSafetensors(file);
    expect(back.metadata).toEqual({ format: 'pt', note: 'hi' });
    for (const t of tensors) {
      const got = back.tensors.get(t.name)!;
      expect(got.shape).toEqual(t.shape);
      expect(got.dtype).toBe('F32');
      expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(
        Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      );
    }
    // data buffer starts 8-byte aligned, no temp file left behind
    expect(Number(fs.readFileSync(file).readBigUInt64LE(0)) % 8).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['a.safetensors']);
  });

  it('converts F16 and BF16 to float32 with the right values', () => {
    const dir = tmpDir('st');
    const vals = Float32Array.of(1, -2, 0.5, 65504, 1 / 3, 1e-7, 70000, 6.1035156e-5, 5.96e-8);
    writeSafetensors(path.join(dir, 'h.safetensors'), [{ name: 'x', shape: [vals.length], data: vals }], 'F16');
    writeSafetensors(path.join(dir, 'b.safetensors'), [{ name: 'x', shape: [vals.length], data: vals }], 'BF16');
    const h = readSafetensors(path.join(dir, 'h.safetensors')).tensors.get('x')!;
    const b = readSafetensors(path.join(dir, 'b.safetensors')).tensors.get('x')!;
    expect(h.dtype).toBe('F16');
    expect(b.dtype).toBe('BF16');
    // F16: exact where representable; 1/3 -> 0.333251953125; 70000 overflows to inf; 1e-7 -> nearest subnormal
    expect(Array.from(h.data)).toEqual([1, -2, 0.5, 65504, 0.333251953125, 1.1920928955078125e-7, Infinity, 6.103515625e-5, 5.960464477539063e-8]);
    // BF16 keeps 8 mantissa bits (round to nearest even): 1/3 -> 0.333984375, 65504 -> 65536, 70000 -> 70144
    expect(b.data[4]).toBe(0.333984375);
    expect(b.data[3]).toBe(65536);
    expect(b.data[6]).toBe(70144);
    expect(b.data[0]).toBe(1);
    // raw encodings: 1.0 is 0x3C00 in F16 and 0x3F80 in BF16
    expect(f32ToF16(Float32Array.of(1))[0]).toBe(0x3c00);
    expect(f32ToBf16(Float32Array.of(1))[0]).toBe(0x3f80);
    expect(f32ToF16(Float32Array.of(-0))[0]).toBe(0x8000);
  });

  it('reads sharded checkpoints through model.safetensors.index.json', () => {
    const dir = tmpDir('st');
    const tensors = [0, 1, 2, 3].map((i) => ({ name: `t${i}`, shape: [100], data: randomTensor(i, [100]) }));
    const files = writeCheckpoint(dir, tensors, 'F32', { maxShardBytes: 800 });
    expect(files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.weight_map).toEqual({ t0: files[0], t1: files[0], t2: files[1], t3: files[1] });
    const back = readCheckpoint(dir);
    expect([...back.tensors.keys()].sort()).toEqual(['t0', 't1', 't2', 't3']);
    expect(back.tensors.get('t3')!.data).toEqual(tensors[3].data);
  });

  it('rejects bad headers with the file and tensor named', () => {
    const dir = tmpDir('st');
    const f = path.join(dir, 'bad.safetensors');
    const data = Buffer.alloc(32);
    rawFile(f, { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data, 1e6);
    expectError(() => readSafetensors(f), /bad\.safetensors: header length 1000000 is not possible/);
    rawFile(f, { a: { dtype: 'F32', shape: [2], data_offsets: [0, 64] } }, data);
    expectError(() => readSafetensors(f), /bad\.safetensors: tensor "a": data_offsets \[0, 64\] run past the end/);
    rawFile(f, { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data);
    expectError(() => readSafetensors(f), /tensor "a": shape \[3\] x F32 needs 12 bytes but data_offsets span 8/);
    rawFile(f, { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data);
    expectError(() => readSafetensors(f), /tensors "a" and "b" overlap/);
    rawFile(f, { a: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, data);
    expectError(() => readSafetensors(f), /tensor "a": unknown dtype "Q4"/);
    rawFile(f, { a: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, data);
    expectError(() => readSafetensors(f), /bad\.safetensors: tensor "a" has dtype I32/);
    // duplicate names: JSON.parse would silently keep the last one
    const dup = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}';
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(dup.length));
    fs.writeFileSync(f, Buffer.concat([len, Buffer.from(dup), data]));
    expectError(() => readSafetensors(f), /tensor "a" appears twice/);
    fs.writeFileSync(f, Buffer.from([1, 2, 3]));
    expectError(() => readSafetensors(f), /too short/);
    expectError(() => readSafetensors(path.join(dir, 'missing.safetensors')), /missing\.safetensors: cannot open/);
    expectError(() => readCheckpoint(path.join(dir, 'nothing-here')), /no model\.safetensors or model\.safetensors\.index\.json/);
  });
});
