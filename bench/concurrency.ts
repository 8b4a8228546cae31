/**
 * While a scoring job runs, do table queries still answer? The engine host runs in its own process (browser mode,
 * from sources) on a project of BENCH_ROWS (default 100,000) GSM8K rows, each made unique, with a `mean_loss` score
 * column (seeded random values written before the engine starts: scoring 100k rows on the demo model takes hours, and
 * the values do not change how long a query takes). Bursts of 20 concurrent `examples.query` calls like the table
 * makes — sort by the score, a range filter on it, sort by token count within a score band, deep random offsets —
 * are timed idle, then while a real scoring job writes `token_loss`/`mean_loss` batches in the compute worker — once
 * with the worker at normal CPU priority (WINNOW_COMPUTE_NICE=0, as before the fix) and once at the default lowered
 * priority — then idle again (the machine is shared, so the idle reference brackets the busy phases). Target
 * (issue 9): busy p95 within 2× idle p95. Writes bench/results/concurrency.json.
 * Run: flock /tmp/winnow-bench.lock npx tsx bench/concurrency.ts
 * (BENCH_ROWS, BENCH_BURSTS change the size; BENCH_HOME=DIR keeps the prepared project there and reuses it)
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { EngineProcess } from '../test/unit/jobs/engine-process';
import { writeExampleSignals } from '../main/engine/db/signals';
import { mulberry32 } from '../main/engine/util/random';
import type { ApiInput } from '../preload/contract';

const ROOT = resolve(import.meta.dirname, '..');
const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const BURSTS = Number(process.env.BENCH_BURSTS ?? 10);
const CONCURRENT = 20;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const stats = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95), max: Math.max(...xs) });

async function main(): Promise<void> {
  const keep = process.env.BENCH_HOME ? resolve(process.env.BENCH_HOME) : null;
  const home = keep ?? mkdtempSync(join(tmpdir(), 'winnow-bench-conc-'));
  const engine = new EngineProcess(home, 'bench');
  const dbFile = join(home, 'projects', 'bench', 'project.winnow');
  const load: number[][] = [loadavg()];
  let importSec: number | null = null;
  try {
    if (!existsSync(dbFile)) importSec = await prepare(engine, home);
    const rnd = mulberry32(7);
    const queries: Array<(datasetId: number) => ApiInput<'examples.query'>> = [
      (datasetId) => ({ datasetId, sort: { column: 'mean_loss', dir: 'desc' }, offset: Math.floor(rnd() * (ROWS - 100)), limit: 100 }),
      (datasetId) => ({ datasetId, sort: { column: 'mean_loss', dir: 'asc' }, filters: [{ column: 'mean_loss', min: 2, max: 4 }], offset: Math.floor(rnd() * ROWS * 0.4), limit: 100 }),
      (datasetId) => ({ datasetId, sort: { column: 'n_tokens', dir: 'desc' }, filters: [{ column: 'mean_loss', min: 3.5 }], offset: Math.floor(rnd() * ROWS * 0.3), limit: 100 }),
      (datasetId) => ({ datasetId, sort: { column: 'mean_loss', dir: 'desc' }, filters: [{ column: 'n_tokens', min: 150, max: 250 }], offset: 0, limit: 100 }),
    ];
    let qi = 0;
    let datasetId = 0;
    const query = async () => {
      const input = queries[qi++ % queries.length]!(datasetId);
      const t = performance.now();
      await engine.call('examples.query', input);
      return performance.now() - t;
    };
    const burst = () => Promise.all(Array.from({ length: CONCURRENT }, query));
    const phase = async () => {
      const xs: number[] = [];
      for (let i = 0; i < BURSTS; i++) xs.push(...(await burst()));
      load.push(loadavg());
      return xs;
    };
    /** the engine started with the compute worker at the given nice value (undefined: the default) */
    const startEngine = async (nice: string | undefined) => {
      if (nice === undefined) delete process.env.WINNOW_COMPUTE_NICE;
      else process.env.WINNOW_COMPUTE_NICE = nice;
      await engine.start();
      const project = await engine.call('project.open', {});
      datasetId = project.datasets[0]!.id;
      await burst(); // warm the page cache and prepared statements
      return project.models[0]!.id;
    };
    const whileScoring = async (modelId: number) => {
      const { jobId } = await engine.call('scoring.start', { modelId, datasetId, signals: ['token_loss', 'mean_loss'], batchSize: 8 });
      // measure only once batches are being computed and written
      const started = (await engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && e.job.status === 'running' && e.job.current >= 16, 1_800_000)) as { job: { current: number } };
      const xs = await phase();
      const job = (await engine.call('jobs.list', {})).find((j) => j.jobId === jobId)!;
      await engine.call('jobs.cancel', { jobId });
      await engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && ['cancelled', 'failed', 'done'].includes(e.job.status), 600_000);
      return { xs, scored: job.current - started.job.current, runningThroughout: job.status === 'running' };
    };

    // worker at normal priority (what the engine did before): idle, then busy
    let modelId = await startEngine('0');
    const idleBefore = await phase();
    const busyNormal = await whileScoring(modelId);
    await engine.stop();
    // worker at the default lowered priority: busy, then idle
    modelId = await startEngine(undefined);
    const busyNiced = await whileScoring(modelId);
    const idleAfter = await phase();

    const idle = [...idleBefore, ...idleAfter];
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg1: load.map((l) => Number(l[0]!.toFixed(2))) },
      rows: ROWS,
      importSeconds: importSec,
      concurrentQueries: CONCURRENT,
      bursts: BURSTS,
      queries: 'sort mean_loss desc (random offset) | mean_loss in [2,4] sort asc | mean_loss ≥ 3.5 sort n_tokens desc | n_tokens in [150,250] sort mean_loss desc',
      scoringJob: { signals: ['token_loss', 'mean_loss'], batchSize: 8 },
      idleBeforeMs: stats(idleBefore),
      idleAfterMs: stats(idleAfter),
      idleMs: stats(idle),
      busyWorkerNormalPriority: { ms: stats(busyNormal.xs), examplesScoredMeanwhile: busyNormal.scored, ratioP95: pct(busyNormal.xs, 95) / pct(idle, 95), ratioP50: pct(busyNormal.xs, 50) / pct(idle, 50) },
      busyWorkerLowered: { ms: stats(busyNiced.xs), examplesScoredMeanwhile: busyNiced.scored, ratioP95: pct(busyNiced.xs, 95) / pct(idle, 95), ratioP50: pct(busyNiced.xs, 50) / pct(idle, 50) },
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/concurrency.json'), JSON.stringify(result, null, 2) + '\n');
    const f = (x: number) => x.toFixed(0);
    console.log(
      `${CONCURRENT} concurrent table queries over ${ROWS} rows, ${BURSTS} bursts each: idle p50 ${f(result.idleMs.p50)} ms / p95 ${f(result.idleMs.p95)} ms\n` +
        `  while scoring, worker at normal priority: p50 ${f(result.busyWorkerNormalPriority.ms.p50)} / p95 ${f(result.busyWorkerNormalPriority.ms.p95)} ms — p95 ${result.busyWorkerNormalPriority.ratioP95.toFixed(2)}× idle (${busyNormal.scored} examples scored meanwhile)\n` +
        `  while scoring, worker lowered (default):  p50 ${f(result.busyWorkerLowered.ms.p50)} / p95 ${f(result.busyWorkerLowered.ms.p95)} ms — p95 ${result.busyWorkerLowered.ratioP95.toFixed(2)}× idle (${busyNiced.scored} examples scored meanwhile)\n` +
        `  target ≤ 2×; load ${result.machine.loadavg1.join(' → ')}`,
    );
  } finally {
    await engine.stop();
    if (!keep) rmSync(home, { recursive: true, force: true });
  }
}

