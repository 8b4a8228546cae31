/**
 * Hostile data files in every importable format: random text, broken JSON, ragged CSV, NUL bytes, huge fields,
 * wrong record shapes. Each import ends in a result or a WinnowError naming the file, a failed import leaves no partial
 * rows, and an imported file's rows all map again from what was stored.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { openProjectDb } from '../../../main/engine/db';
import { importDataset } from '../../../main/engine/data/import';
import { textIndexBacklog } from '../../../main/engine/data/textIndex';
import { examplesAfter } from '../../../main/engine/data/examples';
import { cleanly, count, counts, fuzzParams, fuzzSeed } from './fuzz';

/** this run's fast-check seed (printed; WINNOW_FUZZ_SEED replays it) */
const SEED = fuzzSeed('import');

const dir = mkdtempSync(join(tmpdir(), 'winnow-fuzz-imp-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  console.log('fuzz cases run:', JSON.stringify(counts));
});

const record = fc.oneof(
  fc.record({ question: fc.string(), answer: fc.string() }),
  fc.record({ instruction: fc.string(), input: fc.string(), output: fc.string() }),
  fc.record({ messages: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'tool', ''), content: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }), { maxLength: 4 }) }),
  fc.record({ conversations: fc.array(fc.record({ from: fc.constantFrom('human', 'gpt', 'system', 'x'), value: fc.string() }), { maxLength: 4 }) }),
  fc.record({ text: fc.string() }),
  fc.record({ prompt: fc.string(), completion: fc.string() }),
  fc.anything(),
);

const line = fc.oneof(
  record.map((r) => JSON.stringify(r) ?? 'undefined'),
  fc.string({ maxLength: 80 }),
  fc.constantFrom('{"question": "a", ', '{', '[]', 'null', '"str"', '\u0000\u0000', '{"text": "\ud800"}', '{"a":1}{"b":2}', ''),
);

let n = 0;
async function importCase(content: Buffer | string, ext: string, skipMalformed: boolean): Promise<void> {
  const file = join(dir, `case${n++}.${ext}`);
  writeFileSync(file, content);
  const db = openProjectDb(join(dir, `case${n}.winnow`));
  try {
    let message = '';
    const r = await cleanly(() => importDataset(db, { path: file, skipMalformed }).catch((err: Error) => {
      message = err.message;
      throw err;
    }));
    if (r === 'error') {
      // every import error names the file
      expect(message).toContain(basename(file));
      // the import is one transaction: nothing of it may remain
      expect(db.prepare('SELECT COUNT(*) FROM datasets').pluck().get()).toBe(0);
      expect(db.prepare('SELECT COUNT(*) FROM examples').pluck().get()).toBe(0);
    } else {
      // every stored row maps again as it was imported, and the search index is complete
      const rows = db.prepare('SELECT COUNT(*) FROM examples').pluck().get() as number;
      expect(examplesAfter(db, 1, 0, rows + 1)).toHaveLength(rows);
      expect(textIndexBacklog(db).filter((b) => b.pending > 0)).toEqual([]);
    }
  } finally {
    db.close();
  }
}

describe('importers under fuzzing', () => {
  it('JSONL (plain and gzipped)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 12 }), fc.boolean(), fc.boolean(), async (lines, skip, gz) => {
        count('import/jsonl');
        const text = lines.join('\n');
        await importCase(gz ? gzipSync(text) : text, gz ? 'jsonl.gz' : 'jsonl', skip);
      }),
      fuzzParams(SEED, 150),
    );
  });

  it('JSON documents', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(record, { maxLength: 6 }).map((a) => JSON.stringify(a)), fc.anything().map((a) => JSON.stringify(a) ?? ''), fc.string()), fc.boolean(), async (doc, skip) => {
        count('import/json');
        await importCase(doc, 'json', skip);
      }),
      fuzzParams(SEED, 120),
    );
  });

  it('CSV and TSV', async () => {
    const cell = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('"', '""', '"a,b"', '"unterminated', 'x\ny', '\t', '\r\n'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(cell, { maxLength: 5 }), { maxLength: 8 }),
        fc.constantFrom(['question', 'answer'], ['instruction', 'output'], ['text'], ['a', 'b', 'c']),
        fc.constantFrom(',', '\t'),
        fc.boolean(),
        async (rows, header, sep, skip) => {
          count('import/csv');
          const text = [header.join(sep), ...rows.map((r) => r.join(sep))].join('\n');
          await importCase(text, sep === ',' ? 'csv' : 'tsv', skip);
        },
      ),
      fuzzParams(SEED, 150),
    );
  });

  it('plain text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (text) => {
        count('import/txt');
        await importCase(text, 'txt', false);
      }),
      fuzzParams(SEED, 80),
    );
  });
});
