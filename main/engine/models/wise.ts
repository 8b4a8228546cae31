/**
 * WiSE-FT (Wortsman et al., "Robust fine-tuning of zero-shot models"): the weight-space ensemble of a base model and
 * the model tuned from it, θ(α) = (1−α)·θ_base + α·θ_tuned, tensor by tensor. α = 0 is the base, α = 1 the tuned model;
 * in between, a model that often keeps most of the tuned task's gain and forgets less of what the base knew. Written
 * as an ordinary HF folder (the tuned folder's config and tokenizer files, the interpolated safetensors) with
 * `winnow_wise.json` saying what it was made from.
 *
 * Each value is computed in float64 and rounded once to float32, then stored in the tuned checkpoint's dtype; α = 0
 * and α = 1 copy the base's and the tuned model's values as they are, so the ends are bit-for-bit those models.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WinnowError } from '../util/errors';
import { deltaBaseDir, DELTA_FILE, readDeltaManifest } from './delta';
import { INDEX_FILE, readCheckpoint, writeCheckpoint, type SafetensorsDtype, type StoredTensor } from './safetensors';

export const WISE_FILE = 'winnow_wise.json';

/** α as given on a command line or in a request: a number in [0, 1] */
export function checkAlpha(a: unknown, what = '--alpha'): number {
  const n = typeof a === 'string' && a.trim() !== '' ? Number(a) : a;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) throw new WinnowError('bad_input', `${what} must be a number from 0 to 1, got ${JSON.stringify(a)}`);
  return n;
}

/** every tensor of a model folder, a "changed tensors only" folder read over its base */
function fullTensors(dir: string): { tensors: Map<string, StoredTensor>; order: string[] } {
  const delta = readDeltaManifest(dir);
  if (!delta) {
    const ck = readCheckpoint(dir);
    return { tensors: ck.tensors, order: [...ck.tensors.keys()] };
  }
  const base = readCheckpoint(deltaBaseDir(dir, delta));
  const mine = readCheckpoint(dir);
  for (const [name, t] of mine.tensors) base.tensors.set(name, t);
  return { tensors: base.tensors, order: [...base.tensors.keys()] };
}

/** One tensor's interpolation: exact copies at the ends, else (1−α)·b + α·t rounded once to float32. */
export function interpolate(b: Float32Array, t: Float32Array, alpha: number): Float32Array {
  if (alpha === 0) return b.slice();
  if (alpha === 1) return t.slice();
  const out = new Float32Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = (1 - alpha) * b[i]! + alpha * t[i]!;
  return out;
}

export interface WiseResult {
  out: string;
  alpha: number;
  tensors: number;
  dtype: SafetensorsDtype;
}

/**
 * Write θ(α) of `baseDir` and `tunedDir` to `outDir` (created; refused when it holds files, unless `overwrite`). The two
 * must have the same tensor names and shapes (a model and its own tuned copy); anything else is refused, naming the
 * tensor, before a file is written.
 */
export function writeWiseModel(baseDir: string, tunedDir: string, alpha: number, outDir: string, opts: { overwrite?: boolean } = {}): WiseResult {
  alpha = checkAlpha(alpha, 'alpha');
  const base = path.resolve(baseDir);
  const tuned = path.resolve(tunedDir);
  const out = path.resolve(outDir);
  for (const [flag, d] of [['base', base], ['tuned', tuned]] as const) {
    if (!fs.existsSync(path.join(d, 'config.json'))) throw new WinnowError('not_found', `--${flag} ${d}: no config.json (give a Hugging Face model folder)`);
  }
  if (out === base || out === tuned) throw new WinnowError('bad_input', `--out ${out} is one of the two models; choose a new folder`);
  if (fs.existsSync(out) && fs.readdirSync(out).length && !opts.overwrite) throw new WinnowError('conflict', `${out} is not empty; choose an empty folder`);
  const b = fullTensors(base);
  const t = fullTensors(tuned);
  for (const name of t.order) {
    const bt = b.tensors.get(name);
    if (!bt) throw new WinnowError('bad_input', `tensor "${name}" is in the tuned model ${tuned} but not in the base ${base}: WiSE-FT needs a model and its own tuned copy`);
    const tt = t.tensors.get(name)!;
    if (bt.shape.join(',') !== tt.shape.join(',')) {
      throw new WinnowError('bad_input', `tensor "${name}": shape [${bt.shape.join(', ')}] in the base but [${tt.shape.join(', ')}] in the tuned model`);
    }
  }
  const extra = b.order.find((n) => !t.tensors.has(n));
  if (extra) throw new WinnowError('bad_input', `tensor "${extra}" is in the base ${base} but not in the tuned model ${tuned}`);
  // stored as the model α lands on (the tuned one between the ends), so each end is written back in its own dtype
  const like = alpha === 0 ? b : t;
  const dtypes = new Set(like.order.map((n) => like.tensors.get(n)!.dtype));
  const dtype: SafetensorsDtype = dtypes.size === 1 ? [...dtypes][0]! : 'F32';
  const tensors = t.order.map((name) => ({ name, shape: t.tensors.get(name)!.shape, data: interpolate(b.tensors.get(name)!.data, t.tensors.get(name)!.data, alpha) }));
  fs.mkdirSync(out, { recursive: true });
  // the tuned folder's config, tokenizer and generation files; not its weights or its delta manifest
  for (const f of fs.readdirSync(tuned)) {
    const src = path.join(tuned, f);
    if (!fs.statSync(src).isFile() || f.endsWith('.safetensors') || f === INDEX_FILE || f === DELTA_FILE || f === WISE_FILE || f.endsWith('.bin')) continue;
    fs.copyFileSync(src, path.join(out, f));
  }
  writeCheckpoint(out, tensors, dtype, { metadata: { winnow_wise_alpha: String(alpha) } });
  fs.writeFileSync(path.join(out, WISE_FILE), JSON.stringify({ method: 'wise-ft', formula: '(1-alpha)*base + alpha*tuned', alpha, base, tuned }, null, 1) + '\n');
  return { out, alpha, tensors: tensors.length, dtype };
}
