/**
 * Hostile Arrow files through the importer, as the Parquet reader is fuzzed: valid IPC streams and files (the
 * `datasets` library writes streams) whose columns have unexpected types (int64 beyond 2^53, floats, booleans,
 * binary, lists, structs, nulls), then the same with truncation, flipped bytes, dropped ranges or a garbled message
 * length, and random bytes with and without Arrow's magic and continuation marker. Each import ends in a result or
 * a WinnowError naming the file, within a time limit, and a refused file leaves the project database as it was.
 * The run's seed is printed; WINNOW_FUZZ_SEED replays it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Binary, Bool, Field, Float64, Int32, Int64, List, Struct, Table, Utf8, tableToIPC, vectorFromArray, type DataType } from 'apache-arrow';
import { openProjectDb, type Db } from '../../../main/engine/db';
import { importDataset } from '../../../main/engine/data/import';
import { cleanly, count, counts, dbSnapshot, withinTime } from './fuzz';

const SCALE = Number(process.env.WINNOW_FUZZ_SCALE ?? 1);
const SEED = process.env.WINNOW_FUZZ_SEED ? Number(process.env.WINNOW_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const dir = mkdtempSync(join(tmpdir(), 'winnow-fuzz-arrow-'));
// a small worker heap: a corrupt length's runaway allocation ends (as an error naming the file) in a second or two
process.env.WINNOW_ARROW_HEAP_MB = '48';
// and a short watchdog: some corrupt lengths send apache-arrow into a loop that allocates nothing
process.env.WINNOW_ARROW_STALL_MS = '3000';
let db: Db;
beforeAll(() => {
  console.log(`arrow fuzz seed: ${SEED} (replay with WINNOW_FUZZ_SEED=${SEED})`);
  db = openProjectDb(join(dir, 'project.winnow'));
});
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
  console.log('fuzz cases run:', JSON.stringify(counts));
});

const NAMES = ['question', 'answer', 'text', 'messages', 'instruction', 'output', 'prompt', 'completion', 'label', 'id'];
const MSG = new List(new Field('item', new Struct([new Field('content', new Utf8(), true), new Field('role', new Utf8(), true)]), true));

/** One column of `rows` values of some type, nulls included. */
function column(rows: number): fc.Arbitrary<{ type: DataType; values: unknown[] }> {
  const of = <T,>(a: fc.Arbitrary<T>) => fc.array(fc.option(a, { nil: null, freq: 5 }), { minLength: rows, maxLength: rows });
  return fc.oneof(
    of(fc.string({ maxLength: 40 })).map((values) => ({ type: new Utf8() as DataType, values })),
    of(fc.integer()).map((values) => ({ type: new Int32() as DataType, values })),
    of(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map((values) => ({ type: new Int64() as DataType, values })),
    of(fc.double()).map((values) => ({ type: new Float64() as DataType, values })),
    of(fc.boolean()).map((values) => ({ type: new Bool() as DataType, values })),
    of(fc.uint8Array({ maxLength: 24 })).map((values) => ({ type: new Binary() as DataType, values })),
    of(fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 })).map((values) => ({ type: new List(new Field('item', new Utf8(), true)) as DataType, values })),
    of(fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'x'), content: fc.option(fc.string({ maxLength: 20 }), { nil: null }) }), { maxLength: 3 }))
      .map((values) => ({ type: MSG as DataType, values })),
  );
}

const validFile = fc
  .record({ rows: fc.integer({ min: 0, max: 12 }), batch: fc.integer({ min: 1, max: 5 }), kind: fc.constantFrom('stream' as const, 'file' as const), withText: fc.boolean() })
  .chain(({ rows, batch, kind, withText }) =>
    fc.uniqueArray(fc.oneof(fc.constantFrom(...NAMES), fc.string({ minLength: 1, maxLength: 8 })), { minLength: 1, maxLength: 4 })
      .chain((names) => fc.tuple(
        // half the files carry a plain text column, so importable files come up too, not only refusals
        fc.array(fc.string({ minLength: 1, maxLength: 30 }).filter((t) => t.trim() !== ''), { minLength: rows, maxLength: rows }),
        ...names.filter((x) => !withText || x !== 'text').map((name) => column(rows).map((c) => ({ ...c, name }))),
      ))
      .map(([text, ...rest]) => {
        const cols = withText ? [{ name: 'text', type: new Utf8() as DataType, values: text as unknown[] }, ...rest] : rest;
        const parts: Table[] = [];
        for (let at = 0; at < Math.max(rows, 1); at += batch) {
          parts.push(new Table(Object.fromEntries(cols.map((c) => [c.name, vectorFromArray(c.values.slice(at, at + batch), c.type)]))));
        }
        return Buffer.from(tableToIPC(parts.slice(1).reduce((a, b) => a.concat(b), parts[0]), kind));
      }),
  );

