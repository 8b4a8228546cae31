/**
 * KV-cached greedy decoding against the plain-PyTorch reference's greedy continuation (uncached, torch.argmax each
 * step; test/parity/reference/make_generate_fixture.py → test/fixtures/parity/generate.json), token for token, on the
 * parity models and the bundled stories260K: each prompt alone, and all of a case's prompts in one left-padded batch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { webgpuSkipReason } from '../setup/webgpu';
import { initBackend, type BackendName } from '../../main/engine/compute/backend';
import { generate } from '../../main/engine/models/generate';
import { disposeModel, loadModel } from '../../main/engine/models/model';
import { STORIES, copyStoriesTokenizer, tmpDir } from '../unit/models/tiny';

const FIXTURES = path.resolve(__dirname, '../fixtures/parity');
const REF = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'generate.json'), 'utf8')) as {
  cases: Record<string, Array<{ prompt: number[]; ids: number[] }>>;
};
// webgpu runs over whatever adapter starts (CI: SwiftShader) and is skipped, with the reason, where none can
const GPU_SKIP = await webgpuSkipReason();
if (GPU_SKIP) console.warn(`generation parity on webgpu skipped: ${GPU_SKIP}`);
const BACKENDS: BackendName[] = GPU_SKIP ? ['cpu', 'wasm'] : ['cpu', 'wasm', 'webgpu'];

function modelDir(name: string): string {
  if (name === 'stories260K') return STORIES;
  const dir = tmpDir(`gen-parity-${name}`);
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURES, name, f), path.join(dir, f));
  copyStoriesTokenizer(dir);
  return dir;
}

afterAll(async () => {
  await initBackend('cpu');
});

/**
 * On SwiftShader each decoding step's new key length compiles new shaders (about a minute per model here), so webgpu
 * runs one model of each family in CI; every model runs on cpu and wasm.
 */
const WEBGPU_CASES = new Set(['gpt2', 'qwen2-bias-untied']);
const casesFor = (backend: BackendName) => Object.keys(REF.cases).filter((n) => backend !== 'webgpu' || WEBGPU_CASES.has(n));

describe.each(BACKENDS)('greedy generation matches PyTorch on %s', (backend) => {
  it.each(casesFor(backend))('%s', async (name) => {
    await initBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const m = await loadModel(modelDir(name));
    try {
      const cases = REF.cases[name]!;
      const n = cases[0]!.ids.length;
      // wasm keeps a transposed copy of each weight after its first use (compute/weight-matmul.ts): warm it first
      await generate(m, [cases[0]!.prompt], { maxNewTokens: 2, eosIds: [] });
      const before = tf.memory().numTensors;
      const alone = [];
      for (const c of cases) alone.push((await generate(m, [c.prompt], { maxNewTokens: n, eosIds: [] }))[0]!.ids);
      const batched = (await generate(m, cases.map((c) => c.prompt), { maxNewTokens: n, eosIds: [], batchSize: cases.length })).map((g) => g.ids);
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      expect(alone).toEqual(cases.map((c) => c.ids));
      expect(batched).toEqual(cases.map((c) => c.ids));
    } finally {
      disposeModel(m);
    }
    // SwiftShader's shader compiles take a minute a model on an idle machine, several on a loaded one
  }, backend === 'webgpu' ? 360_000 : undefined);
});
