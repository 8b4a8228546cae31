/**
 * Changing a stored dataset's mapping: every row is mapped again from its stored record (never the source file,
 * which may have moved), in one transaction, and what was computed from the old messages is removed: renders,
 * per-example and per-token scores, embeddings, hand-edited token masks, the search index, and the layer scores of
 * runs that read the dataset (those runs are marked `stale`). Subsets keep their rows (the rows are the same) but are
 * marked stale, since the scores that chose them are gone. The caller then indexes, renders and finds duplicates
 * again (import-job.ts), as after an import.
 */
import type { Db } from '../db/open';
import { WinnowError } from '../util/errors';
import { countDatasetDependents, deleteDatasetDerived, examplePager, getDataset, scoreRunsReadingDataset, setDatasetMapping, subsetsHoldingDataset } from '../db/datasets';
import { remappedExampleWriter } from '../db/examples';
import { listSignalColumns } from '../db/signals';
import { DUPLICATE_COLUMNS } from './duplicates';
import { toMessages, type Mapping } from './formats';
import { charCount } from './normalize';
import type { RemapImpact } from '../../../preload/contract';
import { beginImmediate, commit, rollbackIfOpen } from '../db/transaction';

export type { RemapImpact };

/** What a re-mapping would invalidate; shown before the user confirms, and returned by the job. */
export function remapImpact(db: Db, datasetId: number): RemapImpact {
  const ds = getDataset(db, datasetId);
  // the duplicate columns are computed again by the job, from the new messages: not counted as lost scores
  const scored = listSignalColumns(db).filter((c) => !DUPLICATE_COLUMNS.includes(c));
  const runs = scoreRunsReadingDataset(db, datasetId, ds.createdAt);
  const counts = countDatasetDependents(db, datasetId, scored);
  return {
    rows: ds.rowCount,
    renders: counts.renders,
    scoredExamples: counts.scoredExamples,
    scoreRuns: runs.map((r) => ({ id: r.id, signals: parseSignals(r.signals_json) })),
    tokenMasks: counts.tokenMasks,
    subsets: subsetsHoldingDataset(db, datasetId),
  };
}

function parseSignals(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

export interface RemapOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

const PAGE = 5000;
/** rows named in the error when some rows do not fit the new mapping */
const SHOW_BAD = 5;

/**
 * Re-map every row of the dataset with `mapping` in one transaction. If any row does not fit, nothing changes and the
 * error names how many and the first few (rows are 0-based row indexes of the dataset). Returns what was invalidated.
 */
export async function remapDataset(db: Db, datasetId: number, mapping: Mapping, opts: RemapOptions = {}): Promise<RemapImpact> {
  const ds = getDataset(db, datasetId);
  const impact = remapImpact(db, datasetId);
  const page = examplePager<{ id: number; rowIndex: number; raw: string }>(db, datasetId, 'id, row_index AS rowIndex, raw_json AS raw');
  // messages, preview and hash follow from the record and the new mapping (derived on read / by the duplicate pass)
  const update = remappedExampleWriter(db);
  const checkAbort = () => {
    if (opts.signal?.aborted) throw new WinnowError('cancelled', `re-mapping dataset "${ds.name}" cancelled; nothing changed`);
  };
  const bad: string[] = [];
  let nBad = 0;
  let done = 0;
  beginImmediate(db);
  try {
    let after = 0;
    for (;;) {
      checkAbort();
      const rows = page(after, PAGE);
      if (rows.length === 0) break;
      for (const r of rows) {
        try {
          const norm = toMessages(JSON.parse(r.raw), mapping, `row ${r.rowIndex + 1}`);
          if (nBad === 0) update(r.id, charCount(norm));
        } catch (err) {
          if (!(err instanceof WinnowError)) throw err;
          if (nBad++ < SHOW_BAD) bad.push(err.message);
        }
      }
      after = rows[rows.length - 1].id;
      done += rows.length;
      opts.onProgress?.(done, ds.rowCount);
      await new Promise((r) => setImmediate(r));
    }
    if (nBad > 0) {
      throw new WinnowError('parse_error', `${nBad} of ${done} rows of "${ds.name}" do not fit the new mapping, so nothing was changed: ${bad.join('; ')}${nBad > bad.length ? '; …' : ''}`,
        { badRows: nBad });
    }
    checkAbort();
    const runIds = impact.scoreRuns.map((r) => r.id);
    const reason = `dataset "${ds.name}" was re-mapped`;
    deleteDatasetDerived(db, datasetId, runIds, reason);
    const fileFormat = ds.format.includes(':') ? ds.format.slice(0, ds.format.indexOf(':')) : ds.format;
    setDatasetMapping(db, datasetId, mapping, `${fileFormat}:${mapping.format}`);
    commit(db);
  } catch (err) {
    rollbackIfOpen(db);
    throw err;
  }
  return impact;
}
