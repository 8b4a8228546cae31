/**
 * One Winnow measurement of bench/models.ts in a process of its own (a wasm heap only grows, and an out-of-memory
 * abort kills the module): `npx tsx bench/models-run.ts '{"dir","phase":"forward"|"train"|"top2"|"matmul","batch","seq","reps","micro"?}'`
 * (threads: WINNOW_WASM_THREADS)
 * prints {"seconds", "heapMb"} or {"error"}.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../main/engine/compute/backend';
import { readModelConfig } from '../main/engine/models/config';
import { loadModel } from '../main/engine/models/model';
import { makeTrainer, randomIds, runForward, timeIt } from './models-lib';

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as { dir: string; phase: 'forward' | 'train' | 'top2' | 'matmul'; batch: number; seq: number; reps: number; micro?: number };
  const info = await initBackend();
  if (spec.phase === 'matmul') {
    // the backend's own 2-D matmul at this row count against the model's widest projection (hidden → intermediate)
    const cfg = readModelConfig(spec.dir);
    const [M, K, N] = [spec.batch * spec.seq, cfg.hiddenSize, cfg.intermediateSize];
    const a = tf.randomNormal([M, K]);
    const b = tf.randomNormal([K, N]);
    const { median } = timeIt(() => tf.tidy(() => void tf.matMul(a, b).dataSync()), Math.max(5, spec.reps), 2);
    console.log(JSON.stringify({ seconds: median, gflops: (2 * M * K * N) / median / 1e9, shape: `[${M},${K}]x[${K},${N}]`, threads: info.threads, heapMb: 0 }));
    return;
  }
  const m = await loadModel(spec.dir);
  const { batch: B, seq: T } = spec;
  const ids = randomIds(B, T, m.config.vocabSize);
  let seconds: number;
  if (spec.phase === 'forward') {
    seconds = timeIt(() => runForward(m.config, m.weights, ids, B, T), spec.reps).median;
  } else {
    const L = m.config.numLayers;
    // top2: only the top 2 blocks (and the final norm) train; the blocks below run once, outside the tape
    const re = new RegExp(`(h|layers)\\.(${L - 2}|${L - 1})\\.|ln_f|model\\.norm`);
    const tr = spec.phase === 'train' ? makeTrainer(m.config, m.weights, ids, B, T, () => true, 0, spec.micro) : makeTrainer(m.config, m.weights, ids, B, T, (n) => re.test(n), L - 2, spec.micro);
    seconds = timeIt(() => tr.step(), spec.reps).median;
  }
  const be = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  const heapMb = Math.round((be.wasm ? be.wasm.HEAPU8.length : tf.memory().numBytes) / 2 ** 20);
  console.log(JSON.stringify({ seconds, heapMb, threads: info.threads }));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String((e as Error).message ?? e).split('\n')[0]!.slice(0, 200) }));
  process.exit(0);
});
