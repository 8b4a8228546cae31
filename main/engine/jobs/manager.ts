/**
 * The job queue of one project: persisted in the `jobs` table, run one at a time (in the compute worker, or
 * in-process for the CLI), progress pushed as events. After a crash, jobs that were running are marked failed with
 * the reason and stay resumable; their runners continue from the cursor they saved.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ApiError, EngineEvent, Job, JobKind, JobParamsInput, JobStatus } from '../../../preload/contract';
import { WinnowError, toErrorValue } from '../util/errors';
import { DISCARDABLE_KINDS, RESUMABLE_KINDS, type JobOutcome, type JobProgress } from './types';
import { discardPartialExport } from '../export/partial';
import { paramMaskPassState } from '../selection/param-masks-store';
import { clearSavedImport, describeSavedImport, savedImport } from '../data/import-saved';
import { deleteJob, finishedJobIds, insertQueuedJob, jobFailer, jobParamsJson, jobRow, recentJobRows, unfinishedJobs, updateJob, type JobDbRow } from '../db/jobs';

export interface JobExecutor {
  run(
    spec: { jobId: string; kind: JobKind; dbPath: string; projectDir: string; params: Record<string, unknown> },
    onProgress: (p: JobProgress) => void,
    onLog: (level: 'info' | 'warn' | 'error', message: string) => void,
  ): Promise<JobOutcome>;
  cancel(): void;
}

interface JobRow extends JobDbRow {
  kind: JobKind;
  status: JobStatus;
}

export class JobManager {
  private queue: string[] = [];
  private running: string | null = null;
  private cancelRequested = new Set<string>();
  private live = new Map<string, { eta: number | null; stats: Record<string, number | string>; current?: number; total?: number; message?: string }>();
  private lastPersist = new Map<string, number>();
  private idleWaiters: Array<() => void> = [];
  /** imports that recoverAfterRestart found stopped after their commit */
  private stoppedImports: string[] = [];

  constructor(
    private readonly db: Database.Database,
    private readonly opts: {
      dbPath: string;
      projectDir: string;
      executor: JobExecutor;
      emit: (e: EngineEvent) => void;
      /** called after a job finishes successfully (e.g. to refresh project info) */
      onFinished?: (job: Job) => void;
    },
  ) {}

  /** Jobs left running or queued by a dead engine are failed with a reason; resumable kinds can be resumed. */
  recoverAfterRestart(): number {
    const stale = unfinishedJobs(this.db) as Array<{ id: string; kind: JobKind; params_json: string }>;
    const mark = jobFailer(this.db);
    for (const { id, kind, params_json } of stale) {
      // an export killed mid-way leaves only its `.partial-<jobId>` folder, never a half bundle: remove it
      let removed: string | null = null;
      if (kind === 'export') {
        try {
          removed = discardPartialExport((JSON.parse(params_json) as { outDir?: unknown }).outDir, id);
        } catch {
          // unreadable params or a locked folder: the job is failed all the same, and the folder is not a bundle
        }
      }
      const saved = kind === 'import' ? savedImport(this.db, id) : null;
      const error: ApiError = {
        code: 'internal',
        message: saved
          ? `the engine stopped after this import committed: ${describeSavedImport(this.db, saved)}; the search index, ` +
            'render and duplicate check are finished on resume (starting it again would import the rows twice)'
          : this.canResume(kind, id)
          ? 'the engine stopped while this job ran; finished work is saved — resume to continue'
          : `the engine stopped while this job ran; nothing partial was kept${removed ? ` (removed the unfinished ${removed})` : ''} — start it again`,
      };
      mark(id, JSON.stringify(error), error.message);
      if (saved) this.stoppedImports.push(id);
    }
    return stale.length;
  }

  /** Queues a job; its params are stored as JSON and parsed with the kind's schema when it runs (jobParams). */
  submit<K extends JobKind>(kind: K, params: JobParamsInput<K>): Job {
    const id = randomUUID();
    insertQueuedJob(this.db, id, kind, JSON.stringify(params));
    this.queue.push(id);
    const job = this.get(id);
    this.opts.emit({ type: 'job', job });
    queueMicrotask(() => void this.pump());
    return job;
  }

  get(jobId: string): Job {
    const row = jobRow(this.db, jobId) as JobRow | undefined;
    if (!row) throw new WinnowError('not_found', `job ${jobId} not found`);
    return this.toJob(row);
  }

  list(limit = 200): Job[] {
    const rows = recentJobRows(this.db, limit) as JobRow[];
    return rows.map((r) => this.toJob(r));
  }

  params(jobId: string): Record<string, unknown> {
    const json = jobParamsJson(this.db, jobId);
    if (json === undefined) throw new WinnowError('not_found', `job ${jobId} not found`);
    return JSON.parse(json);
  }

  cancel(jobId: string): Job {
    const job = this.get(jobId);
    if (job.status === 'queued') {
      this.queue = this.queue.filter((q) => q !== jobId);
      this.update(jobId, { status: 'cancelled', message: 'cancelled before it started' });
    } else if (job.status === 'running') {
      this.cancelRequested.add(jobId);
      this.opts.executor.cancel();
      this.update(jobId, { message: 'cancelling…' }); // in memory only: the job may hold the write lock
    }
    return this.get(jobId);
  }

  resume(jobId: string): Job {
    const job = this.get(jobId);
    if (job.status !== 'failed' && job.status !== 'cancelled') {
      throw new WinnowError('conflict', `job ${jobId} is ${job.status}; only failed or cancelled jobs can be resumed`);
    }
    if (!RESUMABLE_KINDS.has(job.kind)) {
      throw new WinnowError('unsupported', `${job.kind} jobs cannot be resumed; start a new one`);
    }
    if (!this.canResume(job.kind, jobId)) {
      throw new WinnowError('conflict', `job ${jobId} has no saved state (it stopped before saving any, or it was discarded); start a new one`);
    }
    this.update(jobId, { status: 'queued', message: 'queued to resume', error: null });
    this.queue.push(jobId);
    queueMicrotask(() => void this.pump());
    return this.get(jobId);
  }

  /** Drops a stopped job's saved state (a parameter-mask pass's sums); the job can then no longer resume. */
  discard(jobId: string): Job {
    const job = this.get(jobId);
    if (job.status !== 'failed' && job.status !== 'cancelled') {
      throw new WinnowError('conflict', `job ${jobId} is ${job.status}; only a failed or cancelled job's saved state can be discarded`);
    }
    if (!DISCARDABLE_KINDS.has(job.kind)) {
      throw new WinnowError('unsupported', `${job.kind} jobs keep their finished work with their run; there is no separate state to discard`);
    }
    paramMaskPassState(this.db, jobId).clear();
    this.update(jobId, { status: job.status, message: `${job.status}; its saved state was discarded` });
    return this.get(jobId);
  }

  /**
   * Removes finished, failed and cancelled jobs from the list, with what a stopped one saved to resume from (a
   * parameter-mask pass's sums, an import's record). Their runs, datasets, models and files stay. Returns how many.
   */
  clearFinished(): number {
    const ids = finishedJobIds(this.db);
    this.db.transaction(() => {
      for (const id of ids) {
        paramMaskPassState(this.db, id).clear();
        clearSavedImport(this.db, id);
        deleteJob(this.db, id);
      }
    })();
    for (const id of ids) {
      this.live.delete(id);
      this.lastPersist.delete(id);
    }
    return ids.length;
  }

  /** Whether a stopped job has work to continue from: score and train runs keep it with the run; a parameter-mask pass once it saved state. */
  private canResume(kind: JobKind, jobId: string): boolean {
    if (!RESUMABLE_KINDS.has(kind)) return false;
    if (kind === 'import') return savedImport(this.db, jobId) !== null;
    return kind !== 'param_mask' || paramMaskPassState(this.db, jobId).exists();
  }

  /**
   * Resumes the imports a dead engine stopped after their rows were committed (recoverAfterRestart marked them
   * failed, saying what was kept), so their search index, render and duplicates finish on this start.
   */
  resumeCommittedImports(): string[] {
    const resumed = this.stoppedImports.splice(0).filter((id) => this.canResume('import', id));
    for (const id of resumed) this.resume(id);
    return resumed;
  }

  /** Resolves when no job is queued or running (tests and the CLI wait on it). */
  whenIdle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    const next = this.queue.shift();
    if (!next) {
      const waiters = this.idleWaiters.splice(0);
      waiters.forEach((w) => w());
      return;
    }
    this.running = next;
    const kind = this.get(next).kind;
    const params = this.params(next);
    const started = Date.now();
    this.update(next, { status: 'running', message: 'starting' });
    try {
      const outcome = await this.opts.executor.run(
        { jobId: next, kind, dbPath: this.opts.dbPath, projectDir: this.opts.projectDir, params },
        (p) => this.onProgress(next, p, started),
        (level, message) => this.opts.emit({ type: 'log', level, message }),
      );
      const cur = this.get(next);
      this.live.delete(next);
      this.update(next, {
        status: 'done',
        message: outcome.message,
        stats: outcome.stats,
        current: Math.max(cur.total, cur.current),
        total: Math.max(cur.total, cur.current),
      });
      this.opts.onFinished?.(this.get(next));
    } catch (err) {
      // keep how far it got, so the job list (and a later resume) shows real progress
      const last = this.live.get(next);
      const reached = { current: last?.current, total: last?.total, stats: Object.keys(last?.stats ?? {}).length ? last!.stats : undefined };
      this.live.delete(next);
      const e = toErrorValue(err);
      if (this.cancelRequested.has(next) || e.code === 'cancelled') {
        // a resumable runner says what it kept (a checkpoint, the sums so far); the rest get the generic line
        const own = e.code === 'cancelled' && RESUMABLE_KINDS.has(kind) && e.message !== 'cancelled' ? e.message : null;
        this.update(next, { ...reached, status: 'cancelled', message: own ?? 'cancelled; finished work is saved' });
      } else {
        this.update(next, { ...reached, status: 'failed', message: e.message, error: e });
      }
    } finally {
      this.cancelRequested.delete(next);
      this.running = null;
      void this.pump();
    }
  }

  private onProgress(jobId: string, p: JobProgress, started: number): void {
    if (p.metric) {
      this.opts.emit({
        type: 'train.metric',
        runId: p.metric.runId,
        jobId,
        metric: { step: p.metric.step, split: p.metric.split, loss: p.metric.loss, lr: p.metric.lr, tokensPerSec: p.metric.tokensPerSec },
      });
    }
    let eta = p.etaSeconds ?? null;
    if (eta === null && p.current > 0 && p.total > p.current) {
      eta = ((Date.now() - started) / 1000 / p.current) * (p.total - p.current);
    }
    const prev = this.live.get(jobId);
    this.live.set(jobId, { ...prev, eta, stats: p.stats ?? prev?.stats ?? {} });
    this.update(jobId, { current: p.current, total: p.total, message: p.message, stats: p.stats });
  }

  private update(
    jobId: string,
    patch: Partial<{ status: JobStatus; current: number; total: number; message: string; stats: Record<string, number | string>; error: ApiError | null }>,
  ): void {
    // Progress lives in memory and reaches the database at most every 2 s: a job may hold a long write transaction
    // (an import is one), and the host must never block its event loop waiting for the lock.
    if (patch.status === undefined && patch.error === undefined) {
      const prev = this.live.get(jobId) ?? { eta: null, stats: {} };
      const next = {
        ...prev,
        current: patch.current ?? prev.current,
        total: patch.total ?? prev.total,
        message: patch.message ?? prev.message,
        stats: patch.stats ?? prev.stats,
      };
      this.live.set(jobId, next);
      const now = Date.now();
      if (now - (this.lastPersist.get(jobId) ?? 0) > 2000) {
        this.lastPersist.set(jobId, now);
        try {
          this.write(jobId, patch);
        } catch {
          // busy: the in-memory state is authoritative while the job runs
        }
      }
      this.opts.emit({ type: 'job', job: this.get(jobId) });
      return;
    }
    this.write(jobId, patch);
    this.opts.emit({ type: 'job', job: this.get(jobId) });
  }

  private write(
    jobId: string,
    patch: Partial<{ status: JobStatus; current: number; total: number; message: string; stats: Record<string, number | string>; error: ApiError | null }>,
  ): void {
    const { stats, error, ...fields } = patch;
    updateJob(this.db, jobId, {
      ...fields,
      ...(stats !== undefined ? { statsJson: JSON.stringify(stats) } : {}),
      ...(error !== undefined ? { errorJson: error ? JSON.stringify(error) : null } : {}),
    });
  }

  private toJob(row: JobRow): Job {
    const live = this.live.get(row.id);
    const error = row.error_json ? (JSON.parse(row.error_json) as ApiError) : null;
    return {
      jobId: row.id,
      kind: row.kind,
      status: row.status,
      current: (row.status === 'running' ? live?.current : undefined) ?? row.current,
      total: (row.status === 'running' ? live?.total : undefined) ?? row.total ?? 0,
      etaSeconds: row.status === 'running' ? (live?.eta ?? null) : null,
      message: (row.status === 'running' ? live?.message : undefined) ?? row.message ?? '',
      stats: (row.status === 'running' && live && Object.keys(live.stats).length ? live.stats : null) ?? (row.stats_json ? JSON.parse(row.stats_json) : {}),
      error,
      resumable: (row.status === 'failed' || row.status === 'cancelled') && this.canResume(row.kind, row.id),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
