/**
 * Hostile Parquet files through the importer: valid files whose columns have unexpected types (int64 beyond 2^53,
 * bytes, timestamps, JSON, floats where text is expected), and valid files (generated here with hyparquet-writer,
 * and the pyarrow fixtures: nested messages, snappy, gzip) with a corrupt footer length, wrong magic, truncated row
 * groups, flipped bytes or garbled metadata, and plain random bytes. Each import ends in a result or a WinnowError
 * naming the file, within a time limit, and a refused file leaves the project database exactly as it was; an imported
 * file's rows all map again from what was stored, and the search index is complete after each import.
 * WINNOW_FUZZ_VERBOSE=1 prints each case's outcome; WINNOW_FUZZ_KEEP=<folder> copies the cases and the project there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import { openProjectDb, type Db } from '../../../main/engine/db';
import { importDataset } from '../../../main/engine/data/import';
import { textIndexBacklog } from '../../../main/engine/data/textIndex';
import { examplesAfter } from '../../../main/engine/data/examples';
import { cleanly, count, counts, dbSnapshot, fuzzParams, fuzzSeed, withinTime } from './fuzz';

/** this run's fast-check seed (printed; WINNOW_FUZZ_SEED replays it) */
const SEED = fuzzSeed('parquet');

const FIXTURES = resolve(__dirname, '../../fixtures/data');
const dir = mkdtempSync(join(tmpdir(), 'winnow-fuzz-pq-'));
let db: Db;
beforeAll(() => {
  db = openProjectDb(join(dir, 'project.winnow'));
});
afterAll(() => {
  db.close();
  if (process.env.WINNOW_FUZZ_KEEP) cpSync(dir, process.env.WINNOW_FUZZ_KEEP, { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  console.log('fuzz cases run:', JSON.stringify(counts));
});

const NAMES = ['question', 'answer', 'text', 'messages', 'instruction', 'input', 'output', 'prompt', 'completion', 'conversations', 'id'];

/** One column of `rows` values of a type the importer may not expect, nulls included. */
function column(rows: number): fc.Arbitrary<ColumnSource> {
  const of = <T,>(a: fc.Arbitrary<T>) => fc.array(fc.option(a, { nil: null, freq: 5 }), { minLength: rows, maxLength: rows });
  const typed: Array<fc.Arbitrary<Omit<ColumnSource, 'name'>>> = [
    of(fc.string({ maxLength: 40 })).map((data) => ({ type: 'STRING' as const, data })),
    of(fc.integer()).map((data) => ({ type: 'INT32' as const, data })),
    of(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map((data) => ({ type: 'INT64' as const, data })),
    of(fc.double()).map((data) => ({ type: 'DOUBLE' as const, data })),
    of(fc.float({ noNaN: true })).map((data) => ({ type: 'FLOAT' as const, data })),
    of(fc.boolean()).map((data) => ({ type: 'BOOLEAN' as const, data })),
    of(fc.uint8Array({ maxLength: 24 })).map((data) => ({ type: 'BYTE_ARRAY' as const, data })),
    of(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })).map((data) => ({ type: 'TIMESTAMP' as const, data })),
    // JSON text: message lists (good and bad), other shapes
    of(
      fc.oneof(
        fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'x'), content: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }), { maxLength: 3 }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    ).map((data) => ({ type: 'JSON' as const, data })),
  ];
  return fc.oneof(...typed).map((c) => c as ColumnSource);
}

const validFile = fc
  .record({ rows: fc.integer({ min: 0, max: 12 }), groups: fc.integer({ min: 1, max: 5 }), codec: fc.constantFrom('SNAPPY', 'UNCOMPRESSED') as fc.Arbitrary<'SNAPPY' | 'UNCOMPRESSED'> })
  .chain(({ rows, groups, codec }) =>
    fc
      .uniqueArray(fc.oneof(fc.constantFrom(...NAMES), fc.string({ minLength: 1, maxLength: 8 })), { minLength: 1, maxLength: 4 })
      .chain((names) => fc.tuple(...names.map((name) => column(rows).map((c) => ({ ...c, name })))))
      .map((columnData) => Buffer.from(parquetWriteBuffer({ columnData, rowGroupSize: groups, codec }))),
  );

