/**
 * Trainable tokens as training will count them: a row with a hand-edited mask trains on that mask's ones, every other
 * row on its template's (`renders.n_label`). The Examples table sorts, filters and draws histograms on this number, so
 * a row whose edit left it 0 trainable tokens is found by "Trainable ≤ 0" and sorts with the other zeros.
 *
 * Edited rows are few (they are made by hand), and whether a mask applies to a render is decided in code
 * (`tokenMaskFor`: the mask must have been drawn on these tokens or ones they are a prefix of), so the edited counts
 * for one render key are resolved here and put in a temporary table. A page is then one compound SELECT of two arms
 * in the same order, which SQLite merges: the other rows from `renders.n_label`'s index (each checked against the
 * temporary table's key), and the edited rows from the temporary table. Page 0 reads about a page of index entries;
 * a page deep in a sorted table reads the entries before it, as any OFFSET does, plus a key lookup each
 * (bench/query.ts: `trainableWithEdits`). With no edited row that applies, the table's queries are unchanged.
 */
import type { Db } from './open';
import { getRender, tokenMaskFor } from './renders';

/** The hand-edited mask's name (the Examples screen saves under it; Train and Export read it by default). */
export const EDITED_MASK_NAME = 'edited';

/** The temporary table of one render key's edited counts (example_id, n). */
export const editedTable = (renderKeyId: number): string => `temp."edited_trainable_${renderKeyId}"`;

/** Trainable tokens over renders `r` and the edited table joined as `en` (the histogram's one pass over the rows). */
export const EDITED_N_LABEL = 'COALESCE(en.n, r.n_label)';

/** How a query's conditions name trainable tokens while the two arms below are built (each arm puts its own column). */
export const N_LABEL_SLOT = '{nl}';

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

/** A condition of the table's query: `{id}` is the example id, `{nl}` trainable tokens (N_LABEL_SLOT). */
export interface SlotCond { sql: string; args: unknown[] }

export interface EditedQuery {
  renderKeyId: number;
  conds: SlotCond[];
  /** the query reads examples (e.) or example_signals (s.) columns */
  joinE: boolean;
  joinS: boolean;
  /** the sort expression (may be N_LABEL_SLOT) and direction; null: example id order */
  sort: { expr: string; dir: 'ASC' | 'DESC' } | null;
  offset: number;
  limit: number;
}

const fill = (sql: string, id: string, nl: string) => sql.replaceAll('{id}', id).replaceAll(N_LABEL_SLOT, nl);

/** The two arms, each selecting (id, k): the rows without an edited mask, then the rows with one. */
function arms(o: EditedQuery): Array<{ sql: string; args: unknown[] }> {
  const table = editedTable(o.renderKeyId);
  return [false, true].map((edited) => {
    const id = edited ? 'en.example_id' : 'r.example_id';
    const nl = edited ? 'en.n' : 'r.n_label';
    // the edited arm is driven by its few rows (CROSS JOIN fixes the order), the other by the renders index
    const from = edited ? `${table} en CROSS JOIN renders r ON r.example_id = en.example_id AND r.render_key_id = ?` : 'renders r';
    const joins = [o.joinE ? `CROSS JOIN examples e ON e.id = ${id}` : '', o.joinS ? `LEFT JOIN example_signals s ON s.example_id = ${id}` : ''];
    const where = [...(edited ? [] : ['r.render_key_id = ?', `+r.example_id NOT IN (SELECT example_id FROM ${table})`]), ...o.conds.map((c) => fill(c.sql, id, nl))];
    const k = o.sort ? fill(o.sort.expr, id, nl) : id;
    return { sql: `SELECT ${id} AS id, ${k} AS k FROM ${from} ${joins.join(' ')} WHERE ${where.join(' AND ')}`, args: [o.renderKeyId, ...o.conds.flatMap((c) => c.args)] };
  });
}

/** Rows with a render of the key that meet the conditions, edited counts in place of the template's. */
export function countWithEdits(db: Db, o: EditedQuery): number {
  return arms(o).reduce((n, a) => n + (db.prepare(`SELECT COUNT(*) FROM (${a.sql})`).pluck().get(...a.args) as number), 0);
}

/**
 * One page of example ids in the table's order (sort expression, NULLs last, then id), edited counts in place of the
 * template's. Rows without a render of the key have no trainable count: when sorting by it (and not filtering on
 * it) they follow the others in id order, as in the table's other sorts.
 */
export function pageWithEdits(db: Db, o: EditedQuery, tail: boolean): number[] {
  const [a, b] = arms(o);
  const order = o.sort ? `2 ${o.sort.dir} NULLS LAST, 1 ${o.sort.dir}` : '1 ASC';
  const ids = db.prepare(`${a!.sql} UNION ALL ${b!.sql} ORDER BY ${order} LIMIT ? OFFSET ?`).pluck()
    .all(...a!.args, ...b!.args, o.limit, o.offset) as number[];
  if (!tail || ids.length >= o.limit) return ids;
  const valued = ids.length > 0 ? o.offset + ids.length : countWithEdits(db, o);
  const joins = o.joinS ? 'LEFT JOIN example_signals s ON s.example_id = e.id' : '';
  const where = ['NOT EXISTS (SELECT 1 FROM renders r WHERE r.example_id = e.id AND r.render_key_id = ?)', ...o.conds.map((c) => fill(c.sql, 'e.id', 'NULL'))];
  const dir = o.sort?.dir ?? 'ASC';
  return ids.concat(db.prepare(`SELECT e.id FROM examples e ${joins} WHERE ${where.join(' AND ')} ORDER BY e.id ${dir} LIMIT ? OFFSET ?`).pluck()
    .all(o.renderKeyId, ...o.conds.flatMap((c) => c.args), o.limit - ids.length, Math.max(0, o.offset - valued)) as number[]);
}
