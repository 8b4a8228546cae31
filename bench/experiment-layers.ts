/**
 * `npm run experiment` — selective fine-tuning on the demo model and GSM8K, equal steps per arm:
 *   (a) all blocks, (b) top-2 blocks by `fim`, (c) bottom-2 blocks, all on response tokens;
 *   (d) all blocks on the top-60% response tokens by `excess_loss` (against a reference tuned on the same data)
 *       compared with (a).
 * Held-out loss curves (the same eval rows for every arm) go to bench/results/experiment-layers.{json,png} and a
 * table is printed. The figures say what they say; nothing is claimed beyond them.
 *
 * Env: EXP_ROWS (default 400), EXP_STEPS (60), EXP_BATCH (8), EXP_LR (2e-3), EXP_SEED (0).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../main/engine/compute/backend';
import { benchService } from './service-lib';
import type { ApiInput, TrainMetric } from '../preload/contract';

const ROWS = Number(process.env.EXP_ROWS ?? 400);
const STEPS = Number(process.env.EXP_STEPS ?? 60);
const BATCH = Number(process.env.EXP_BATCH ?? 8);
const LR = Number(process.env.EXP_LR ?? 2e-3);
const SEED = Number(process.env.EXP_SEED ?? 0);
const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'bench', 'results');

async function main(): Promise<void> {
  const backend = await initBackend();
  const home = mkdtempSync(join(tmpdir(), 'winnow-exp-'));
  const { service, call, done: finish } = benchService(home);
  service.open('experiment');
  const log = (s: string) => process.stderr.write(`[experiment] ${s}\n`);
  try {
    // data: the first ROWS rows of GSM8K train
    const src = join(ROOT, 'resources', 'demo', 'gsm8k', 'train.jsonl');
    const lines = (await import('node:fs')).readFileSync(src, 'utf8').split('\n').slice(0, ROWS).join('\n') + '\n';
    const data = join(home, 'gsm8k.jsonl');
    writeFileSync(data, lines);
    const imported = await finish((await call('datasets.import', { path: data })).jobId);
    const datasetId = Number(imported.stats.datasetId);
    const project = await call('project.open', {});
    const base = project.models[0]!;
    const all = await call('subsets.create', { name: 'all', rule: { kind: 'all' }, datasetId });

    const common = {
      modelId: base.id, subsetId: all.id, steps: STEPS, batchSize: BATCH, lr: LR, seed: SEED, evalEvery: Math.max(1, Math.round(STEPS / 10)),
      evalFraction: 0.1, checkpointEvery: 1_000_000, schedule: 'cosine' as const, warmupSteps: Math.round(STEPS / 10), maxTokens: 256,
    };
    const train = async (label: string, extra: Partial<ApiInput<'train.start'>>) => {
      log(`training ${label}`);
      const t0 = Date.now();
      const { jobId, runId } = await call('train.start', { ...common, layers: 'all', ...extra } as ApiInput<'train.start'>);
      const job = await finish(jobId);
      const metrics = await call('train.metrics', { runId });
      return { label, runId, seconds: (Date.now() - t0) / 1000, tokensPerSec: Number(job.stats.tokensPerSec), metrics };
    };

    log('scoring fim (layer scores)');
    await finish((await call('scoring.start', { modelId: base.id, datasetId, signals: ['fim'] })).jobId);
    const layers = await call('layers.list', { modelId: base.id });
    const L = layers.numLayers;

    const arms: Array<Awaited<ReturnType<typeof train>>> = [];
    arms.push(await train('(a) all blocks', { layers: 'all' }));
    arms.push(await train('(b) top-2 blocks by fim', { layers: 'top:2:fim' }));
    const bottom = layers.tensors.filter((t) => t.block !== null && t.block < 2).map((t) => t.name);
    arms.push(await train('(c) bottom-2 blocks', { layers: `names:${bottom.join(',')}` }));

    // (d): reference = the base tuned on the same data (arm a's output); excess_loss = ℓ_base − ℓ_ref
    const refModel = (await call('project.open', {})).models.find((m) => m.trainRunId === arms[0]!.runId)!;
    log('scoring excess_loss against the tuned reference');
    await finish((await call('scoring.start', { modelId: base.id, refModelId: refModel.id, datasetId, signals: ['excess_loss'] })).jobId);
    arms.push(await train('(d) all blocks, top-60% tokens by excess_loss', { layers: 'all', tokenPolicy: 'top_percent', tokenSignal: 'excess_loss', tokenPercent: 60 }));

    const blockFim = new Map<number, number>();
    for (const t of layers.tensors) if (t.block !== null && t.scores.fim !== undefined) blockFim.set(t.block, (blockFim.get(t.block) ?? 0) + t.scores.fim);
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, totalMemGiB: Math.round(totalmem() / 2 ** 30), backend: backend.name },
      settings: { rows: ROWS, steps: STEPS, batch: BATCH, lr: LR, seed: SEED, numLayers: L, evalFraction: 0.1 },
      blockFim: Object.fromEntries(blockFim),
      arms: arms.map((a) => ({
        label: a.label,
        seconds: Math.round(a.seconds),
        tokensPerSec: a.tokensPerSec,
        eval: a.metrics.filter((m: TrainMetric) => m.split === 'eval').map((m) => ({ step: m.step, loss: m.loss })),
        trainLast: a.metrics.filter((m: TrainMetric) => m.split === 'train').at(-1)?.loss ?? null,
      })),
    };
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'experiment-layers.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`\nSelective fine-tuning, stories260K on ${ROWS} GSM8K rows, ${STEPS} steps × batch ${BATCH}, ${backend.name}`);
    console.log('| arm | first eval loss | final eval loss | wall s | tokens/s |\n|---|---|---|---|---|');
    for (const a of result.arms) {
      console.log(`| ${a.label} | ${a.eval[0]?.loss.toFixed(4)} | ${a.eval.at(-1)?.loss.toFixed(4)} | ${a.seconds} | ${a.tokensPerSec} |`);
    }
    await plot(result, join(OUT, 'experiment-layers.png'));
    console.log(`\nwrote bench/results/experiment-layers.json and .png`);
  } finally {
    service.close();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Held-out loss curves as an SVG rendered to PNG by Chromium (Playwright), so no plotting library is needed. */
