import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readRecords, parseCsvRows, type RecordItem } from '../../../main/engine/data/readers';
import { fixture, tempDir } from './helpers';

async function collect(path: string, opts = {}): Promise<RecordItem[]> {
  const out: RecordItem[] = [];
  for await (const r of readRecords(path, opts)) out.push(r);
  return out;
}

async function csvRows(chunks: string[], delim = ','): Promise<Array<{ line: number; fields: string[]; error?: string }>> {
  const out = [];
  const s = Readable.from(chunks);
  for await (const r of parseCsvRows(s, delim)) out.push(r);
  return out;
}

describe('readRecords', () => {
  it('streams the GSM8K sample line by line', async () => {
    const rows = await collect(fixture('gsm8k-50.jsonl'));
    expect(rows).toHaveLength(50);
    expect(rows[0].line).toBe(1);
    expect((rows[0].record as { question: string }).question).toMatch(/^Natalia sold clips/);
    expect(rows[49].line).toBe(50);
  });

  it('reports a malformed JSONL line with its number and keeps going', async () => {
    const rows = await collect(fixture('malformed.jsonl'));
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows[2].error).toMatch(/invalid JSON/);
    expect(rows[2].raw).toContain('Broken?');
    expect(rows[3].record).toEqual({ question: 'Fourth?', answer: 'Four.' });
  });

  it('reads .jsonl.gz', async () => {
    const rows = await collect(fixture('qa.jsonl.gz'));
    expect(rows.map((r) => r.record)).toEqual([{ question: 'Q1?', answer: 'A1' }, { question: 'Q2?', answer: 'A2' }]);
  });

  it('reads a JSON array and an object with one list field', async () => {
    expect((await collect(fixture('alpaca.json'))).map((r) => r.line)).toEqual([1, 2, 3]);
    const w = await collect(fixture('wrapped.json'));
    expect(w.map((r) => r.record)).toEqual([{ text: 'First document.' }, { text: 'Second document.' }]);
  });

  it('reads CSV with quotes, doubled quotes, commas and CRLF newlines inside fields', async () => {
    const rows = await collect(fixture('quoted.csv'));
    expect(rows.map((r) => r.record)).toEqual([
      { instruction: 'Write a poem about "rain"', output: 'Drops fall,\r\nthe street shines' },
      { instruction: 'Say hi', output: 'hi' },
      { instruction: 'Comma, inside', output: 'yes, really' },
    ]);
    // the row after the quoted newline starts on line 4
    expect(rows.map((r) => r.line)).toEqual([2, 4, 5]);
  });

  it('reads TSV with quoting', async () => {
    const rows = await collect(fixture('qa.tsv'));
    expect(rows.map((r) => r.record)).toEqual([
      { question: 'What is 2+2?', answer: '4' },
      { question: 'Tab\tinside', answer: 'quoted "x"' },
    ]);
  });

  it('parses CSV split at awkward chunk boundaries the same as whole', async () => {
    const text = 'a,b\n"x ""y""\nz",2\n"",\n';
    const whole = await csvRows([text]);
    const split = await csvRows(text.split(''));
    expect(split).toEqual(whole);
    expect(whole).toEqual([
      { line: 1, fields: ['a', 'b'], error: undefined },
      { line: 2, fields: ['x "y"\nz', '2'], error: undefined },
      { line: 4, fields: ['', ''], error: undefined },
    ]);
  });

  it('flags CSV rows with the wrong field count, text after a closing quote, or an unterminated quote', async () => {
    const t = tempDir();
    try {
      const p = join(t.dir, 'bad.csv');
      writeFileSync(p, 'a,b\n1,2,3\n"x"y,2\nok,fine\n"open,2\n');
      const rows = await collect(p);
      expect(rows[0]).toMatchObject({ line: 2, error: 'expected 2 fields (as in the header), found 3' });
      expect(rows[1]).toMatchObject({ line: 3, error: expect.stringMatching(/after a closing quote/) });
      expect(rows[2]).toMatchObject({ line: 4, record: { a: 'ok', b: 'fine' } });
      expect(rows[3]).toMatchObject({ line: 5, error: expect.stringMatching(/unterminated/) });
    } finally { t.cleanup(); }
  });

  it('reads plain text by blank-line blocks or by line', async () => {
    const blocks = await collect(fixture('stories.txt'));
    expect(blocks).toEqual([
      { line: 1, record: { text: 'Once upon a time there was a girl named Lily.\nShe liked to play outside.' } },
      { line: 4, record: { text: 'Tom had a red ball.\nHe threw it high.' } },
      { line: 7, record: { text: 'The end.' } },
    ]);
    expect(await collect(fixture('stories.txt'), { textMode: 'line' })).toHaveLength(5);
  });

  it('names the file when it is missing, not gzip, or of an unknown type', async () => {
    await expect(collect('/nonexistent/dir/train.jsonl')).rejects.toThrow(/train\.jsonl: file not found/);
    const t = tempDir();
    try {
      const p = join(t.dir, 'fake.jsonl.gz');
      writeFileSync(p, 'not gzip at all');
      await expect(collect(p)).rejects.toThrow(/fake\.jsonl\.gz: not a valid gzip/);
      const q = join(t.dir, 'x.parquet');
      writeFileSync(q, '');
      await expect(collect(q)).rejects.toThrow(/x\.parquet: not a valid Parquet file/);
      const g = join(t.dir, 'ok.csv.gz');
      writeFileSync(g, gzipSync('a,b\n1,2\n'));
      expect((await collect(g))[0].record).toEqual({ a: '1', b: '2' });
    } finally { t.cleanup(); }
  });
});
