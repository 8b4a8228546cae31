/**
 * An import SIGKILLed after its rows commit (while the search index, render or duplicate check runs): the rows are
 * kept, with a record of them committed in the same transaction; on the next start the job says what was kept and
 * is resumed, finishing the search index, the render and the duplicate signals on the saved dataset — the rows are
 * not imported a second time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EngineProcess } from './engine-process';
import { openProjectDb } from '../../../main/engine/db';
import { JobManager } from '../../../main/engine/jobs/manager';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import type { EngineEvent, Job } from '../../../preload/contract';

let home: string;
let engine: EngineProcess;
const dbPath = () => join(home, 'projects', 'killed-import', 'project.winnow');
const ROWS = 40_000;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'winnow-import-crash-'));
  engine = new EngineProcess(home, 'killed-import');
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  rmSync(home, { recursive: true, force: true });
});

function readDb<T>(f: (db: Database.Database) => T): T {
  const db = new Database(dbPath(), { readonly: true });
  try {
    return f(db);
  } finally {
    db.close();
  }
}

/** the dataset's examples with an exact_dup value (the column exists once a duplicate check has written one) */
function duplicateColumns(db: Database.Database, datasetId: number): number {
  const cols = db.prepare(`SELECT name FROM pragma_table_info('example_signals')`).pluck().all() as string[];
  if (!cols.includes('exact_dup')) return 0;
  return db.prepare(`SELECT COUNT(s.exact_dup) FROM example_signals s JOIN examples e ON e.id = s.example_id WHERE e.dataset_id = ?`)
    .pluck().get(datasetId) as number;
}

