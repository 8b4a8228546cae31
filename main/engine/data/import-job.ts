/**
 * The import job: one transactional import (see import.ts), then a render with the project's active model so the
 * table shows token counts and the rows that cannot be rendered are listed at once, then the duplicate signals
 * (exact_dup, near_dup and their size/rank columns; see duplicates.ts).
 */
import { openProjectDb } from '../db';
import type { JobContext, JobOutcome } from '../jobs/types';
import { importDataset } from './import';
import { renderDataset } from './renderDataset';
import { loadTokenizer } from '../models/tokenizer';
import { DEFAULT_RENDER } from '../api/examples';
import type { FileFormat } from './readers';
import type { Mapping } from './formats';
import { computeDuplicates } from './duplicates';

export async function runImportJob(ctx: JobContext): Promise<JobOutcome> {
  const p = ctx.params as {
    path: string; name?: string; format?: FileFormat; mapping?: Mapping; textMode?: 'block' | 'line'; skipMalformed?: boolean;
  };
  const db = openProjectDb(ctx.dbPath);
  const abort = new AbortController();
  const poll = setInterval(() => {
    if (ctx.isCancelled()) abort.abort();
  }, 50);
  try {
    ctx.progress({ current: 0, total: 0, message: `importing ${p.path}` });
    const res = await importDataset(db, {
      path: p.path,
      name: p.name,
      format: p.format,
      mapping: p.mapping,
      textMode: p.textMode,
      skipMalformed: p.skipMalformed,
      signal: abort.signal,
      onProgress: (done, total) => ctx.progress({ current: done, total: total ?? 0, message: `imported ${done} rows` }),
    });
    const modelId =
      (db.prepare(`SELECT value FROM project_meta WHERE key = 'active_model_id'`).pluck().get() as string | undefined) ??
      (db.prepare('SELECT id FROM models ORDER BY id LIMIT 1').pluck().get() as number | undefined);
    let renderErrors = 0;
    if (modelId !== undefined) {
      const dir = db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(Number(modelId)) as string;
      const tok = await loadTokenizer(dir);
      const r = await renderDataset(db, res.datasetId, tok, {
        ...DEFAULT_RENDER,
        signal: abort.signal,
        onProgress: (done, total) => ctx.progress({ current: done, total, message: `rendered ${done}/${total} rows` }),
      });
      renderErrors = r.errors;
    }
    const dups = await computeDuplicates(db, res.datasetId, {
      signal: abort.signal,
      onProgress: (done, total) => ctx.progress({ current: done, total, message: `looking for duplicates: ${done}/${total} rows` }),
    });
    return {
      message: `imported ${res.rows} rows${res.skipped ? `, skipped ${res.skipped} malformed` : ''}${renderErrors ? `, ${renderErrors} could not be rendered` : ''}` +
        `${dups.exactDuplicates ? `, ${dups.exactDuplicates} in exact-duplicate groups` : ''}${dups.nearDuplicates ? `, ${dups.nearDuplicates} in near-duplicate groups` : ''}`,
      stats: {
        datasetId: res.datasetId, rows: res.rows, skipped: res.skipped, renderErrors,
        exactDuplicates: dups.exactDuplicates, nearDuplicates: dups.nearDuplicates,
      },
    };
  } finally {
    clearInterval(poll);
    db.close();
  }
}