/** Imports ROWS distinct rows (GSM8K cycled, each question numbered) and writes a seeded `mean_loss` column; returns the import time. */
async function prepare(engine: EngineProcess, home: string): Promise<number> {
  await engine.start();
  const data = join(home, 'rows.jsonl');
  const src = readFileSync(join(ROOT, 'resources/demo/gsm8k/train.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { question: string; answer: string });
  writeFileSync(data, Array.from({ length: ROWS }, (_, i) => {
    const r = src[i % src.length]!;
    return JSON.stringify({ question: `${r.question} (#${i})`, answer: r.answer });
  }).join('\n') + '\n');
  const t0 = performance.now();
  const { jobId } = await engine.call('datasets.import', { path: data });
  const end = (await engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && ['done', 'failed', 'cancelled'].includes(e.job.status), 3_600_000)) as { job: { status: string; message: string } };
  if (end.job.status !== 'done') throw new Error(`import ${end.job.status}: ${end.job.message}`);
  const seconds = (performance.now() - t0) / 1000;
  await engine.stop();
  // the score column the queries sort and filter on
  const db = new Database(join(home, 'projects', 'bench', 'project.winnow'));
  const ids = db.prepare('SELECT id FROM examples ORDER BY id').pluck().all() as number[];
  const rnd = mulberry32(11);
  writeExampleSignals(db, null, ['mean_loss'], ids.map((id) => [id, 1 + 4 * rnd()]));
  db.close();
  return Number(seconds.toFixed(1));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
