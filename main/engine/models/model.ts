/**
 * Load and save HF model folders: config.json + safetensors (single or sharded) + tokenizer files.
 * Weights live in a plain record keyed by HF tensor name, so training can swap some for tf.Variables.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { WinnowError } from '../util/errors';
import { readModelConfig } from './config';
import { readCheckpoint, writeCheckpoint, type WriteDtype } from './safetensors';
import { expectedTensors, isIgnoredBuffer, listTensors } from './tensors';
import { dropWeightCopies } from '../compute/weight-matmul';
import { loadTokenizer } from './tokenizer';
import { applyDelta, deltaBaseDir, readDeltaManifest } from './delta';
import type { ModelConfig, TensorInfo, WinnowTokenizer } from './types';

export interface LoadedModel {
  dir: string;
  config: ModelConfig;
  weights: Record<string, tf.Tensor>;
  tokenizer: WinnowTokenizer;
  /** sha256 (hex, 16 chars) of config.json and every loaded tensor's name and stored bytes */
  hash: string;
  tensors: TensorInfo[];
}

export interface LoadModelOptions {
  /** called after each tensor is turned into a tf.Tensor */
  onProgress?: (done: number, total: number) => void;
}

export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  // a tuned model saved as its changed tensors over a base (models/delta.ts)
  const delta = readDeltaManifest(dir);
  if (delta) {
    const base = await loadModel(deltaBaseDir(dir, delta), opts);
    try {
      return { ...base, dir, tokenizer: await loadTokenizer(dir), hash: applyDelta(dir, delta, base) };
    } catch (err) {
      disposeModel(base);
      throw err;
    }
  }
  const config = readModelConfig(dir);
  const tokenizer = await loadTokenizer(dir);
  const hash = createHash('sha256');
  hash.update(fs.readFileSync(path.join(dir, 'config.json')));
  const ckpt = readCheckpoint(
    dir,
    (name) => !isIgnoredBuffer(name),
    (name, bytes) => {
      hash.update(name);
      hash.update(bytes);
    },
  );
  const where = ckpt.files.length === 1 ? ckpt.files[0] : path.join(dir, 'model.safetensors.index.json');
  const prefix = config.arch === 'gpt2' && !ckpt.tensors.has('transformer.wte.weight') && ckpt.tensors.has('wte.weight') ? '' : 'transformer.';
  const expected = expectedTensors(config, prefix);
  for (const e of expected) {
    const t = ckpt.tensors.get(e.name);
    if (!t) {
      throw new WinnowError('not_found', `${where}: tensor "${e.name}" is missing (needed by ${config.modelType} config)`, {
        file: where,
        tensor: e.name,
      });
    }
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      const file = ckpt.fileOf.get(e.name) ?? where;
      throw new WinnowError(
        'parse_error',
        `${file}: tensor "${e.name}" has shape [${t.shape.join(', ')}] but config.json implies [${e.shape.join(', ')}]`,
        { file, tensor: e.name },
      );
    }
  }
  const weights: Record<string, tf.Tensor> = {};
  expected.forEach((e, i) => {
    const t = ckpt.tensors.get(e.name)!;
    weights[e.name] = tf.tensor(t.data, t.shape, 'float32');
    ckpt.tensors.delete(e.name); // let the Float32Array go as soon as TF.js owns a copy
    opts.onProgress?.(i + 1, expected.length);
  });
  return { dir, config, weights, tokenizer, hash: hash.digest('hex').slice(0, 16), tensors: listTensors(config, weights) };
}

export function disposeModel(m: { weights: Record<string, tf.Tensor> }): void {
  dropWeightCopies(Object.values(m.weights));
  for (const t of Object.values(m.weights)) t.dispose();
  m.weights = {};
}

const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'tokenizer.model',
  'chat_template.jinja',
];

export interface SaveModelOptions {
  dtype?: WriteDtype;
  /** folder whose tokenizer files (tokenizer.json, tokenizer_config.json, ...) are copied */
  tokenizerFrom: string;
  /** save only these tensors (e.g. the trained ones); default all */
  onlyNames?: string[];
  maxShardBytes?: number;
}

/** Write an HF folder with the same tensor names and shapes; config.json is written back as it was read but for its dtype. */
export async function saveModel(
  outDir: string,
  model: { config: ModelConfig; weights: Record<string, tf.Tensor> },
  opts: SaveModelOptions,
): Promise<string[]> {
  const names = opts.onlyNames ?? Object.keys(model.weights);
  const tensors = [];
  for (const name of names) {
    const t = model.weights[name];
    if (!t) throw new WinnowError('bad_input', `saveModel: no tensor "${name}" in the model`, { tensor: name });
    tensors.push({ name, shape: t.shape, data: (await t.data()) as Float32Array });
  }
  fs.mkdirSync(outDir, { recursive: true });
  const files = writeCheckpoint(outDir, tensors, opts.dtype ?? 'F32', { maxShardBytes: opts.maxShardBytes });
  // config.json as read, except the dtype written, which transformers uses to pick the load dtype (a bf16 model
  // saved as F32 must not say bfloat16); transformers >= 4.56 writes it as `dtype`
  const raw = { ...model.config.raw };
  const written = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[opts.dtype ?? 'F32'];
  raw.torch_dtype = written;
  if ('dtype' in raw) raw.dtype = written;
  fs.writeFileSync(path.join(outDir, 'config.json'), JSON.stringify(raw, null, 2) + '\n');
  if (path.resolve(opts.tokenizerFrom) !== path.resolve(outDir)) {
    for (const f of TOKENIZER_FILES) {
      const src = path.join(opts.tokenizerFrom, f);
      if (fs.existsSync(src)) fs.copyFileSync(src, path.join(outDir, f));
    }
  }
  return files;
}