async function plot(result: { arms: Array<{ label: string; eval: Array<{ step: number; loss: number }> }> }, file: string): Promise<void> {
  const W = 900, H = 520, P = 60;
  const pts = result.arms.flatMap((a) => a.eval);
  if (!pts.length) return;
  const xMax = Math.max(...pts.map((p) => p.step));
  const yMin = Math.min(...pts.map((p) => p.loss));
  const yMax = Math.max(...pts.map((p) => p.loss));
  const x = (s: number) => P + ((W - 2 * P) * s) / xMax;
  const y = (l: number) => H - P - ((H - 2 * P) * (l - yMin)) / Math.max(1e-9, yMax - yMin);
  const colours = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];
  const lines = result.arms.map((a, i) =>
    `<polyline fill="none" stroke="${colours[i % 4]}" stroke-width="2.5" points="${a.eval.map((p) => `${x(p.step)},${y(p.loss)}`).join(' ')}"/>` +
    `<text x="${W - P - 330}" y="${P + 20 * i}" fill="${colours[i % 4]}" font-size="14">${a.label}</text>`).join('');
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * xMax)).map((st) =>
    `<text x="${x(st)}" y="${H - P + 18}" text-anchor="middle" font-size="12">${st}</text>`).join('');
  const ticks = xTicks + [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const l = yMin + f * (yMax - yMin);
    return `<text x="${P - 8}" y="${y(l) + 4}" text-anchor="end" font-size="12">${l.toFixed(3)}</text><line x1="${P}" x2="${W - P}" y1="${y(l)}" y2="${y(l)}" stroke="#e5e7eb"/>`;
  }).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${ticks}
    <line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#111"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#111"/>
    <text x="${W / 2}" y="${H - 15}" text-anchor="middle" font-size="13">step</text><text x="15" y="${H / 2}" font-size="13" transform="rotate(-90 15 ${H / 2})">held-out loss (response tokens)</text>${lines}</svg>`;
  try {
    const { chromium } = await import('@playwright/test');
    const browser = await chromium.launch({ executablePath: process.env.WINNOW_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await browser.newPage({ viewport: { width: W, height: H } });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path: file });
    await browser.close();
  } catch (err) {
    writeFileSync(file.replace(/\.png$/, '.svg'), svg);
    console.error(`no Chromium for the PNG (${(err as Error).message}); wrote an SVG instead`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
