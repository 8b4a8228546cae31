/**
 * `npx tsx bench/param-masks.ts` — parameter masks on the demo model and GSM8K, in one run:
 *   - paramMasks.compute: seconds and examples/s of the gradient pass (salience |w·g| 1% over all tensors, and gps:4)
 *   - training step time of the same run without and with a mask (last:2 blocks; mask = 1% of them), median of the
 *     per-step times after the first, and their ratio (the mask's overhead: masking the gradient and the update)
 * Writes bench/results/param-masks.json. Env: PM_ROWS (200), PM_EXAMPLES (50), PM_STEPS (12), PM_BATCH (4).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../main/engine/compute/backend';
import { benchService, median } from './service-lib';
import type { ApiInput } from '../preload/contract';

const ROWS = Number(process.env.PM_ROWS ?? 200);
const EXAMPLES = Number(process.env.PM_EXAMPLES ?? 50);
const STEPS = Number(process.env.PM_STEPS ?? 12);
const BATCH = Number(process.env.PM_BATCH ?? 4);
const ROOT = resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const backend = await initBackend();
  const home = mkdtempSync(join(tmpdir(), 'winnow-pm-bench-'));
  const { service, call, done: finish } = benchService(home);
  service.open('pm');
  try {
    const load0 = loadavg()[0];
    const data = join(home, 'gsm.jsonl');
    const src = readFileSync(join(ROOT, 'resources/demo/gsm8k/train.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, ROWS);
    writeFileSync(data, src.join('\n') + '\n');
    const imp = await call('datasets.import', { path: data });
    const datasetId = Number((await finish(imp.jobId)).stats.datasetId);
    const modelId = (await call('project.open', {})).models[0]!.id;

    const masks: Record<string, unknown> = {};
    for (const [name, req] of [
      ['salience-abs_wg-1pct-all', { method: 'salience', metric: 'abs_wg', density: 0.01, scope: 'all' }],
      ['gps-4-all', { method: 'gps', perRow: 4, scope: 'all' }],
      ['salience-abs_wg-1pct-last2', { method: 'salience', metric: 'abs_wg', density: 0.01, scope: 'last:2' }],
    ] as const) {
      const t0 = Date.now();
      const { jobId } = await call('paramMasks.compute', { name, modelId, datasetId, examples: EXAMPLES, ...req });
      const job = await finish(jobId);
      const secs = (Date.now() - t0) / 1000;
      masks[name] = { seconds: secs, examplesPerSec: EXAMPLES / secs, trainableParams: job.stats.trainableParams, scopeParams: job.stats.scopeParams, maskId: job.stats.maskId };
      process.stderr.write(`${name}: ${secs.toFixed(1)} s, ${job.stats.trainableParams}/${job.stats.scopeParams}\n`);
    }

    const stepTimes = async (extra: Partial<ApiInput<'train.start'>>) => {
      const { jobId, runId } = await call('train.start', {
        modelId, subsetId: null, datasetId, layers: 'last:2', steps: STEPS, batchSize: BATCH, evalFraction: 0, checkpointEvery: 1000, ...extra,
      });
      const times: number[] = [];
      let last = Date.now();
      const off = service.onEvent((e) => {
        if (e.type === 'train.metric' && e.runId === runId && e.metric.split === 'train') {
          const now = Date.now();
          times.push(now - last);
          last = now;
        }
      });
      await finish(jobId);
      off();
      return times.slice(1);
    };
    const plain: number[] = [];
    const masked: number[] = [];
    const maskId = Number((masks['salience-abs_wg-1pct-last2'] as { maskId: number }).maskId);
    // ABBA order, so neither arm always runs first
    for (const arm of ['plain', 'masked', 'masked', 'plain']) {
      if (arm === 'plain') plain.push(...(await stepTimes({})));
      else masked.push(...(await stepTimes({ paramMaskId: maskId })));
    }
    const result = {
      date: new Date().toISOString(),
      backend: backend.name,
      cores: cpus().length,
      loadavg: { start: load0, end: loadavg()[0] },
      rows: ROWS, examples: EXAMPLES, steps: STEPS, batch: BATCH,
      masks,
      train: {
        plainMedianMs: median(plain), maskedMedianMs: median(masked), maskedOverPlain: median(masked) / median(plain),
        plainMs: plain, maskedMs: masked,
      },
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/param-masks.json'), JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(JSON.stringify({ ...result, train: { ...result.train, plainMs: undefined, maskedMs: undefined } }, null, 2) + '\n');
  } finally {
    service.close();
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