let n = 0;
/** Imports `bytes` as a .parquet file: a result or a WinnowError naming the file, and nothing kept when refused. */
async function importCase(bytes: Uint8Array, skipMalformed: boolean): Promise<'ok' | 'error'> {
  const name = `case${n++}.parquet`;
  const file = join(dir, name);
  writeFileSync(file, bytes);
  const before = dbSnapshot(db);
  let message = '';
  const r = await withinTime(10_000, name, () =>
    cleanly(async () => {
      try {
        await importDataset(db, { path: file, skipMalformed });
      } catch (err) {
        message = (err as Error).message;
        throw err;
      }
    }),
  );
  if (process.env.WINNOW_FUZZ_VERBOSE) console.log(name, skipMalformed ? 'skip' : 'strict', r, message.slice(0, 200));
  if (r === 'error') {
    expect(message).toContain(name);
    expect(dbSnapshot(db)).toEqual(before);
  } else {
    expect(dbSnapshot(db).datasets).toBe(before.datasets + 1);
    // every stored row maps again as it was imported (a NaN stored as JSON null did not, and broke later imports)
    const id = db.prepare('SELECT MAX(id) FROM datasets').pluck().get() as number;
    let derived = 0;
    for (let page = examplesAfter(db, id, 0, 500); page.length; page = examplesAfter(db, id, page[page.length - 1]!.id, 500)) derived += page.length;
    expect(derived).toBe(dbSnapshot(db).examples - before.examples);
    expect(textIndexBacklog(db).filter((b) => b.pending > 0)).toEqual([]);
  }
  return r;
}

/** The file's footer: metadata length (u32 LE) and magic `PAR1` in the last 8 bytes. */
function metadataRange(b: Buffer): [number, number] {
  const len = b.readUInt32LE(b.length - 8);
  return [Math.max(4, b.length - 8 - Math.min(len, b.length)), b.length - 8];
}

type Mutation =
  | { kind: 'footer-length'; value: number }
  | { kind: 'magic'; where: 'head' | 'tail'; bytes: Uint8Array }
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number[]; values: number[] }
  | { kind: 'garble-metadata'; at: number; bytes: Uint8Array }
  | { kind: 'drop-range'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('footer-length' as const), value: fc.oneof(fc.constantFrom(0, 1, 7, 8, 0x7fffffff, 0xffffffff), fc.nat({ max: 0xffffffff })) }),
  fc.record({ kind: fc.constant('magic' as const), where: fc.constantFrom('head' as const, 'tail' as const), bytes: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }), values: fc.array(fc.nat({ max: 255 }), { minLength: 8, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('garble-metadata' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('drop-range' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(src: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(src);
  const pos = (f: number, len = b.length) => Math.min(len - 1, Math.floor(f * len));
  // past the leading magic: a damaged head is refused at once (the 'magic' and 'truncate' mutations cover it), and
  // flips and cuts there would keep most cases from reaching the footer and the pages
  const body = (f: number) => 4 + pos(f, b.length - 4);
  if (b.length < 12) return b; // an earlier mutation already cut it to less than a header and a footer
  switch (m.kind) {
    case 'footer-length':
      b.writeUInt32LE(m.value, b.length - 8);
      return b;
    case 'magic':
      b.set(m.bytes, m.where === 'head' ? 0 : b.length - 4);
      return b;
    case 'truncate':
      return b.subarray(0, pos(m.at, b.length + 1));
    case 'flip':
      m.at.forEach((f, i) => (b[body(f)] = m.values[i]!));
      return b;
    case 'garble-metadata': {
      const [lo, hi] = metadataRange(b);
      const at = lo + Math.floor(m.at * Math.max(0, hi - lo - m.bytes.length));
      b.set(m.bytes.subarray(0, Math.max(0, b.length - at)), at);
      return b;
    }
    case 'drop-range': {
      const at = body(m.at);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
    }
  }
}

describe('Parquet importer under fuzzing', () => {
  it('valid files with columns of unexpected types', async () => {
    let ok = 0;
    await fc.assert(
      fc.asyncProperty(validFile, fc.boolean(), async (bytes, skip) => {
        count('parquet/odd-types');
        if ((await importCase(bytes, skip)) === 'ok') ok++;
      }),
      fuzzParams(SEED, 150),
    );
    expect(ok).toBeGreaterThan(0); // the generator makes importable files too, not only refusals
  });

  it('corrupt footer length, wrong magic, truncated row groups, flipped bytes, garbled metadata', async () => {
    const fixtures = ['chat.parquet', 'gsm8k-10.parquet'].map((f) => readFileSync(join(FIXTURES, f)));
    const base = fc.oneof(fc.constantFrom(...fixtures), validFile);
    await fc.assert(
      fc.asyncProperty(base, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), async (src, ms, skip) => {
        count('parquet/mutated');
        await importCase(ms.reduce(mutate, src), skip);
      }),
      fuzzParams(SEED, 400),
    );
  });

  it('random bytes, with and without the PAR1 magic', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.boolean(), async (body, head, tail) => {
        count('parquet/random');
        const magic = Buffer.from('PAR1');
        const r = await importCase(Buffer.concat([head ? magic : Buffer.alloc(0), body, tail ? magic : Buffer.alloc(0)]), false);
        expect(r).toBe('error');
      }),
      fuzzParams(SEED, 150),
    );
  });
});
