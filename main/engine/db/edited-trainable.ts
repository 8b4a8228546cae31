/**
 * Trainable tokens as training will count them: a row with a hand-edited mask trains on that mask's ones, every other
 * row on its template's (`renders.n_label`). The Examples table sorts, filters and draws histograms on this number, so
 * a row whose edit left it 0 trainable tokens is found by "Trainable ≤ 0" and sorts with the other zeros.
 *
 * Edited rows are few (they are made by hand), and whether a mask applies to a render is decided in code
 * (`tokenMaskFor`: the mask must have been drawn on these tokens or ones they are a prefix of), so the edited counts
 * for one render key are resolved here and put in a temporary table, which the queries LEFT JOIN by example id. With
 * no edited row that applies, the queries keep using `renders.n_label` and its index unchanged.
 */
import type { Db } from './open';
import { getRender, tokenMaskFor } from './renders';

/** The hand-edited mask's name (the Examples screen saves under it; Train and Export read it by default). */
export const EDITED_MASK_NAME = 'edited';

/** The temporary table of one render key's edited counts (example_id, n). */
export const editedTable = (renderKeyId: number): string => `temp."edited_trainable_${renderKeyId}"`;

/** The trainable-tokens expression over renders `r` and the edited table joined as `en`. */
export const EDITED_N_LABEL = 'COALESCE(en.n, r.n_label)';

/** The edited rows' trainable counts for this render key: example id → count, for the rows whose mask applies. */
export function editedTrainableCounts(db: Db, renderKeyId: number): Map<number, number> {
  const ids = db.prepare('SELECT DISTINCT example_id FROM token_masks WHERE name = ? ORDER BY example_id').pluck().all(EDITED_MASK_NAME) as number[];
  const out = new Map<number, number>();
  for (const id of ids) {
    const render = getRender(db, id, renderKeyId);
    const m = render && tokenMaskFor(db, EDITED_MASK_NAME, render);
    if (m) out.set(id, m.mask.reduce((a, b) => a + b, 0));
  }
  return out;
}

/**
 * Fills the render key's temporary table with the edited counts (replacing what an earlier query left) and says
 * whether any row has one. Temporary tables belong to this connection only and are never written to the project file.
 */
export function prepareEditedTrainable(db: Db, renderKeyId: number): boolean {
  const counts = editedTrainableCounts(db, renderKeyId);
  const table = editedTable(renderKeyId);
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS "edited_trainable_${renderKeyId}" (example_id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`);
  db.transaction(() => {
    db.prepare(`DELETE FROM ${table}`).run();
    const put = db.prepare(`INSERT INTO ${table} (example_id, n) VALUES (?, ?)`);
    for (const [id, n] of counts) put.run(id, n);
  })();
  return counts.size > 0;
}
