/**
 * A full disk: the project database is capped (SQLite max_page_count) so writes fail with SQLITE_FULL mid-import.
 * The error is clear, the database passes integrity_check, and nothing of the failed import remains.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openProjectDb } from '../../../main/engine/db';
import { importDataset } from '../../../main/engine/data/import';
import { toErrorValue } from '../../../main/engine/util/errors';

const dir = mkdtempSync(join(tmpdir(), 'winnow-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('full disk', () => {
  it('an import that fills the database fails clearly and leaves the project as it was', async () => {
    const small = join(dir, 'small.jsonl');
    writeFileSync(small, '{"question": "1+1?", "answer": "2"}\n');
    const big = join(dir, 'big.jsonl');
    const row = (i: number) => JSON.stringify({ question: `Question ${i}: ${'how many apples '.repeat(20)}`, answer: `Answer ${i}: ${'there are many apples '.repeat(30)}` });
    writeFileSync(big, Array.from({ length: 3000 }, (_, i) => row(i)).join('\n') + '\n');

    const db = openProjectDb(join(dir, 'p.winnow'));
    await importDataset(db, { path: small });
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 40}`);
    let error: unknown;
    try {
      await importDataset(db, { path: big });
    } catch (err) {
      error = err;
    }
    expect(error).toBeDefined();
    const value = toErrorValue(error);
    expect(value.code).toBe('io_error');
    expect(value.message).toMatch(/disk is full/);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.prepare('SELECT COUNT(*) FROM datasets').pluck().get()).toBe(1);
    expect(db.prepare('SELECT COUNT(*) FROM examples').pluck().get()).toBe(1);
    db.close();
  });
});
