/**
 * Model speed, Winnow (TF.js, best backend) against a plain-PyTorch reference on the same weights and ids, in one run:
 * forward and training-step tokens/s for a GPT-2-small-shaped random model (T=128, B=1 and 4) and stories260K
 * (T=256, B=1 and 8); Winnow top-2-of-L training against full training (a batch the wasm heap cannot hold is trained
 * as micro-batches with summed gradients, as the app does); the backend's own 2-D matmul throughput.
 * Writes bench/results/models.json and prints a table. Usage: npx tsx bench/models.ts  (WINNOW_BENCH_QUICK=1: B=1 only)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../main/engine/compute/backend';
import { readModelConfig } from '../main/engine/models/config';
import { checkFits, countParams } from '../main/engine/models/memory';
import { GPT2_SMALL, ROOT, STORIES_DIR, randomIds, randomModelDir, timeIt } from './models-lib';

const PY = '/usr/bin/python3';
const quick = process.env.WINNOW_BENCH_QUICK === '1';

interface Row {
  model: string;
  batch: number;
  /** full training ran as B / trainMicroBatch micro-batches with summed gradients (the largest that checkFits accepts) */
  trainMicroBatch: number;
  seq: number;
  winnow: { forwardTps: number | null; trainTps: number | null; top2TrainTps: number | null; peakHeapMb: number | null; errors: string[] };
  torch: { forwardTps: number; trainTps: number; threads: number; peakRssMb: number } | { error: string };
  ratio: { forward: number | null; train: number | null } | null;
}

/** 2-D matmul GFLOP/s of the backend itself at a projection's shape (the ceiling the model's matmuls are held to). */
function matmulCeiling(m: number, k: number, n: number): number {
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([k, n]);
  const { median } = timeIt(() => tf.tidy(() => void tf.matMul(a, b).dataSync()), 5, 2);
  tf.dispose([a, b]);
  return (2 * m * k * n) / median / 1e9;
}

function torchRun(folder: string, ids: Int32Array, B: number, T: number, reps: number): Row['torch'] {
  const rows = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)));
  const spec = { folder, ids: rows, reps, threads: [1, 2] };
  const r = spawnSync(PY, [path.join(ROOT, 'bench/reference/models_ref.py'), JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').slice(-1)[0] };
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as { forward_s: number; train_s: number; threads: number; peak_rss_mb: number };
  return { forwardTps: Math.round((B * T) / o.forward_s), trainTps: Math.round((B * T) / o.train_s), threads: o.threads, peakRssMb: o.peak_rss_mb };
}

/** The largest micro-batch dividing B that the engine's own memory check accepts for full training on wasm. */
function trainMicroBatch(dir: string, B: number, T: number): number {
  const cfg = readModelConfig(dir);
  const all = countParams(cfg);
  for (let m = B; m >= 1; m--) {
    if (B % m !== 0) continue;
    try {
      checkFits(cfg, { batch: m, seqLen: T, trainableParams: all, backend: 'wasm' });
      return m;
    } catch {
      // too large: try a smaller micro-batch
    }
  }
  return 1;
}

/** A Winnow phase in its own process (see models-run.ts). */
function winnowRun(dir: string, phase: 'forward' | 'train' | 'top2', B: number, T: number, reps: number, micro?: number): { seconds: number; heapMb: number } | { error: string } {
  const r = spawnSync('npx', ['tsx', path.join(ROOT, 'bench/models-run.ts'), JSON.stringify({ dir, phase, batch: B, seq: T, reps, micro })], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const last = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!last) return { error: `exit ${r.status}: ${(r.stderr || '').trim().split('\n').filter((l) => /Error|abort/i.test(l))[0] ?? 'no output'}`.slice(0, 200) };
  return JSON.parse(last);
}

async function benchModel(label: string, dir: string, shapes: Array<[number, number]>, reps: number, top2: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [B, T] of shapes) {
    const ids = randomIds(B, T, (JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size);
    const fwd = winnowRun(dir, 'forward', B, T, reps);
    const micro = trainMicroBatch(dir, B, T);
    const train = winnowRun(dir, 'train', B, T, Math.max(1, reps - 1), micro);
    const t2 = top2 ? winnowRun(dir, 'top2', B, T, Math.max(1, reps - 1), micro) : null;
    const tps = (r: { seconds: number } | { error: string } | null) => (r && 'seconds' in r ? Math.round((B * T) / r.seconds) : null);
    const heaps = [fwd, train, t2].flatMap((r) => (r && 'heapMb' in r ? [r.heapMb] : []));
    const winnow = {
      forwardTps: tps(fwd),
      trainTps: tps(train),
      top2TrainTps: tps(t2),
      peakHeapMb: heaps.length ? Math.max(...heaps) : null,
      errors: [fwd, train, t2].flatMap((r) => (r && 'error' in r ? [r.error] : [])),
    };
    const torch = torchRun(dir, ids, B, T, reps);
    const ratio =
      'error' in torch
        ? null
        : {
            forward: winnow.forwardTps ? +(winnow.forwardTps / torch.forwardTps).toFixed(3) : null,
            train: winnow.trainTps ? +(winnow.trainTps / torch.trainTps).toFixed(3) : null,
          };
    rows.push({ model: label, batch: B, seq: T, trainMicroBatch: micro, winnow, torch, ratio });
    console.error(`[bench:models] ${label} [${B},${T}] done`);
  }
  return rows;
}

async function main(): Promise<void> {
  const info = await initBackend();
  const ceiling = { shape: '[512,768]x[768,3072]', gflops: +matmulCeiling(512, 768, 3072).toFixed(2) };
  const rows = [
    ...(await benchModel('gpt2-small (random)', randomModelDir(GPT2_SMALL, 'gpt2-small'), quick ? [[1, 128]] : [[1, 128], [4, 128]], 2, true)),
    ...(await benchModel('stories260K', STORIES_DIR, quick ? [[1, 256]] : [[1, 256], [8, 256]], 3, false)),
  ];
  const out = { date: new Date().toISOString(), backend: info.name, threads: info.threads, matmulCeiling: ceiling, rows };
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench/results/models.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`backend ${info.name} (${info.threads} thread(s)); backend 2-D matmul ${ceiling.shape}: ${ceiling.gflops} GFLOP/s`);
  console.table(
    rows.map((r) => ({
      model: r.model,
      'B×T': `${r.batch}×${r.seq}`,
      'train micro-batch': r.trainMicroBatch,
      'fwd tok/s': r.winnow.forwardTps ?? 'failed',
      'torch fwd': 'error' in r.torch ? r.torch.error : r.torch.forwardTps,
      'fwd ratio': r.ratio?.forward ?? '-',
      'train tok/s': r.winnow.trainTps ?? 'failed',
      'torch train': 'error' in r.torch ? '-' : r.torch.trainTps,
      'train ratio': r.ratio?.train ?? '-',
      'top-2 train tok/s': r.winnow.top2TrainTps ?? '-',
      'heap MB': r.winnow.peakHeapMb,
      'torch RSS MB': 'error' in r.torch ? '-' : r.torch.peakRssMb,
    })),
  );
  for (const r of rows) for (const e of r.winnow.errors) console.log(`${r.model} ${r.batch}×${r.seq}: ${e}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
