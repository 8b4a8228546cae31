import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runImportJob } from '../../../main/engine/data/import-job';
import { openProjectDb } from '../../../main/engine/db/open';
import { getExampleSignals } from '../../../main/engine/db/signals';
import type { JobContext, JobProgress } from '../../../main/engine/jobs/types';
import { fixture, STORIES_DIR, tempDir } from './helpers';

function ctx(dir: string, params: Record<string, unknown>, progress: JobProgress[] = []): JobContext {
  return {
    jobId: 'j1', dbPath: join(dir, 'p.winnow'), projectDir: dir, params,
    progress: (u) => progress.push(u), isCancelled: () => false, log: () => undefined,
  };
}

describe('import job', () => {
  it('imports with a given mapping, renders with the project model and computes the duplicate signals', async () => {
    const t = tempDir();
    try {
      const db = openProjectDb(join(t.dir, 'p.winnow'));
      db.prepare(`INSERT INTO models (id, name, path, architecture, config_json, hash, created_at)
        VALUES (1, 'stories260K', ?, 'llama', '{}', 'h', 't')`).run(STORIES_DIR);
      db.close();
      const progress: JobProgress[] = [];
      const out = await runImportJob(ctx(t.dir, {
        path: fixture('gsm8k-50.jsonl'), mapping: { format: 'prompt_completion', prompt: 'question', completion: 'answer' },
      }, progress));
      expect(out.stats).toMatchObject({ rows: 50, skipped: 0, renderErrors: 0, exactDuplicates: 0, nearDuplicates: 0 });
      expect(progress.some((p) => /looking for duplicates/.test(p.message ?? ''))).toBe(true);
      const check = openProjectDb(join(t.dir, 'p.winnow'));
      expect(check.prepare('SELECT format FROM datasets').pluck().get()).toBe('jsonl:prompt_completion');
      expect(check.prepare('SELECT COUNT(*) FROM renders').pluck().get()).toBe(50);
      expect(getExampleSignals(check, 1)).toMatchObject({ exact_dup: 1, near_dup: 1, near_dup_size: 1 });
      check.close();
    } finally { t.cleanup(); }
  });
});
