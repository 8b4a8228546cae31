import { afterAll, describe, expect, it } from 'vitest';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { openProjectDb } from '../../../main/engine/db/open';
import { importDataset } from '../../../main/engine/data/import';
import { queryExamples } from '../../../main/engine/data/queryExamples';
import { writeExampleSignal } from '../../../main/engine/db/signals';
import { tempDir } from './helpers';

// A measurement, not an assertion on speed: prints rows/s for 100k generated GSM8K-shaped rows.
const ROWS = Number(process.env.WINNOW_IMPORT_ROWS ?? 20_000); // bench/import.ts measures a million
const t = tempDir();
afterAll(() => t.cleanup());

describe('import speed', () => {
  it(`imports ${ROWS} generated rows and reports rows/s`, async () => {
    const path = join(t.dir, 'gen.jsonl');
    const out = createWriteStream(path);
    for (let i = 0; i < ROWS; i++) {
      const line = JSON.stringify({
        question: `Sam has ${i} apples and buys ${i % 17} more. How many apples does Sam have now? Row ${i}.`,
        answer: `Sam has ${i} + ${i % 17} = <<${i}+${i % 17}=${i + (i % 17)}>>${i + (i % 17)} apples.\n#### ${i + (i % 17)}`,
      }) + '\n';
      if (!out.write(line)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');

    const db = openProjectDb(join(t.dir, 'p.winnow'));
    const t0 = performance.now();
    const r = await importDataset(db, { path });
    const s = (performance.now() - t0) / 1000;
    expect(r.rows).toBe(ROWS);
    console.log(`[import-speed] ${ROWS} rows in ${s.toFixed(2)} s = ${Math.round(ROWS / s)} rows/s`);

    writeExampleSignal(db, null, 'mean_loss', Array.from({ length: ROWS }, (_, i): [number, number] => [i + 1, Math.sin(i)]));
    const q0 = performance.now();
    const page = queryExamples(db, { sort: { column: 'mean_loss', dir: 'desc' }, offset: 5000, limit: 100 });
    const q1 = performance.now();
    const search = queryExamples(db, { text: 'apples 4242', offset: 0, limit: 100 });
    const q2 = performance.now();
    const rare = queryExamples(db, { text: '4242', offset: 0, limit: 100 });
    const q3 = performance.now();
    console.log(`[import-speed] over ${ROWS} rows: page sorted by a signal ${(q1 - q0).toFixed(0)} ms, ` +
      `search matching all rows ${(q2 - q1).toFixed(0)} ms, rare-word search ${(q3 - q2).toFixed(0)} ms`);
    expect(rare.total).toBeGreaterThan(0);
    expect(page.rows).toHaveLength(100);
    expect(search.total).toBeGreaterThan(0);
    db.close();
  }, 300_000);
});
