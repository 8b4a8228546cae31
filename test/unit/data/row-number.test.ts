/**
 * Rows are numbered the same way everywhere in the UI (renderer format.ts rowNumber): the item's number in the
 * imported file, from 1. Checked on a real import of a JSONL file: the row numbered n holds the record on the file's
 * line n, and the "Edit mapping" preview (which numbers stored rows itself) agrees. And the table's "Trainable"
 * counts a hand-edited mask: the row carries the edited count and is marked, the others keep the template's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openProjectDb } from '../../../main/engine/db/open';
import { getRender, writeTokenMask } from '../../../main/engine/db/renders';
import { importDataset } from '../../../main/engine/data/import';
import { previewDataset } from '../../../main/engine/data/preview';
import { queryExamples } from '../../../main/engine/data/queryExamples';
import { renderDataset } from '../../../main/engine/data/renderDataset';
import { rowNumber } from '../../../renderer/src/components/format';
import { fixture, storiesTokenizer, tempDir } from './helpers';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function project() {
  const t = tempDir();
  const db = openProjectDb(join(t.dir, 'p.winnow'));
  cleanups.push(() => {
    db.close();
    t.cleanup();
  });
  return db;
}

describe('row numbers', () => {
  it('the row numbered n holds the record on line n of the file, and the mapping preview numbers it the same', async () => {
    const db = project();
    const file = fixture('gsm8k-50.jsonl');
    const { datasetId } = await importDataset(db, { path: file });
    const lines = readFileSync(file, 'utf8').split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
    const page = queryExamples(db, { datasetId, sort: { column: 'row_index', dir: 'asc' }, offset: 0, limit: 50 });
    expect(page.rows).toHaveLength(50);
    expect(rowNumber(page.rows[0]!.rowIndex)).toBe(1);
    for (const row of page.rows) {
      const stored = db.prepare('SELECT raw_json FROM examples WHERE id = ?').pluck().get(row.id) as string;
      expect(JSON.parse(stored), `row ${rowNumber(row.rowIndex)}`).toEqual(JSON.parse(lines[rowNumber(row.rowIndex) - 1]!));
    }
    const preview = previewDataset(db, datasetId, { rows: 5 });
    expect(preview.rows.map((r) => r.line)).toEqual(page.rows.slice(0, 5).map((r) => rowNumber(r.rowIndex)));
  });
});

describe('Trainable with a hand-edited mask', () => {
  it('the edited row counts its mask and is marked; the others count the template', async () => {
    const db = project();
    const { datasetId } = await importDataset(db, { path: fixture('gsm8k-50.jsonl') });
    const tok = await storiesTokenizer();
    const renderKeyId = (await renderDataset(db, datasetId, tok, { labelPolicy: 'assistant' })).renderKeyId;
    const q = () => queryExamples(db, { datasetId, renderKeyId, sort: { column: 'row_index', dir: 'asc' }, offset: 0, limit: 3 }).rows;
    const before = q();
    expect(before.every((r) => r.edited === undefined && (r.nLabel ?? 0) > 2)).toBe(true);

    // row 2: every token trained on but the first three
    const render = getRender(db, before[1]!.id, renderKeyId)!;
    const mask = Uint8Array.from({ length: render.nTokens }, (_, i) => (i < 3 ? 0 : 1));
    writeTokenMask(db, { name: 'edited', exampleId: render.exampleId, renderKeyId, tokenIds: render.tokenIds, mask, provenance: { edit: 'by hand' } });
    const after = q();
    expect(after[1]!.edited).toBe(true);
    expect(after[1]!.nLabel).toBe(render.nTokens - 3);
    expect(after[1]!.nLabel).not.toBe(before[1]!.nLabel);
    expect([after[0], after[2]].map((r) => [r!.nLabel, r!.edited])).toEqual([[before[0]!.nLabel, undefined], [before[2]!.nLabel, undefined]]);

    // a mask of another name is not the hand edit the table counts
    const other = getRender(db, before[2]!.id, renderKeyId)!;
    writeTokenMask(db, { name: 'experiment', exampleId: other.exampleId, renderKeyId, tokenIds: other.tokenIds, mask: new Uint8Array(other.nTokens), provenance: {} });
    expect(q()[2]!.nLabel).toBe(before[2]!.nLabel);
  });
});
