/**
 * Jobs compute at a lower CPU priority than the engine host's own thread, so table queries keep their latency while
 * a job runs (bench/concurrency.ts measures the effect). On Linux nice values are per thread: the compute worker's
 * thread must run WINNOW_COMPUTE_NICE (default 10) steps below the host's main thread, which keeps its own.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineProcess } from './engine-process';
import type { Job } from '../../../preload/contract';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');
const homes: string[] = [];
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

/** nice value of each thread of a process, from /proc/<pid>/task/<tid>/stat (field 19) */
function threadNices(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

async function nicesAfterAJob(env: string | undefined): Promise<Map<number, number>> {
  const home = mkdtempSync(join(tmpdir(), 'winnow-nice-'));
  homes.push(home);
  const before = process.env.WINNOW_COMPUTE_NICE;
  if (env === undefined) delete process.env.WINNOW_COMPUTE_NICE;
  else process.env.WINNOW_COMPUTE_NICE = env;
  const engine = new EngineProcess(home, 'nice');
  try {
    await engine.start();
    // a job starts the compute worker
    const { jobId } = await engine.call('datasets.import', { path: FIXTURE });
    const done = (await engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && ['done', 'failed'].includes(e.job.status))) as { job: Job };
    expect(done.job.status).toBe('done');
    return threadNices(engine.pid!);
  } finally {
    if (before === undefined) delete process.env.WINNOW_COMPUTE_NICE;
    else process.env.WINNOW_COMPUTE_NICE = before;
    await engine.stop();
  }
}

describe.skipIf(process.platform !== 'linux')('compute worker priority', () => {
  // the test runner may itself run niced: the host inherits that, the worker goes further
  const base = getPriority();

  it('the worker thread runs 10 steps below by default; the host thread keeps its priority', async () => {
    const nices = await nicesAfterAJob(undefined);
    const pid = [...nices.keys()].sort((a, b) => a - b)[0]!;
    expect(nices.get(pid)).toBe(base); // the main thread's tid is the process id
    expect([...nices.values()].filter((n) => n === Math.min(19, base + 10)).length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('WINNOW_COMPUTE_NICE=0 leaves every thread alone', async () => {
    const nices = await nicesAfterAJob('0');
    expect([...new Set(nices.values())]).toEqual([base]);
  }, 120_000);
});
