/**
 * The engine in-process for the benchmarks that drive it through its API (score.ts, param-masks.ts,
 * experiment-layers.ts): a service on a projects folder, a `call` that throws the engine's error, and `done`, which
 * waits for a job and throws unless it finished.
 */
import { EngineService } from '../main/engine/api/service';
import { InProcessExecutor } from '../main/engine/jobs/runners';
import type { ApiInput, ApiName, ApiOutputs, Job } from '../preload/contract';

export function benchService(projectsDir: string) {
  const service = new EngineService({ projectsDir, mode: 'browser', executor: new InProcessExecutor() });
  const call = async <N extends ApiName>(name: N, input: ApiInput<N>): Promise<ApiOutputs[N]> => {
    const r = await service.call(name, input);
    if (!r.ok) throw new Error(`${name}: ${r.error.message}`);
    return r.value as ApiOutputs[N];
  };
  const done = async (jobId: string): Promise<Job> => {
    await service.whenIdle();
    const job = (await call('jobs.list', {})).find((j) => j.jobId === jobId)!;
    if (job.status !== 'done') throw new Error(`job ${job.kind} ${job.status}: ${job.error?.message}`);
    return job;
  };
  return { service, call, done };
}

/** the median of xs (the mean of the middle two for an even count) */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
