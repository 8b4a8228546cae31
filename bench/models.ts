/**
 * Model speed, Winnow (TF.js, best backend) against a plain-PyTorch reference on the same weights and ids, in one run:
 * forward and training-step tokens/s for a GPT-2-small-shaped random model (T=128, B=1 and 4) and stories260K
 * (T=256, B=1 and 8); Winnow top-2-of-L training against full training (a batch the wasm heap cannot hold is trained
 * as micro-batches with summed gradients, as the app does); the backend's own 2-D matmul throughput.
 * Writes bench/results/models.json and prints a table. Usage: npx tsx bench/models.ts  (WINNOW_BENCH_QUICK=1: B=1 only)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../main/engine/compute/backend';
import { readModelConfig } from '../main/engine/models/config';
import { checkFits, countParams } from '../main/engine/models/memory';
import { GPT2_SMALL, ROOT, STORIES_DIR, randomIds, randomModelDir } from './models-lib';

const PY = '/usr/bin/python3';
const quick = process.env.WINNOW_BENCH_QUICK === '1';

interface Row {
  model: string;
  batch: number;
  /** full training ran as B / trainMicroBatch micro-batches with summed gradients (the largest that checkFits accepts) */
  trainMicroBatch: number;
  seq: number;
  winnow: {
    threads: number;
    forwardTpsByThreads: Record<string, number | null>;
    forwardTps: number | null;
    trainTps: number | null;
    top2TrainTps: number | null;
    peakHeapMb: number | null;
    forwardGflops: number | null;
    matmulCeiling: { shape: string; gflops: number } | null;
    forwardVsMatmul: number | null;
    /** the forward's own products (every projection, the head, attention) run alone as plain matMuls, same process,
     * interleaved with the forward: their GFLOP/s, and their time ÷ the forward's time (1 = the forward is only matmul) */
    matmulSet: { gflops: number; forwardShare: number } | null;
    errors: string[];
  };
  torch: { forwardTps: number; trainTps: number; threads: number; peakRssMb: number } | { error: string };
  ratio: { forward: number | null; train: number | null } | null;
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

type RunResult =
  | { seconds: number; heapMb: number; gflops?: number; shape?: string; matmulSetSeconds?: number; matmulSetGflops?: number; forwardVsMatmulSet?: number }
  | { error: string };

/** A Winnow phase in its own process (see models-run.ts) on `threads` wasm threads. */
function winnowRun(dir: string, phase: 'forward' | 'train' | 'top2' | 'matmul', B: number, T: number, reps: number, threads: number, micro?: number): RunResult {
  const r = spawnSync('npx', ['tsx', path.join(ROOT, 'bench/models-run.ts'), JSON.stringify({ dir, phase, batch: B, seq: T, reps, micro })], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, WINNOW_WASM_THREADS: String(threads) },
  });
  const last = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!last) return { error: `exit ${r.status}: ${(r.stderr || '').trim().split('\n').filter((l) => /Error|abort/i.test(l))[0] ?? 'no output'}`.slice(0, 200) };
  return JSON.parse(last);
}

/** matmul FLOPs of one forward: every projection and the head, plus attention's two T×T products (what PyTorch does too) */
function forwardFlops(dir: string, B: number, T: number): number {
  const cfg = readModelConfig(dir);
  const embed = cfg.vocabSize * cfg.hiddenSize * (cfg.arch === 'gpt2' ? 1 : cfg.tieWordEmbeddings ? 1 : 2);
  const positions = cfg.arch === 'gpt2' ? cfg.maxPositions * cfg.hiddenSize : 0;
  const matrices = countParams(cfg) - embed - positions; // blocks (norm vectors and biases are a rounding error here)
  const head = cfg.vocabSize * cfg.hiddenSize;
  const attention = 2 * cfg.numLayers * T * cfg.numHeads * cfg.headDim;
  return 2 * B * T * (matrices + head + attention);
}

const THREADS = [1, 2];

