/**
 * One Winnow measurement of bench/models.ts in a process of its own (a wasm heap only grows, and an out-of-memory
 * abort kills the module): `npx tsx bench/models-run.ts '{"dir","phase":"forward"|"train"|"top2"|"matmul","batch","seq","reps","micro"?}'`
 * (threads: WINNOW_WASM_THREADS)
 * prints {"seconds", "heapMb"} (the forward adds its products' own time: matmulSetSeconds, matmulSetGflops,
 * forwardVsMatmulSet) or {"error"}.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../main/engine/compute/backend';
import { readModelConfig } from '../main/engine/models/config';
import { loadModel } from '../main/engine/models/model';
import { makeTrainer, matmulSet, randomIds, runForward, timeIt } from './models-lib';

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
  let extra: Record<string, number> = {};
  if (spec.phase === 'forward') {
    // each rep: the forward, then the same products as plain matMuls, back to back, so drift hits both alike
    const set = matmulSet(m.config, B, T);
    const fwd = () => runForward(m.config, m.weights, ids, B, T);
    fwd();
    set.run();
    const f: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < spec.reps; i++) {
      f.push(timeIt(fwd, 1, 0).median);
      s.push(timeIt(() => set.run(), 1, 0).median);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    seconds = med(f);
    extra = { matmulSetSeconds: med(s), matmulSetGflops: set.flops / med(s) / 1e9, forwardVsMatmulSet: med(s.map((x, i) => x / f[i]!)) };
    set.dispose();
  } else {
    const L = m.config.numLayers;
    // top2: only the top 2 blocks (and the final norm) train; the blocks below run once, outside the tape
    const re = new RegExp(`(h|layers)\\.(${L - 2}|${L - 1})\\.|ln_f|model\\.norm`);
    const tr = spec.phase === 'train' ? makeTrainer(m.config, m.weights, ids, B, T, () => true, 0, spec.micro) : makeTrainer(m.config, m.weights, ids, B, T, (n) => re.test(n), L - 2, spec.micro);
    seconds = timeIt(() => tr.step(), spec.reps).median;
  }
  const be = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  const heapMb = Math.round((be.wasm ? be.wasm.HEAPU8.length : tf.memory().numBytes) / 2 ** 20);
  console.log(JSON.stringify({ seconds, heapMb, threads: info.threads, ...extra }));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String((e as Error).message ?? e).split('\n')[0]!.slice(0, 200) }));
  process.exit(0);
});