async function jobWhen(jobId: string, pred: (j: Job) => boolean, ms = 300_000): Promise<Job> {
  const until = Date.now() + ms;
  for (;;) {
    const job = (await engine.call('jobs.list', {})).find((j) => j.jobId === jobId);
    if (job && pred(job)) return job;
    if (Date.now() > until) throw new Error(`job ${jobId}: ${JSON.stringify(job)}\n${engine.log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('an import killed after its rows commit', () => {
  it('keeps its rows, says so, and finishes the search index, render and duplicates on the next start', async () => {
    const file = join(home, 'rows.jsonl');
    // every 10th row repeats the one before it: the duplicate check has groups to find
    const row = (i: number) => {
      const k = i % 10 === 9 ? i - 1 : i;
      return JSON.stringify({ question: `Q${k}: Ann has ${k} apples and buys ${k % 7} more. How many now?`, answer: `${k} + ${k % 7} = ${k + (k % 7)}. #### ${k + (k % 7)}` });
    };
    writeFileSync(file, Array.from({ length: ROWS }, (_, i) => row(i)).join('\n') + '\n');
    const datasetsBefore = readDb((db) => db.prepare('SELECT COUNT(*) FROM datasets').pluck().get() as number);

    const { jobId } = await engine.call('datasets.import', { path: file });
    // the first progress after the commit, then a kill before the later phases can finish
    await engine.waitFor((e: EngineEvent) => e.type === 'job' && e.job.jobId === jobId && /^saved \d+ rows/.test(e.job.message));
    await engine.kill();

    const killed = readDb((db) => ({
      integrity: db.pragma('integrity_check', { simple: true }),
      datasets: db.prepare('SELECT id, row_count AS rows, text_indexed_upto AS upto FROM datasets ORDER BY id').all() as Array<{ id: number; rows: number; upto: number }>,
      saved: db.prepare(`SELECT value FROM project_meta WHERE key = ?`).pluck().get(`import_saved:${jobId}`) as string | undefined,
      job: db.prepare('SELECT status FROM jobs WHERE id = ?').pluck().get(jobId),
    }));
    expect(killed.integrity).toBe('ok');
    expect(killed.job).toBe('running'); // killed mid-job, not finished
    expect(killed.datasets).toHaveLength(datasetsBefore + 1);
    const ds = killed.datasets.at(-1)!;
    expect(ds.rows).toBe(ROWS); // the rows were committed
    expect(JSON.parse(killed.saved!)).toEqual({ datasetId: ds.id, rows: ROWS, skipped: 0 });
    const renderedAtKill = readDb((db) => db.prepare('SELECT COUNT(*) FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ?').pluck().get(ds.id) as number);
    const dupsAtKill = readDb((db) => duplicateColumns(db, ds.id));
    expect(renderedAtKill < ROWS || dupsAtKill < ROWS).toBe(true); // the kill landed before the last phase finished

    // what the next start says of the job before it resumes it (on a copy: the real start below resumes at once)
    const copy = join(home, 'copy');
    cpSync(join(home, 'projects', 'killed-import'), copy, { recursive: true });
    const cdb = openProjectDb(join(copy, 'project.winnow'));
    try {
      const jobs = new JobManager(cdb, { dbPath: join(copy, 'project.winnow'), projectDir: copy, executor: new InProcessExecutor(), emit: () => undefined });
      expect(jobs.recoverAfterRestart()).toBe(1);
      const stopped = jobs.get(jobId);
      expect(stopped).toMatchObject({ status: 'failed', resumable: true });
      expect(stopped.error!.message).toBe(`the engine stopped after this import committed: its ${ROWS} rows were saved as dataset ${ds.id} ("rows.jsonl"); ` +
        'the search index, render and duplicate check are finished on resume (starting it again would import the rows twice)');
      expect(stopped.error!.message).not.toMatch(/nothing partial|start it again/);
    } finally {
      cdb.close();
    }

    await engine.start();
    const done = await jobWhen(jobId, (j) => j.status === 'done' || (j.status === 'failed' && j.error?.message.includes('resume') !== true));
    expect(done.status, done.error?.message).toBe('done');
    expect(done.message).toMatch(new RegExp(`^resumed after it stopped: its ${ROWS} rows were saved as dataset ${ds.id} \\("rows.jsonl"\\) and were kept, not imported again; finished the search index, render and duplicates`));
    expect(done.stats).toMatchObject({ datasetId: ds.id, rows: ROWS, resumed: 'after commit', renderErrors: 0 });
    expect(Number(done.stats.exactDuplicates)).toBe(2 * (ROWS / 10));

    const after = readDb((db) => ({
      datasets: db.prepare('SELECT COUNT(*) FROM datasets').pluck().get() as number,
      examples: db.prepare('SELECT COUNT(*) FROM examples WHERE dataset_id = ?').pluck().get(ds.id) as number,
      upto: db.prepare('SELECT text_indexed_upto FROM datasets WHERE id = ?').pluck().get(ds.id) as number,
      maxId: db.prepare('SELECT MAX(id) FROM examples WHERE dataset_id = ?').pluck().get(ds.id) as number,
      fts: db.prepare(`SELECT COUNT(*) FROM examples_fts WHERE examples_fts MATCH '"Q12345"'`).pluck().get() as number,
      rendered: db.prepare('SELECT COUNT(*) FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ?').pluck().get(ds.id) as number,
      dups: duplicateColumns(db, ds.id),
      saved: db.prepare(`SELECT COUNT(*) FROM project_meta WHERE key = ?`).pluck().get(`import_saved:${jobId}`) as number,
      integrity: db.pragma('integrity_check', { simple: true }),
    }));
    expect(after).toEqual({
      datasets: datasetsBefore + 1, examples: ROWS, upto: after.maxId, maxId: after.maxId, fts: 1, rendered: ROWS, dups: ROWS, saved: 0, integrity: 'ok',
    });
  }, 600_000);

  it('cancelled after the commit, it is resumable and its resume finishes the same dataset', async () => {
    const file = join(home, 'more.jsonl');
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ question: `What is ${i} * 2?`, answer: `${2 * i}. #### ${2 * i}` })).join('\n') + '\n');
    const { jobId } = await engine.call('datasets.import', { path: file });
    await engine.waitFor((e: EngineEvent) => e.type === 'job' && e.job.jobId === jobId && /^saved \d+ rows/.test(e.job.message));
    await engine.call('jobs.cancel', { jobId });
    const stopped = await jobWhen(jobId, (j) => j.status !== 'running' && j.status !== 'queued');
    expect(stopped).toMatchObject({ status: 'cancelled', resumable: true });
    expect(stopped.message).toMatch(/^cancelled after the rows were saved: its 20000 rows were saved as dataset \d+ \("more\.jsonl"\); resume to finish the search index, render and duplicates$/);
    const datasets = readDb((db) => db.prepare('SELECT COUNT(*) FROM datasets').pluck().get() as number);

    await engine.call('jobs.resume', { jobId });
    const done = await jobWhen(jobId, (j) => j.status === 'done' || j.status === 'failed');
    expect(done.status, done.error?.message).toBe('done');
    expect(done.message).toMatch(/^resumed after it stopped: its 20000 rows were saved as dataset \d+ \("more\.jsonl"\) and were kept, not imported again/);
    expect(readDb((db) => db.prepare('SELECT COUNT(*) FROM datasets').pluck().get() as number)).toBe(datasets);
    const id = Number(done.stats.datasetId);
    expect(readDb((db) => db.prepare('SELECT COUNT(*) FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ?').pluck().get(id))).toBe(20_000);
    expect(readDb((db) => duplicateColumns(db, id))).toBe(20_000);
    // finished: nothing left to resume
    expect(done.resumable).toBe(false);
  }, 600_000);
});
