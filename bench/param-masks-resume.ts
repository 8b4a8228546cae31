/**
 * `npx tsx bench/param-masks-resume.ts` — what saving the parameter-mask pass for resume costs, on the demo model
 * (stories260K) and GSM8K: the same paramMasks.compute (salience (w·g)² over every tensor, so Σg and Σg² are saved:
 * 2 × 4 bytes per parameter) with its state saved as the pass goes (the default for sums this small: once 50× the
 * last save's time has passed) and with no save until the mask (WINNOW_MASK_STATE_BYTES=0), in ABBA order; median
 * seconds per arm and their ratio.
 * Writes bench/results/param-masks-resume.json. Env: PM_ROWS (100), PM_EXAMPLES (40), PM_ROUNDS (2, of ABBA).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../main/engine/compute/backend';
import { benchService, median } from './service-lib';

const ROWS = Number(process.env.PM_ROWS ?? 100);
const EXAMPLES = Number(process.env.PM_EXAMPLES ?? 40);
const ROUNDS = Number(process.env.PM_ROUNDS ?? 2);
const ROOT = resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const backend = await initBackend();
  const home = mkdtempSync(join(tmpdir(), 'winnow-pm-resume-bench-'));
  const { service, call, done } = benchService(home);
  service.open('pm');
  try {
    const load0 = loadavg()[0];
    const data = join(home, 'gsm.jsonl');
    writeFileSync(data, readFileSync(join(ROOT, 'resources/demo/gsm8k/train.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, ROWS).join('\n') + '\n');
    const datasetId = Number((await done((await call('datasets.import', { path: data })).jobId)).stats.datasetId);
    const modelId = (await call('project.open', {})).models[0]!.id;
    // warm-up: renders the rows and loads the kernels, so neither arm pays for it
    await done((await call('paramMasks.compute', { name: 'warm-up', modelId, datasetId, method: 'gps', perRow: 1, examples: 2 })).jobId);

    const arms: Record<'saved' | 'unsaved', number[]> = { saved: [], unsaved: [] };
    let run = 0;
    for (const arm of Array.from({ length: ROUNDS }, () => ['saved', 'unsaved', 'unsaved', 'saved'] as const).flat()) {
      process.env.WINNOW_MASK_STATE_BYTES = arm === 'saved' ? String(16 << 20) : '0';
      process.env.WINNOW_MASK_SAVE_SECONDS = arm === 'saved' ? '30' : '1e9';
      const t0 = Date.now();
      await done((await call('paramMasks.compute', { name: `${arm} ${++run}`, modelId, datasetId, method: 'salience', metric: 'sq_wg', density: 0.01, scope: 'all', allParams: true, examples: EXAMPLES })).jobId);
      arms[arm].push((Date.now() - t0) / 1000);
      process.stderr.write(`${arm}: ${arms[arm].at(-1)!.toFixed(2)} s\n`);
    }
    const result = {
      date: new Date().toISOString(),
      backend: backend.name,
      cores: cpus().length,
      loadavg: { start: load0, end: loadavg()[0] },
      rows: ROWS,
      examples: EXAMPLES,
      savedSeconds: arms.saved,
      unsavedSeconds: arms.unsaved,
      savedOverUnsaved: median(arms.saved) / median(arms.unsaved),
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/param-masks-resume.json'), JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    service.close();
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
