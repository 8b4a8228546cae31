/**
 * Per-kernel profile of forward and training steps (stories260K [8,256]; GPT-2-small shape, T=128, B=1 and 4).
 * Usage: npx tsx bench/models-profile.ts [case ...]   cases: stories-fwd stories-train gpt2-fwd1 gpt2-fwd4 gpt2-train1
 * WINNOW_BACKEND picks the backend (default: the best available).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../main/engine/compute/backend';
import { disposeModel, loadModel } from '../main/engine/models/model';
import { GPT2_SMALL, KernelProfiler, STORIES_DIR, makeTrainer, randomIds, randomModelDir, runForward, timeIt } from './models-lib';

const wanted = process.argv.slice(2);
const all = ['stories-fwd', 'stories-train', 'gpt2-fwd1', 'gpt2-fwd4', 'gpt2-train1'];
const cases = wanted.length ? wanted : all;

async function main(): Promise<void> {
  const info = await initBackend();
  console.log(`backend ${info.name}, threads ${info.threads}`);
  const prof = new KernelProfiler();
  prof.install(info.name);

  const report = (label: string, tokens: number, fn: () => void, reps: number): void => {
    fn(); // warm-up (kernel compile, caches)
    prof.reset();
    prof.on = true;
    const { median } = timeIt(fn, reps, 0);
    prof.on = false;
    console.log(`\n${label}: ${median.toFixed(3)} s/step, ${Math.round(tokens / median)} tokens/s, kernel self time ${Math.round(prof.totalMs() / reps)} ms/step`);
    console.table(prof.table().map((r) => ({ ...r, ms: Math.round(r.ms / reps) })));
  };

  if (cases.some((c) => c.startsWith('stories'))) {
    const m = await loadModel(STORIES_DIR);
    const B = 8;
    const T = 256;
    const ids = randomIds(B, T, m.config.vocabSize);
    if (cases.includes('stories-fwd')) report('stories260K forward [8,256]', B * T, () => runForward(m.config, m.weights, ids, B, T), 3);
    if (cases.includes('stories-train')) {
      const tr = makeTrainer(m.config, m.weights, ids, B, T, () => true, 0);
      report('stories260K train step [8,256]', B * T, () => tr.step(), 3);
      tr.dispose();
    }
    disposeModel(m);
  }
  if (cases.some((c) => c.startsWith('gpt2'))) {
    const m = await loadModel(randomModelDir(GPT2_SMALL, 'gpt2-small'));
    const T = 128;
    for (const B of [1, 4]) {
      const ids = randomIds(B, T, m.config.vocabSize);
      if (cases.includes(`gpt2-fwd${B}`)) report(`gpt2-small forward [${B},${T}]`, B * T, () => runForward(m.config, m.weights, ids, B, T), 2);
      if (cases.includes(`gpt2-train${B}`)) {
        const tr = makeTrainer(m.config, m.weights, ids, B, T, () => true, 0);
        report(`gpt2-small train step [${B},${T}]`, B * T, () => tr.step(), 2);
        tr.dispose();
      }
    }
    disposeModel(m);
  }
  console.log(`\nnumTensors at end: ${tf.memory().numTensors}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
