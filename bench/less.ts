/**
 * LESS benchmark: the whole grad_sim pipeline on the demo model (stories260K) and the first --rows GSM8K rows,
 * through the engine service as the app runs it — the LoRA warm-up (train.start with keepCheckpoints: a seeded
 * random --percent % of the rows, LoRA 8:32 on q/k/v/o of every block, batch 4, linear lr 2e-5, --steps steps, --k
 * kept checkpoints) then scoring.start grad_sim (two target subsets of 4 rows, d = --dim) — against the same steps in
 * PyTorch (bench/reference/less_ref.py) on the token ids Winnow rendered, in the same run, alternating Winnow and
 * PyTorch --reps times. Reports the medians of the warm-up, scoring and total seconds and Winnow's total over
 * PyTorch's. Writes bench/results/less.json.
 * Usage: npx tsx bench/less.ts [--rows 40] [--percent 25] [--steps 8] [--k 2] [--dim 8192] [--reps 3] [--python PATH]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../main/engine/compute/backend';
import { getRender, scoreRunRenderKeyId } from '../main/engine/db';
import { benchService, median } from './service-lib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(ROOT, 'resources/demo/gsm8k/train.jsonl');
const MODEL = join(ROOT, 'resources/models/stories260K');

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROWS = arg('rows', 40);
const PERCENT = arg('percent', 25);
const STEPS = arg('steps', 8);
const K = arg('k', 2);
const DIM = arg('dim', 8192);
const REPS = arg('reps', 3);
const LORA = { r: 8, alpha: 32, dropout: 0, targets: ['attention'], rslora: false };
const LR = 2e-5;
const BATCH = 4;

function pythonWithTorch(): string {
  const i = process.argv.indexOf('--python');
  const candidates = [i >= 0 ? process.argv[i + 1] : undefined, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  for (const py of candidates) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      // next
    }
  }
  throw new Error(`no python with torch among ${candidates.join(', ')}`);
}

async function main(): Promise<void> {
  await initBackend();
  const py = pythonWithTorch();
  const work = mkdtempSync(join(tmpdir(), 'winnow-less-bench-'));
  try {
    const file = join(work, 'rows.jsonl');
    writeFileSync(file, readFileSync(DATA, 'utf8').trim().split('\n').slice(0, ROWS).join('\n') + '\n');
    const { service, call, done } = benchService(join(work, 'projects'));
    service.open('bench');
    const modelId = (await call('project.open', {})).models[0]!.id;
    const datasetId = Number((await done((await call('datasets.import', { path: file })).jobId)).stats.datasetId);
    const warm = await call('subsets.create', { name: 'warm', rule: { kind: 'random', count: Math.max(BATCH, Math.round((PERCENT / 100) * ROWS)), seed: 1 }, datasetId });
    const t1 = await call('subsets.create', { name: 't1', rule: { kind: 'random', count: 4, seed: 11 }, datasetId });
    const t2 = await call('subsets.create', { name: 't2', rule: { kind: 'random', count: 4, seed: 12 }, datasetId });
    const db = service.current().db;
    const members = (id: number) => db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(id) as number[];

    const winnow = async () => {
      const a = performance.now();
      const tr = await call('train.start', {
        modelId, subsetId: warm.id, layers: 'all', lora: LORA, keepCheckpoints: K, steps: STEPS, batchSize: BATCH, lr: LR, schedule: 'linear',
        warmupSteps: 0, weightDecay: 0, evalFraction: 0, maxTokens: 512, seed: 0,
      });
      await done(tr.jobId);
      const b = performance.now();
      const sc = await done((await call('scoring.start', { modelId, datasetId, signals: ['grad_sim'], lessRunId: tr.runId, targetSubsetIds: [t1.id, t2.id], gradDim: DIM, maxTokens: 512 })).jobId);
      const c = performance.now();
      return { warmupSeconds: (b - a) / 1000, scoreSeconds: (c - b) / 1000, seconds: (c - a) / 1000, runId: Number(sc.stats.runId) };
    };

    const runs: Array<{ winnow: Awaited<ReturnType<typeof winnow>>; torch: { warmup_seconds: number; score_seconds: number; seconds: number } }> = [];
    let tokenFile = '';
    for (let rep = 0; rep < REPS; rep++) {
      const w = await winnow();
      if (!tokenFile) {
        // the token ids the first run scored, for PyTorch
        const keyId = scoreRunRenderKeyId(db, w.runId)!;
        const ids = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
        tokenFile = join(work, 'tokens.jsonl');
        writeFileSync(tokenFile, ids.map((id) => {
          const r = getRender(db, id, keyId)!;
          return JSON.stringify({ id, ids: [...r.tokenIds], mask: [...r.labelMask] });
        }).join('\n') + '\n');
        writeFileSync(join(work, 'warm.json'), JSON.stringify(members(warm.id)));
        writeFileSync(join(work, 'targets.json'), JSON.stringify([members(t1.id), members(t2.id)]));
      }
      const out = execFileSync(py, [
        join(ROOT, 'bench/reference/less_ref.py'), '--model', MODEL, '--data', tokenFile, '--warm', join(work, 'warm.json'), '--targets', join(work, 'targets.json'),
        '--steps', String(STEPS), '--k', String(K), '--batch', String(BATCH), '--lr', String(LR), '--r', String(LORA.r), '--alpha', String(LORA.alpha), '--dim', String(DIM),
      ], { encoding: 'utf8', maxBuffer: 64 << 20 });
      const t = JSON.parse(out.trim().split('\n').pop()!) as { warmup_seconds: number; score_seconds: number; seconds: number };
      runs.push({ winnow: w, torch: t });
      console.log(`rep ${rep + 1}: Winnow ${w.seconds.toFixed(1)} s (warm-up ${w.warmupSeconds.toFixed(1)}, score ${w.scoreSeconds.toFixed(1)}); PyTorch ${t.seconds.toFixed(1)} s (${t.warmup_seconds.toFixed(1)}, ${t.score_seconds.toFixed(1)})`);
    }
    const warmupRows = members(warm.id).length;
    service.close();
    const med = (f: (r: (typeof runs)[number]) => number) => median(runs.map(f));
    const result = {
      date: new Date().toISOString(), loadavg: loadavg(), rows: ROWS, warmupRows, steps: STEPS, checkpoints: K, dim: DIM, reps: REPS, lora: LORA,
      winnow: { warmupSeconds: med((r) => r.winnow.warmupSeconds), scoreSeconds: med((r) => r.winnow.scoreSeconds), seconds: med((r) => r.winnow.seconds) },
      torch: { warmupSeconds: med((r) => r.torch.warmup_seconds), scoreSeconds: med((r) => r.torch.score_seconds), seconds: med((r) => r.torch.seconds) },
      // > 1: Winnow takes longer
      ratio: med((r) => r.winnow.seconds) / med((r) => r.torch.seconds),
      runs,
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/less.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`median total: Winnow ${result.winnow.seconds.toFixed(1)} s, PyTorch ${result.torch.seconds.toFixed(1)} s, Winnow/PyTorch ${result.ratio.toFixed(2)}×`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

void main();
