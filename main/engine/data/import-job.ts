/**
 * The import job: one transactional import (see import.ts), the search index (textIndex.ts), then a render with the
 * project's active model so the table shows token counts and the rows that cannot be rendered are listed at once,
 * then the duplicate signals (exact_dup, near_dup and their size/rank columns; see duplicates.ts).
 * The `remap` job kind runs this same code to re-map a stored dataset (params.remap: remap.ts, then the same index,
 * render and duplicates); an import job also finishes search indexes left incomplete by a cancelled or killed job
 * (`textIndexOnly`).
 */
import { openProjectDb, type Db } from '../db';
import { datasetMappingReader } from '../db/datasets';
import { importRenderModelId, modelPath } from '../db/models';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import type { JobParams } from '../../../preload/contract';
import type { FileFormat } from './readers';
import { importDataset } from './import';
import { renderDataset } from './renderDataset';
import { loadTokenizer } from '../models/tokenizer';
import { DEFAULT_RENDER } from '../data/render-key';
import { describeMapping, type Mapping } from './formats';
import { computeDuplicates } from './duplicates';
import { indexText } from './textIndex';
import { remapDataset } from './remap';
import { WinnowError } from '../util/errors';
import { clearSavedImport, describeSavedImport, recordSavedImport, savedImport, type SavedImport } from './import-saved';

/** an import or remap job's params (preload/contract/datasets.ts ImportJobParamsSchema) */
export type ImportJobParams = JobParams<'import'>;

export async function runImportJob(ctx: JobContext): Promise<JobOutcome> {
  const p = jobParams('import', ctx);
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

    const path = p.path;
    if (!path) throw new WinnowError('bad_input', 'import: no file given');
    // resumed after its rows were committed: finish the phases that follow, never import the rows a second time
    const saved = savedImport(db, ctx.jobId);
    if (saved) return await finishSavedImport(ctx, db, saved, abort.signal, indexProgress);
    ctx.progress({ current: 0, total: 0, message: `importing ${path}` });
    let textComplete = true;
    // an error after the commit (in the search index) says what was kept, like one in the later phases
    const res = await keptOnError(db, ctx.jobId, () => importDataset(db, {
      path,
      name: p.name,
      // datasets.import takes the name as a string, as it always has; the readers know the formats
      format: p.format as FileFormat | undefined,
      mapping: p.mapping,
      textMode: p.textMode,
      skipMalformed: p.skipMalformed,
      signal: abort.signal,
      onProgress: (done, total) => ctx.progress({ current: done, total: total ?? 0, message: `imported ${done} row${done === 1 ? '' : 's'}` }),
      // committed with the rows: a job stopped from here on says what it kept and resumes instead of starting over
      onCommit: (datasetId, rows, skipped) => recordSavedImport(db, ctx.jobId, { datasetId, rows, skipped }),
      onPhase: (phase, rows) => {
        if (phase === 'committed') ctx.progress({ current: rows, total: rows, message: `saved ${rows} rows; indexing text for search` });
      },
      onIndexProgress: (done, total) => {
        textComplete = done >= total;
        indexProgress(done, total);
      },
    }));
    const tail = await keptOnError(db, ctx.jobId, () => renderAndDuplicates(ctx, db, res.datasetId, abort.signal, textComplete));
    clearSavedImport(db, ctx.jobId);
    return {
      message: `imported ${res.rows} row${res.rows === 1 ? '' : 's'} as ${describeMapping(res.mapping)}${res.skipped ? `, skipped ${res.skipped} malformed` : ''}${tail.message}`,
      stats: { datasetId: res.datasetId, rows: res.rows, skipped: res.skipped, format: res.mapping.format, mapping: JSON.stringify(res.mapping), ...tail.stats },
    };
  } finally {
    clearInterval(poll);
    db.close();
  }
}

/**
 * The rest of an import whose rows were committed before it stopped (killed, cancelled, or failed in a later phase):
 * the search index, the render and the duplicate signals, on the dataset it saved.
 */
async function finishSavedImport(ctx: JobContext, db: Db, saved: SavedImport, signal: AbortSignal,
  indexProgress: (done: number, total: number) => void): Promise<JobOutcome> {
  const mappingJson = datasetMappingReader(db)(saved.datasetId)?.mappingJson;
  if (mappingJson === undefined) {
    clearSavedImport(db, ctx.jobId);
    throw new WinnowError('conflict', `the rows this import saved (dataset ${saved.datasetId}) were deleted since; start the import again`);
  }
  const kept = describeSavedImport(db, saved);
  ctx.progress({ current: 0, total: 0, message: `resuming: ${kept}; finishing the search index, render and duplicates` });
  const tail = await keptOnError(db, ctx.jobId, async () => {
    const text = await indexText(db, { signal, onProgress: indexProgress });
    return renderAndDuplicates(ctx, db, saved.datasetId, signal, text.complete);
  });
  clearSavedImport(db, ctx.jobId);
  const mapping = JSON.parse(mappingJson) as Mapping;
  return {
    message: `resumed after it stopped: ${kept} and were kept, not imported again; finished the search index, render and duplicates${tail.message}`,
    stats: {
      datasetId: saved.datasetId, rows: saved.rows, skipped: saved.skipped, format: mapping.format, mapping: mappingJson,
      resumed: 'after commit', ...tail.stats,
    },
  };
}

/** A phase after the commit: an error or a cancel there also says what was kept, and that resuming finishes it. */
async function keptOnError<T>(db: Db, jobId: string, phase: () => Promise<T>): Promise<T> {
  try {
    return await phase();
  } catch (err) {
    const saved = savedImport(db, jobId);
    if (!saved) throw err;
    const e = err instanceof WinnowError ? err : new WinnowError('internal', err instanceof Error ? err.message : String(err));
    const what = e.code === 'cancelled' ? 'cancelled after the rows were saved' : e.message;
    throw new WinnowError(e.code, `${what}: ${describeSavedImport(db, saved)}; resume to finish the search index, render and duplicates`, e.details);
  }
}

/** After the rows are in: render with the active model, then the duplicate signals. */
async function renderAndDuplicates(ctx: JobContext, db: Db, datasetId: number, signal: AbortSignal, textComplete: boolean) {
  if (signal.aborted) {
    throw new WinnowError('cancelled', `cancelled after the rows were saved${textComplete ? '' : '; the search index is finished by the next job'}`);
  }
  const modelId = importRenderModelId(db);
  let renderErrors = 0;
  if (modelId !== undefined) {
    const dir = modelPath(db, modelId);
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
