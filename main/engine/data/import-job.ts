/**
 * The import job: one transactional import (see import.ts), the search index (textIndex.ts), then a render with the
 * project's active model so the table shows token counts and the rows that cannot be rendered are listed at once,
 * then the duplicate signals (exact_dup, near_dup and their size/rank columns; see duplicates.ts).
 * The `remap` job kind runs this same code to re-map a stored dataset (params.remap: remap.ts, then the same index,
 * render and duplicates); an import job also finishes search indexes left incomplete by a cancelled or killed job
 * (`textIndexOnly`).
 */
import { openProjectDb, type Db } from '../db';
import type { JobContext, JobOutcome } from '../jobs/types';
import { importDataset } from './import';
import { renderDataset } from './renderDataset';
import { loadTokenizer } from '../models/tokenizer';
import { DEFAULT_RENDER } from '../api/examples';
import type { FileFormat } from './readers';
import { describeMapping, type Mapping } from './formats';
import { computeDuplicates } from './duplicates';
import { indexText } from './textIndex';
import { remapDataset } from './remap';
import { WinnowError } from '../util/errors';

export interface ImportJobParams {
  path?: string; name?: string; format?: FileFormat; mapping?: Mapping; textMode?: 'block' | 'line'; skipMalformed?: boolean;
  /** re-map this stored dataset with `mapping` instead of importing a file */
  remap?: { datasetId: number; mapping: Mapping };
  /** only finish the search index of datasets that are behind */
  textIndexOnly?: boolean;
}

export async function runImportJob(ctx: JobContext): Promise<JobOutcome> {
  const p = ctx.params as ImportJobParams;
  const db = openProjectDb(ctx.dbPath);
  const abort = new AbortController();
  const poll = setInterval(() => {
    if (ctx.isCancelled()) abort.abort();
  }, 50);
  const indexProgress = (done: number, total: number) => ctx.progress({ current: done, total, message: `indexing text for search: ${done}/${total} rows` });
  try {
    if (p.textIndexOnly) {
      const r = await indexText(db, { signal: abort.signal, onProgress: indexProgress });
      if (!r.complete) throw new WinnowError('cancelled', `search indexing cancelled after ${r.indexed} rows; the next import finishes it`);
      return { message: `indexed ${r.indexed} rows for search`, stats: { indexed: r.indexed } };
    }
    if (p.remap) {
      const { datasetId, mapping } = p.remap;
      ctx.progress({ current: 0, total: 0, message: `re-mapping dataset ${datasetId}` });
      const impact = await remapDataset(db, datasetId, mapping, {
        signal: abort.signal,
        onProgress: (done, total) => ctx.progress({ current: done, total, message: `re-mapped ${done}/${total} rows` }),
      });
      const text = await indexText(db, { signal: abort.signal, onProgress: indexProgress });
      const tail = await renderAndDuplicates(ctx, db, datasetId, abort.signal, text.complete);
      const deleted = [
        impact.renders ? `${impact.renders} renders` : '', impact.scoredExamples ? `scores of ${impact.scoredExamples} examples` : '',
        impact.tokenMasks ? `${impact.tokenMasks} token masks` : '',
      ].filter(Boolean);
      return {
        message: `re-mapped ${impact.rows} rows as ${mapping.format}` +
          `${deleted.length ? `; deleted ${deleted.join(', ')}` : ''}` +
          `${impact.scoreRuns.length ? `; score runs ${impact.scoreRuns.map((r) => r.id).join(', ')} marked stale` : ''}` +
          `${impact.subsets.length ? `; subsets marked stale: ${impact.subsets.map((s) => s.name).join(', ')}` : ''}${tail.message}`,
        stats: {
          datasetId, rows: impact.rows, deletedRenders: impact.renders, deletedScoredExamples: impact.scoredExamples,
          deletedTokenMasks: impact.tokenMasks, staleScoreRuns: impact.scoreRuns.map((r) => r.id).join(','),
          staleSubsets: impact.subsets.map((s) => s.name).join(','), ...tail.stats,
        },
      };
    }

    if (!p.path) throw new WinnowError('bad_input', 'import: no file given');
    ctx.progress({ current: 0, total: 0, message: `importing ${p.path}` });
    let textComplete = true;
    const res = await importDataset(db, {
      path: p.path,
      name: p.name,
      format: p.format,
      mapping: p.mapping,
      textMode: p.textMode,
      skipMalformed: p.skipMalformed,
      signal: abort.signal,
      onProgress: (done, total) => ctx.progress({ current: done, total: total ?? 0, message: `imported ${done} rows` }),
      onIndexProgress: (done, total) => {
        textComplete = done >= total;
        indexProgress(done, total);
      },
    });
    const tail = await renderAndDuplicates(ctx, db, res.datasetId, abort.signal, textComplete);
    return {
      message: `imported ${res.rows} rows as ${describeMapping(res.mapping)}${res.skipped ? `, skipped ${res.skipped} malformed` : ''}${tail.message}`,
      stats: { datasetId: res.datasetId, rows: res.rows, skipped: res.skipped, format: res.mapping.format, mapping: JSON.stringify(res.mapping), ...tail.stats },
    };
  } finally {
    clearInterval(poll);
    db.close();
  }
}

/** After the rows are in: render with the active model, then the duplicate signals. */
async function renderAndDuplicates(ctx: JobContext, db: Db, datasetId: number, signal: AbortSignal, textComplete: boolean) {
  if (signal.aborted) {
    throw new WinnowError('cancelled', `cancelled after the rows were saved${textComplete ? '' : '; the search index is finished by the next job'}`);
  }
  const modelId =
    (db.prepare(`SELECT value FROM project_meta WHERE key = 'active_model_id'`).pluck().get() as string | undefined) ??
    (db.prepare('SELECT id FROM models ORDER BY id LIMIT 1').pluck().get() as number | undefined);
  let renderErrors = 0;
  if (modelId !== undefined) {
    const dir = db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(Number(modelId)) as string;
    const tok = await loadTokenizer(dir);
    const r = await renderDataset(db, datasetId, tok, {
      ...DEFAULT_RENDER,
      signal,
      onProgress: (done, total) => ctx.progress({ current: done, total, message: `rendered ${done}/${total} rows` }),
    });
    renderErrors = r.errors;
  }
  const dups = await computeDuplicates(db, datasetId, {
    signal,
    onProgress: (done, total) => ctx.progress({ current: done, total, message: `looking for duplicates: ${done}/${total} rows` }),
  });
  return {
    message: `${renderErrors ? `, ${renderErrors} could not be rendered` : ''}` +
      `${dups.exactDuplicates ? `, ${dups.exactDuplicates} in exact-duplicate groups` : ''}${dups.nearDuplicates ? `, ${dups.nearDuplicates} in near-duplicate groups` : ''}`,
    stats: { renderErrors, exactDuplicates: dups.exactDuplicates, nearDuplicates: dups.nearDuplicates },
  };
}
