/**
 * What the `winnow` commands share: a project opened in this process with its jobs run here (Session), the rows a
 * command reads (--data FILE or --project P [--subset NAME]), grad_sim's target file, and the backend line on stderr.
 * Progress goes to stderr unless --json; index.ts prints each command's result and turns errors into exit codes.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { EngineService } from '../engine/api/service';
import { InProcessExecutor } from '../engine/jobs/runners';
import { initBackend } from '../engine/compute/backend';
import { parseHubId } from '../engine/models/hub-cache';
import { projectsDir } from '../engine/util/paths';
import { WinnowError } from '../engine/util/errors';
import { findSubsetByName } from '../engine/selection/subsets';
import type { ApiInput, ApiName, ApiOutputs, Job } from '../../preload/contract';
import { parseMapping, type Opts } from './flags';

/** What a command is given: the parsed flags, the words after the command, and whether stderr stays quiet (--json). */
export interface CommandContext {
  o: Opts;
  positionals: string[];
  quiet: boolean;
}

/** A command: its result is printed as JSON (null: nothing to print). */
export type Command = (ctx: CommandContext) => Promise<unknown>;

/** A CLI session: a project (named, a folder path, or a temporary one) with jobs run in this process. */
export class Session {
  readonly service: EngineService;
  private tmp: string | null = null;

  constructor(project: string | undefined, private readonly quiet: boolean) {
    let dir = projectsDir();
    let name = 'cli';
    if (project === undefined) {
      this.tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-'));
      dir = this.tmp;
    } else if (project.includes('/') || project.includes('\\')) {
      dir = dirname(resolve(project));
      name = basename(resolve(project));
    } else name = project;
    this.service = new EngineService({ projectsDir: dir, mode: 'browser', executor: new InProcessExecutor() });
    this.service.open(name);
    this.service.onEvent((e) => {
      if (this.quiet) return;
      if (e.type === 'job' && e.job.status === 'running') {
        process.stderr.write(`[${e.job.kind}] ${e.job.current}/${e.job.total} ${e.job.message}\n`);
      } else if (e.type === 'log') process.stderr.write(`[${e.level}] ${e.message}\n`);
    });
  }

  async call<N extends ApiName>(name: N, input: ApiInput<N>): Promise<ApiOutputs[N]> {
    const r = await this.service.call(name, input);
    if (!r.ok) throw new WinnowError(r.error.code === 'engine_unavailable' ? 'internal' : r.error.code, r.error.message, r.error.details);
    return r.value as ApiOutputs[N];
  }

  /** Wait for a job and fail loudly if it did not finish. */
  async job(jobId: string): Promise<Job> {
    await this.service.whenIdle();
    const jobs = await this.call('jobs.list', {});
    const job = jobs.find((j) => j.jobId === jobId);
    if (!job) throw new WinnowError('internal', `job ${jobId} vanished`);
    if (job.status !== 'done') throw new WinnowError(job.error?.code ?? 'internal', job.error?.message ?? `${job.kind} job ${job.status}`);
    return job;
  }

  async importFile(path: string, opts: { format?: string; name?: string; skipMalformed?: boolean; mapping?: string }): Promise<Job> {
    const { jobId } = await this.call('datasets.import', {
      path: resolve(path), format: opts.format, name: opts.name, skipMalformed: opts.skipMalformed ?? false, mapping: parseMapping(opts.mapping),
    } as never);
    return this.job(jobId);
  }

  /** a model folder, or a hub id `org/name[@revision]` from the Hugging Face hub cache (when no such folder exists) */
  async model(dir: string): Promise<number> {
    return (await this.call('models.add', { path: existsSync(dir) || !parseHubId(dir) ? resolve(dir) : dir })).id;
  }

  close(): void {
    this.service.close();
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Run `body` in a session on `project` (a temporary one when undefined), closing it however the body ends. */
export async function withSession<T>(project: string | undefined, quiet: boolean, body: (s: Session) => Promise<T>): Promise<T> {
  const s = new Session(project, quiet);
  try {
    return await body(s);
  } finally {
    s.close();
  }
}

/** A command's rows: --data FILE imported as a dataset, or --project P's rows (--subset NAME: that subset's). */
export async function withData(s: Session, o: Opts): Promise<{ datasetId?: number; subsetId: number | null }> {
  if (typeof o.data === 'string') {
    const job = await s.importFile(o.data, { format: o.format as string | undefined, skipMalformed: !!o['skip-malformed'], mapping: o.mapping as string | undefined });
    return { datasetId: Number(job.stats.datasetId), subsetId: null };
  }
  if (typeof o.project !== 'string') throw new WinnowError('bad_input', 'give --data FILE or --project P');
  if (typeof o.subset === 'string') return { subsetId: findSubsetByName(s.service.current().db, o.subset).id };
  return { subsetId: null };
}

/** grad_sim's target set from a file: imported as a dataset of its own, all its rows a subset. */
export async function importTargetData(s: Session, file: string, o: Opts): Promise<{ targetSubsetId: number; targetDatasetId: number }> {
  const job = await s.importFile(file, { format: o.format as string | undefined, skipMalformed: !!o['skip-malformed'] });
  const targetDatasetId = Number(job.stats.datasetId);
  const name = `target: ${basename(file)} (dataset ${targetDatasetId})`;
  return { targetDatasetId, targetSubsetId: (await s.call('subsets.create', { name, rule: { kind: 'all' }, datasetId: targetDatasetId })).id };
}

/** Set up the compute backend and say on stderr which one runs (and why the others cannot). */
export async function backendLine(quiet: boolean): Promise<void> {
  const b = await initBackend();
  if (!quiet) process.stderr.write(`backend: ${b.name} (${b.reason})${b.unavailable.length ? `; unavailable: ${b.unavailable.map((u) => `${u.name}: ${u.why}`).join('; ')}` : ''}\n`);
}
