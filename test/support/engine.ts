/**
 * Driving an EngineService from a test, as the renderer does: one call that must succeed, and the wait for a job to
 * finish. Shared by the API, export, selection and parity tests, so a failure reads the same everywhere: the API
 * name with the engine's error code and message, or the job id with its status and error.
 */
import type { EngineService } from '../../main/engine/api/service';
import type { ApiInput, ApiName, ApiOutputs, Job } from '../../preload/contract';

/** The value of a call that must succeed; otherwise an Error naming the API, the error code and the message. */
export async function callOk<N extends ApiName>(s: EngineService, name: N, input: ApiInput<N>): Promise<ApiOutputs[N]> {
  const r = await s.call(name, input);
  if (!r.ok) throw new Error(`${name}: ${r.error.code}: ${r.error.message}`);
  return r.value as ApiOutputs[N];
}

/** Waits until the service's queue is idle; the job, which must have finished `done` (else an Error with its reason). */
export async function finishedJob(s: EngineService, jobId: string): Promise<Job> {
  await s.whenIdle();
  const job = (await callOk(s, 'jobs.list', {})).find((j) => j.jobId === jobId);
  if (!job) throw new Error(`job ${jobId} is not in jobs.list`);
  if (job.status !== 'done') throw new Error(`job ${jobId} ${job.status}: ${job.error?.message ?? 'no error recorded'}`);
  return job;
}

/** `call` and `finished` on the service a test's beforeAll makes (looked up at each call, so it may be made later). */
export function serviceCalls(service: () => EngineService): {
  call: <N extends ApiName>(name: N, input: ApiInput<N>) => Promise<ApiOutputs[N]>;
  finished: (jobId: string) => Promise<Job>;
} {
  return {
    call: (name, input) => callOk(service(), name, input),
    finished: (jobId) => finishedJob(service(), jobId),
  };
}
