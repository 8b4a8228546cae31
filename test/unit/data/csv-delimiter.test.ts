/**
 * A .csv that is really ';'- or tab-separated (spreadsheet exports where ',' is the decimal mark): the header line
 * decides the delimiter, quotes respected, so the file imports instead of failing as one field named "question;answer".
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { detectCsvDelimiter, readCsv } from '../../../main/engine/data/readers/csv';
import { readRecords, type RecordItem } from '../../../main/engine/data/readers';
import { openProjectDb } from '../../../main/engine/db/open';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { importDataset } from '../../../main/engine/data/import';
import { tempDir } from './helpers';

async function collect(path: string): Promise<RecordItem[]> {
  const out: RecordItem[] = [];
  for await (const r of readRecords(path)) out.push(r);
  return out;
}

describe('CSV delimiter detection', () => {
  it('picks the delimiter that splits the header into the most fields, quotes respected, ties keep ","', () => {
    expect(detectCsvDelimiter('question,answer')).toBe(',');
    expect(detectCsvDelimiter('question;answer')).toBe(';');
    expect(detectCsvDelimiter('question\tanswer\tsource')).toBe('\t');
    // a ';' inside a quoted header name does not count; here ',' splits into 3, ';' into 1
    expect(detectCsvDelimiter('"a;b",c,d')).toBe(',');
    // two commas inside quotes, two semicolons outside: ';' wins
    expect(detectCsvDelimiter('"x, y, z";q;r')).toBe(';');
    expect(detectCsvDelimiter('text')).toBe(',');
    expect(detectCsvDelimiter('a,b;c')).toBe(',');
  });

  it('reads a semicolon-separated .csv with decimal commas and quoted semicolons, however the text is chunked', async () => {
    const text = 'question;answer;score\r\n"What is 1;2?";"It is a list; not a number";0,5\r\nHi;"Hello, ""you""";1,25\r\n';
    const want = [
      { line: 2, record: { question: 'What is 1;2?', answer: 'It is a list; not a number', score: '0,5' } },
      { line: 3, record: { question: 'Hi', answer: 'Hello, "you"', score: '1,25' } },
    ];
    for (const chunks of [[text], text.split(''), [text.slice(0, 5), text.slice(5)]]) {
      const got: RecordItem[] = [];
      for await (const batch of readCsv(Readable.from(chunks), 'detect')) got.push(...batch);
      expect(got).toEqual(want);
    }
  });

  it('imports ;- and tab-separated .csv files as question/answer datasets', async () => {
    const t = tempDir();
    const db = openProjectDb(join(t.dir, 'p.winnow'));
    try {
      const semi = join(t.dir, 'export.csv');
      writeFileSync(semi, '\uFEFFquestion;answer\n"Zwei plus zwei; wie viel?";Vier\nDrei mal drei?;Neun\n');
      expect((await collect(semi)).map((r) => r.record)).toEqual([
        { question: 'Zwei plus zwei; wie viel?', answer: 'Vier' },
        { question: 'Drei mal drei?', answer: 'Neun' },
      ]);
      const r = await importDataset(db, { path: semi });
      expect(r).toMatchObject({ rows: 2, skipped: 0, mapping: { format: 'question_answer' } });
      expect(getExampleByRow(db, r.datasetId, 0).messages).toEqual([
        { role: 'user', content: 'Zwei plus zwei; wie viel?' },
        { role: 'assistant', content: 'Vier' },
      ]);

      const tabs = join(t.dir, 'tabs.csv');
      writeFileSync(tabs, 'prompt\tcompletion\nSay hi, please\tHi, there\n');
      expect((await collect(tabs)).map((x) => x.record)).toEqual([{ prompt: 'Say hi, please', completion: 'Hi, there' }]);

      // a comma file with a ';' inside a field is still read with ','
      const comma = join(t.dir, 'comma.csv');
      writeFileSync(comma, 'question,answer\nA;B?,C\n');
      expect((await collect(comma)).map((x) => x.record)).toEqual([{ question: 'A;B?', answer: 'C' }]);
    } finally {
      db.close();
      t.cleanup();
    }
  });
});
