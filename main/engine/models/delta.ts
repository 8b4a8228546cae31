/**
 * The "changed tensors only" form of a tuned model: an HF folder (config.json, tokenizer files) whose safetensors
 * hold only the tensors training changed, plus `winnow_delta.json` naming the base folder and its content hash
 * (LoadedModel.hash). Loading it loads the base, checks the hash, and puts the stored tensors in place.
 * PyTorch: load the base state dict, then `load_state_dict(delta, strict=False)` (test/parity/tuned).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { WinnowError } from '../util/errors';
import { readCheckpoint } from './safetensors';
import { dropWeightCopies } from '../compute/weight-matmul';

export const DELTA_FILE = 'winnow_delta.json';
export const DELTA_FORMAT = 'winnow-delta/1';

export interface DeltaManifest {
  format: typeof DELTA_FORMAT;
  base: { path: string; hash: string };
  /** names of the stored (changed) tensors; every other tensor is the base's */
  tensors: string[];
  [extra: string]: unknown;
}

export function readDeltaManifest(dir: string): DeltaManifest | null {
  const file = path.join(dir, DELTA_FILE);
  if (!fs.existsSync(file)) return null;
  let m: DeltaManifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as DeltaManifest;
  } catch (err) {
    throw new WinnowError('parse_error', `${file}: not valid JSON (${(err as Error).message})`, { file });
  }
  if (m.format !== DELTA_FORMAT) throw new WinnowError('unsupported', `${file}: field "format" is ${JSON.stringify(m.format)}, expected "${DELTA_FORMAT}"`, { file });
  if (typeof m.base?.path !== 'string' || typeof m.base?.hash !== 'string') throw new WinnowError('parse_error', `${file}: field "base" needs "path" and "hash"`, { file });
  if (!Array.isArray(m.tensors)) throw new WinnowError('parse_error', `${file}: field "tensors" must be a list of names`, { file });
  return m;
}

/** The base folder of a delta, resolved against the delta folder when relative. */
export function deltaBaseDir(dir: string, m: DeltaManifest): string {
  const base = path.resolve(dir, m.base.path);
  if (!fs.existsSync(path.join(base, 'config.json'))) {
    throw new WinnowError('not_found', `${path.join(dir, DELTA_FILE)}: base model folder ${base} not found`, { file: path.join(dir, DELTA_FILE) });
  }
  return base;
}

/**
 * Put a delta's tensors into a loaded base (replacing and disposing the base's). Returns the combined hash:
 * sha256 of the base hash and the delta's stored tensors, so the same delta over the same base hashes the same.
 */
export function applyDelta(
  dir: string,
  m: DeltaManifest,
  base: { hash: string; weights: Record<string, tf.Tensor> },
): string {
  const file = path.join(dir, DELTA_FILE);
  if (base.hash !== m.base.hash) {
    throw new WinnowError('conflict', `${file}: the base model changed (hash ${base.hash}, the delta was made on ${m.base.hash})`, { file });
  }
  const h = createHash('sha256');
  h.update(base.hash);
  const ckpt = readCheckpoint(dir, undefined, (name, bytes) => {
    h.update(name);
    h.update(bytes);
  });
  const stored = [...ckpt.tensors.keys()].sort();
  const listed = [...m.tensors].sort();
  if (stored.join('\n') !== listed.join('\n')) {
    throw new WinnowError('parse_error', `${file}: "tensors" lists ${listed.length} tensor(s) but the safetensors hold ${stored.length} (${stored.filter((n) => !listed.includes(n)).concat(listed.filter((n) => !stored.includes(n))).slice(0, 3).join(', ')})`, { file });
  }
  for (const [name, t] of ckpt.tensors) {
    const old = base.weights[name];
    if (!old) throw new WinnowError('parse_error', `${file}: tensor "${name}" is not in the base model`, { file, tensor: name });
    if (old.shape.join() !== t.shape.join()) {
      throw new WinnowError('parse_error', `${file}: tensor "${name}" has shape [${t.shape.join(', ')}], the base has [${old.shape.join(', ')}]`, { file, tensor: name });
    }
    base.weights[name] = tf.tensor(t.data, t.shape, 'float32');
    dropWeightCopies([old]);
    old.dispose();
  }
  return h.digest('hex').slice(0, 16);
}
