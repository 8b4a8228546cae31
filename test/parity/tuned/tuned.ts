/**
 * The deterministic tuned model of the tuned-model parity fixture (test/fixtures/parity/tuned/): a tiny random Llama
 * (GQA, head_dim 2, tied embeddings; stories260K's tokenizer for its vocabulary of 512), trained by Winnow's real
 * training job — through the engine service, on the first GSM8K rows — then exported in both output forms: the full
 * HF folder and the changed tensors plus winnow_delta.json.
 *
 * Fixture: `npx tsx test/parity/tuned/make-fixture.ts`, then `/usr/bin/python3 test/parity/tuned/ref_tuned.py`
 * (PyTorch logits of both forms). test/parity/tuned.test.ts checks both against Winnow and re-runs this training.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import type { ApiInput } from '../../../preload/contract';
import { parseModelConfig } from '../../../main/engine/models/config';
import { writeSafetensors } from '../../../main/engine/models/safetensors';
import { expectedTensors } from '../../../main/engine/models/tensors';
import { mulberry32 } from '../../../main/engine/util/random';
import { callOk as call, finishedJob as finished } from '../../support/engine';

// import.meta.url, not __dirname: the generator runs under tsx (ESM) as well as vitest
const HERE = dirname(fileURLToPath(import.meta.url));
export const FIXTURE = resolve(HERE, '../../fixtures/parity/tuned');
export const GSM8K = resolve(HERE, '../../fixtures/data/gsm8k-50.jsonl');
export const STORIES = resolve(HERE, '../../../resources/models/stories260K');

export const TUNED_CONFIG = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 4, intermediate_size: 8,
  num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 2, max_position_embeddings: 512,
  rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2,
};
export const BASE_SEED = 77;
export const ROWS = 8;
/** every training option that changes numbers: accumulation, warm-up into cosine, clipping, decoupled weight decay */
export const TRAIN: Omit<ApiInput<'train.start'>, 'modelId' | 'subsetId' | 'datasetId'> = {
  layers: 'last:1', steps: 4, batchSize: 2, gradAccum: 2, lr: 0.02, optimizer: 'adamw', weightDecay: 0.05,
  schedule: 'cosine', warmupSteps: 1, clipNorm: 1, maxTokens: 256, evalFraction: 0, seed: 7, checkpointEvery: 100,
};
/** logits inputs: stories260K-tokenizer ids, the second row right-padded */
export const INPUTS = {
  ids: [[1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315], [1, 291, 400, 428, 352, 303, 267, 265, 0, 0, 0, 0]],
  attention_mask: [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]],
};

/** The base: norms 1 ± 0.05, everything else uniform in ±0.1 (mulberry32 from the seed), and the stories tokenizer. */
export function writeBase(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const r = mulberry32(BASE_SEED);
  const tensors = expectedTensors(parseModelConfig(TUNED_CONFIG)).map((t) => {
    const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    const norm = t.name.endsWith('norm.weight');
    for (let i = 0; i < data.length; i++) data[i] = norm ? 1 + 0.1 * (r() - 0.5) : 0.2 * (r() - 0.5);
    return { name: t.name, shape: t.shape, data };
  });
  writeSafetensors(join(dir, 'model.safetensors'), tensors, 'F32');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(TUNED_CONFIG, null, 2) + '\n');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(STORIES, f), join(dir, f));
  return dir;
}

/**
 * Write the base model and train it; returns the folders: base (with tokenizer files), full (the run's output) and
 * delta (the export's changed-tensors form, its manifest naming `base` by absolute path).
 */
export async function trainTuned(): Promise<{ base: string; full: string; delta: string; cleanup: () => void }> {
  const home = mkdtempSync(join(tmpdir(), 'winnow-tuned-'));
  const base = writeBase(join(home, 'base'));
  const data = join(home, `gsm8k-${ROWS}.jsonl`);
  writeFileSync(data, readFileSync(GSM8K, 'utf8').trim().split('\n').slice(0, ROWS).join('\n') + '\n');
  const s = new EngineService({ projectsDir: home, mode: 'browser', executor: new InProcessExecutor() });
  s.open('tuned');
  try {
    const imp = await call(s, 'datasets.import', { path: data });
    await finished(s, imp.jobId);
    const datasetId = (await call(s, 'project.open', {})).datasets[0]!.id;
    const modelId = (await call(s, 'models.add', { path: base })).id;
    const { jobId, runId } = await call(s, 'train.start', { ...TRAIN, modelId, subsetId: null, datasetId });
    await finished(s, jobId);
    const full = (await call(s, 'train.list', {})).find((r) => r.id === runId)!.outDir!;
    const out = join(home, 'export');
    const exp = await call(s, 'export.start', { outDir: out, subsetId: null, trainRunId: runId, what: ['weights'], weightsForm: 'changed' });
    await finished(s, exp.jobId);
    return {
      base, full, delta: join(out, 'model'),
      cleanup: () => rmSync(home, { recursive: true, force: true }),
    };
  } finally {
    s.close();
  }
}

/** A loadable copy of a committed fixture folder: its files plus the stories260K tokenizer. */
export function withTokenizer(src: string, dst: string): string {
  mkdirSync(dst, { recursive: true });
  // winnow_delta.json exists only in the delta folder
  for (const f of ['config.json', 'model.safetensors', 'winnow_delta.json']) if (existsSync(join(src, f))) copyFileSync(join(src, f), join(dst, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(STORIES, f), join(dst, f));
  return dst;
}
