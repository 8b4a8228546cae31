/**
 * The import job: one transactional import (see import.ts), then a render with the project's active model so the
 * table shows token counts and the rows that cannot be rendered are listed at once.
 */
import { openProjectDb } from '../db';
import type { JobContext, JobOutcome } from '../jobs/types';
import { importDataset } from './import';
import { renderDataset } from './renderDataset';
import { loadTokenizer } from '../models/tokenizer';
import { DEFAULT_RENDER } from '../api/examples';
import type { FileFormat } from './readers';

export async function runImportJob(ctx: JobContext): Promise<JobOutcome> {
  const p = ctx.params as { path: string; name?: string; format?: FileFormat; skipMalformed?: boolean };
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
    return {
      message: `imported ${res.rows} rows${res.skipped ? `, skipped ${res.skipped} malformed` : ''}${renderErrors ? `, ${renderErrors} could not be rendered` : ''}`,
      stats: { datasetId: res.datasetId, rows: res.rows, skipped: res.skipped, renderErrors },
    };
  } finally {
    clearInterval(poll);
    db.close();
  }
}
