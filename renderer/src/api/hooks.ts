/** React glue over the engine client: calls as state, pushed events, the live job table. */
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { ApiError, ApiInput, ApiName, ApiOutputs, EngineEvent, Job, ProjectInfo } from '../../../preload/contract';
import type { EngineClient } from './client';

export interface AppState {
  client: EngineClient;
  /** bumps on every reconnect: screens list it as a dependency so they re-fetch and the user keeps their place */
  epoch: number;
  jobs: JobsStore;
  info: ApiOutputs['app.info'] | null;
  project: ProjectInfo | null;
  reloadProject: () => void;
  /** the dataset the Examples, Score and Subsets screens work on */
  datasetId: number | null;
  setDatasetId: (id: number) => void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const state = useContext(AppContext);
  if (!state) throw new Error('useApp outside <AppContext>');
  return state;
}

export interface CallState<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs a call when `key` (a JSON string of what the input depends on) or the connection epoch changes. Keeps the
 * previous data while reloading, so screens do not flash.
 */
export function useCall<N extends ApiName>(name: N, input: ApiInput<N> | null): CallState<ApiOutputs[N]> {
  const { client, epoch } = useApp();
  const [data, setData] = useState<ApiOutputs[N] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(input !== null);
  const [nonce, setNonce] = useState(0);
  const key = input === null ? null : JSON.stringify(input);
  useEffect(() => {
    if (key === null) return;
    let live = true;
    setLoading(true);
    void client.call(name, JSON.parse(key) as ApiInput<N>).then((result) => {
      if (!live) return;
      setLoading(false);
      if (result.ok) {
        setData(result.value);
        setError(null);
      } else setError(result.error);
    });
    return () => {
      live = false;
    };
  }, [client, name, key, epoch, nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Subscribe to pushed engine events for the component's lifetime. */
export function useEngineEvent(listener: (event: EngineEvent) => void): void {
  const { client } = useApp();
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => client.onEvent((event) => ref.current(event)), [client]);
}

/** All jobs the engine knows, kept live from `job` events. */
export class JobsStore {
  private jobs = new Map<string, Job>();
  private snapshot: Job[] = [];
  private listeners = new Set<() => void>();

  replaceAll(jobs: Job[]): void {
    this.jobs = new Map(jobs.map((j) => [j.jobId, j]));
    this.emit();
  }

  upsert(job: Job): void {
    this.jobs.set(job.jobId, job);
    this.emit();
  }

  get(jobId: string | null | undefined): Job | undefined {
    return jobId ? this.jobs.get(jobId) : undefined;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): Job[] => this.snapshot;

  private emit(): void {
    // newest first
    this.snapshot = [...this.jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    for (const listener of this.listeners) listener();
  }
}

export function useJobs(): Job[] {
  const { jobs } = useApp();
  return useSyncExternalStore(jobs.subscribe, jobs.getSnapshot);
}

export function useJob(jobId: string | null | undefined): Job | undefined {
  const jobs = useJobs();
  return jobId ? jobs.find((j) => j.jobId === jobId) : undefined;
}

/** Calls `onDone` once when the given job reaches `done` (e.g. to refresh a list it changed). */
export function useOnJobDone(jobId: string | null | undefined, onDone: (job: Job) => void): void {
  const job = useJob(jobId);
  const fired = useRef<string | null>(null);
  const ref = useRef(onDone);
  ref.current = onDone;
  useEffect(() => {
    if (job && job.status === 'done' && fired.current !== job.jobId) {
      fired.current = job.jobId;
      ref.current(job);
    }
  }, [job]);
}

/** The calls that start a job and answer its id (scoring.start, train.start, export.start, clusters.start, …). */
export type JobStartCall = { [N in ApiName]: ApiOutputs[N] extends { jobId: string } ? N : never }[ApiName];

export interface StartJob<N extends JobStartCall> {
  /** the job this component started last (null before the first start) */
  jobId: string | null;
  /** the engine's refusal of the last start (it names the field), or one the screen set itself */
  error: ApiError | null;
  setError: (error: ApiError | null) => void;
  /** true while the start call is in flight */
  busy: boolean;
  /** calls `name`; on success tracks the new job and clears the error, else shows the error. Answers the call's value, or null */
  start: (input: ApiInput<N>) => Promise<ApiOutputs[N] | null>;
}

/**
 * The job-start block every screen that starts a job shares: call the `*.start` API, track the job id, show the
 * error, and run `onDone` once when the job is done (e.g. to refresh the list it changed).
 */
export function useStartJob<N extends JobStartCall>(name: N, onDone?: (job: Job) => void): StartJob<N> {
  const { client } = useApp();
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  useOnJobDone(jobId, (job) => onDone?.(job));
  const start = async (input: ApiInput<N>): Promise<ApiOutputs[N] | null> => {
    setBusy(true);
    const r = await client.call(name, input);
    setBusy(false);
    setError(r.ok ? null : r.error);
    if (!r.ok) return null;
    setJobId((r.value as { jobId: string }).jobId);
    return r.value;
  };
  return { jobId, error, setError, busy, start };
}