let n = 0;
async function importCase(bytes: Uint8Array, skipMalformed: boolean): Promise<'ok' | 'error'> {
  const name = `case${n++}.arrow`;
  const file = join(dir, name);
  writeFileSync(file, bytes);
  if (process.env.WINNOW_FUZZ_VERBOSE) console.log('case', name, bytes.length);
  const before = dbSnapshot(db);
  let message = '';
  const r = await withinTime(30_000, name, () => cleanly(async () => {
    try {
      await importDataset(db, { path: file, skipMalformed });
    } catch (err) {
      message = (err as Error).message;
      throw err;
    }
  }));
  if (process.env.WINNOW_FUZZ_VERBOSE) console.log(r, message.slice(0, 200));
  if (r === 'error') {
    expect(message).toContain(name);
    expect(dbSnapshot(db)).toEqual(before);
  } else expect(dbSnapshot(db).datasets).toBe(before.datasets + 1);
  return r;
}

type Mutation = { kind: 'truncate'; at: number } | { kind: 'flip'; at: number[]; values: number[] } | { kind: 'drop'; at: number; length: number } | { kind: 'length'; value: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }), values: fc.array(fc.nat({ max: 255 }), { minLength: 8, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 64 }) }),
  // the first message's metadata length (after the 0xFFFFFFFF continuation marker of a stream)
  fc.record({ kind: fc.constant('length' as const), value: fc.oneof(fc.constantFrom(0, 1, 8, 0x7fffffff, 0xffffffff), fc.nat({ max: 0xffffffff })) }),
);
function mutate(src: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(src);
  if (b.length < 8) return b;
  const pos = (f: number, len = b.length) => Math.min(len - 1, Math.floor(f * len));
  switch (m.kind) {
    case 'truncate': return b.subarray(0, pos(m.at, b.length + 1));
    case 'flip': m.at.forEach((f, i) => (b[pos(f)] = m.values[i]!)); return b;
    case 'drop': { const at = pos(m.at); return Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]); }
    case 'length': b.writeUInt32LE(m.value, b.readUInt32LE(0) === 0xffffffff ? 4 : Math.min(b.length - 4, 8)); return b;
  }
}

const run = (numRuns: number) => ({ numRuns: numRuns * SCALE, seed: SEED });

describe('Arrow importer under fuzzing', () => {
  it('valid streams and files with columns of unexpected types', async () => {
    let ok = 0;
    await fc.assert(fc.asyncProperty(validFile, fc.boolean(), async (bytes, skip) => {
      count('arrow/odd-types');
      if ((await importCase(bytes, skip)) === 'ok') ok++;
    }), run(60));
    expect(ok).toBeGreaterThan(0);
  }, 300_000);

  it('truncated, flipped, dropped bytes and garbled message lengths', async () => {
    await fc.assert(fc.asyncProperty(validFile, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), async (src, ms, skip) => {
      count('arrow/mutated');
      await importCase(ms.reduce(mutate, src), skip);
    }), run(100));
  }, 300_000);

  it('random bytes, with and without the ARROW1 magic and the continuation marker', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.constantFrom('none', 'magic', 'marker'), async (body, head) => {
      count('arrow/random');
      const prefix = head === 'magic' ? Buffer.from('ARROW1\0\0') : head === 'marker' ? Buffer.from([0xff, 0xff, 0xff, 0xff]) : Buffer.alloc(0);
      await importCase(Buffer.concat([prefix, body]), false);
    }), run(60));
  }, 300_000);
});