async function benchModel(label: string, dir: string, shapes: Array<[number, number]>, reps: number, top2: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [B, T] of shapes) {
    const ids = randomIds(B, T, (JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size);
    const tps = (r: RunResult | null) => (r && 'seconds' in r ? Math.round((B * T) / r.seconds) : null);
    // the forward at 1 and 2 threads, as the PyTorch side tries both; the faster setting runs everything else
    const byThreads = THREADS.map((n) => ({ threads: n, run: winnowRun(dir, 'forward', B, T, reps, n) }));
    const best = byThreads.reduce((a, b) => ((tps(b.run) ?? 0) > (tps(a.run) ?? 0) ? b : a));
    const fwd = best.run;
    const threads = best.threads;
    const mm = winnowRun(dir, 'matmul', B, T, reps, threads);
    const micro = trainMicroBatch(dir, B, T);
    const train = winnowRun(dir, 'train', B, T, Math.max(1, reps - 1), threads, micro);
    const t2 = top2 ? winnowRun(dir, 'top2', B, T, Math.max(1, reps - 1), threads, micro) : null;
    const heaps = [fwd, train, t2].flatMap((r) => (r && 'heapMb' in r ? [r.heapMb] : []));
    const forwardGflops = 'seconds' in fwd ? forwardFlops(dir, B, T) / fwd.seconds / 1e9 : null;
    const ceiling = 'gflops' in mm && mm.gflops ? mm.gflops : null;
    const winnow = {
      threads,
      forwardTpsByThreads: Object.fromEntries(byThreads.map((x) => [x.threads, tps(x.run)])),
      forwardTps: tps(fwd),
      trainTps: tps(train),
      top2TrainTps: tps(t2),
      peakHeapMb: heaps.length ? Math.max(...heaps) : null,
      forwardGflops: forwardGflops === null ? null : +forwardGflops.toFixed(2),
      matmulCeiling: ceiling === null ? null : { shape: 'shape' in mm ? mm.shape! : '', gflops: +ceiling.toFixed(2) },
      /** the forward's matmul FLOP rate as a share of the backend's own matmul rate, same threads, same shape class */
      forwardVsMatmul: forwardGflops !== null && ceiling ? +(forwardGflops / ceiling).toFixed(3) : null,
      matmulSet:
        'forwardVsMatmulSet' in fwd && fwd.forwardVsMatmulSet !== undefined
          ? { gflops: +fwd.matmulSetGflops!.toFixed(2), forwardShare: +fwd.forwardVsMatmulSet.toFixed(3) }
          : null,
      errors: [...byThreads.map((x) => x.run), mm, train, t2].flatMap((r) => (r && 'error' in r ? [r.error] : [])),
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
  const rows = [
    ...(await benchModel('gpt2-small (random)', randomModelDir(GPT2_SMALL, 'gpt2-small'), quick ? [[1, 128]] : [[1, 128], [4, 128]], 2, true)),
    ...(await benchModel('stories260K', STORIES_DIR, quick ? [[1, 256]] : [[1, 256], [8, 256]], 3, false)),
  ];
  const out = { date: new Date().toISOString(), backend: info.name, loadavg1m: +os.loadavg()[0]!.toFixed(2), cpus: os.cpus().length, rows };
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench/results/models.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`backend ${info.name}; load average ${out.loadavg1m} on ${out.cpus} cores`);
  console.table(
    rows.map((r) => ({
      model: r.model,
      'B×T': `${r.batch}×${r.seq}`,
      threads: r.winnow.threads,
      'train micro-batch': r.trainMicroBatch,
      'fwd tok/s': r.winnow.forwardTps ?? 'failed',
      'fwd GFLOP/s': r.winnow.forwardGflops ?? '-',
      'matmul GFLOP/s': r.winnow.matmulCeiling?.gflops ?? '-',
      'fwd ÷ matmul': r.winnow.forwardVsMatmul ?? '-',
      'fwd ÷ own products': r.winnow.matmulSet?.forwardShare ?? '-',
      'torch fwd': 'error' in r.torch ? r.torch.error : r.torch.forwardTps,
      'fwd ratio': r.ratio?.forward ?? '-',
      'train tok/s': r.winnow.trainTps ?? 'failed',
      'torch train': 'error' in r.torch ? '-' : r.torch.trainTps,
      'train ratio': r.ratio?.train ?? '-',
      'top-2 train tok/s': r.winnow.top2TrainTps ?? '-',
      'top-2 ÷ full step time': r.winnow.top2TrainTps && r.winnow.trainTps ? +(r.winnow.trainTps / r.winnow.top2TrainTps).toFixed(3) : '-',
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
