/**
 * While a scoring job runs, do table queries still answer? The engine host runs in its own process (browser mode,
 * from sources); 20 concurrent `examples.query` calls (sorted by a signal, page of 100) are timed idle and then
 * while a scoring job runs in the compute worker. Target (issue 9): busy p95 within 2× idle p95.
 * Writes bench/results/concurrency.json. Run: npx tsx bench/concurrency.ts
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineProcess } from '../test/unit/jobs/engine-process';

const ROOT = resolve(import.meta.dirname, '..');
const ROWS = Number(process.env.BENCH_ROWS ?? 2000);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'winnow-bench-conc-'));
  const engine = new EngineProcess(home, 'bench');
  try {
    await engine.start();
    const data = join(home, 'rows.jsonl');
    const lines = readFileSync(join(ROOT, 'resources/demo/gsm8k/train.jsonl'), 'utf8').split('\n').filter(Boolean);
    writeFileSync(data, Array.from({ length: ROWS }, (_, i) => lines[i % lines.length]).join('\n') + '\n');
    const { jobId: imp } = await engine.call('datasets.import', { path: data });
    await engine.waitFor((e) => e.type === 'job' && e.job.jobId === imp && e.job.status === 'done', 600_000);
    const modelId = (await engine.call('project.open', {})).models[0]!.id;

    const query = async () => {
      const t0 = performance.now();
      await engine.call('examples.query', { sort: { column: 'row_index', dir: 'desc' }, offset: Math.floor(Math.random() * (ROWS - 100)), limit: 100 });
      return performance.now() - t0;
    };
    const burst = async () => Promise.all(Array.from({ length: 20 }, query));

    const idle: number[] = [];
    for (let i = 0; i < 10; i++) idle.push(...(await burst()));

    const { jobId } = await engine.call('scoring.start', { modelId, signals: ['token_loss', 'mean_loss'], batchSize: 8 });
    await engine.waitFor((e) => e.type === 'job' && e.job.jobId === jobId && e.job.status === 'running' && e.job.current > 0, 600_000);
    const busy: number[] = [];
    for (let i = 0; i < 10; i++) busy.push(...(await burst()));
    await engine.call('jobs.cancel', { jobId });

    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model },
      rows: ROWS,
      concurrentQueries: 20,
      idleMs: { p50: pct(idle, 50), p95: pct(idle, 95) },
      busyMs: { p50: pct(busy, 50), p95: pct(busy, 95) },
      ratioP95: pct(busy, 95) / pct(idle, 95),
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/concurrency.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`20 concurrent table queries over ${ROWS} rows: idle p50 ${result.idleMs.p50.toFixed(1)} ms / p95 ${result.idleMs.p95.toFixed(1)} ms; ` +
      `during scoring p50 ${result.busyMs.p50.toFixed(1)} ms / p95 ${result.busyMs.p95.toFixed(1)} ms; p95 ratio ${result.ratioP95.toFixed(2)}× (target ≤ 2×)`);
  } finally {
    await engine.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
