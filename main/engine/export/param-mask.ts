/**
 * Bundle files for a parameter mask and for tuned weights as changed tensors only.
 *
 * param_mask.safetensors: one U8 tensor per tensor the mask opens, with the model tensor's exact name and shape;
 *   1 = trainable, 0 = frozen; tensors absent from the file are frozen entirely. Readable by `safetensors` (numpy /
 *   torch: `mask.bool()`). param_mask.json: method, settings, counts and provenance.
 * model/ in the "changed" form: models/delta.ts.
 */
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Db } from '../db';
import { trainRunRow } from '../db/training';
import type { ParamMaskInfo } from '../../../preload/contract';
import { getParamMask, loadParamMaskBits } from '../selection/param-masks-store';
import { disposeModel, loadModel } from '../models/model';
import { readCheckpoint, writeCheckpoint, SINGLE_FILE, INDEX_FILE } from '../models/safetensors';
import { DELTA_FILE, DELTA_FORMAT, readDeltaManifest, type DeltaManifest } from '../models/delta';
import { WinnowError } from '../util/errors';

export const PARAM_MASK_FILES = { tensors: 'param_mask.safetensors', info: 'param_mask.json' } as const;

/** safetensors with U8 tensors (the models/ writer is float-only). Header padded to 8 bytes with spaces. */
export function writeU8Safetensors(file: string, tensors: Array<{ name: string; shape: number[]; data: Uint8Array }>, metadata: Record<string, string>): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'U8', shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  let h = JSON.stringify(header);
  h += ' '.repeat((8 - (Buffer.byteLength(h) % 8)) % 8);
  const hb = Buffer.from(h, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  writeFileSync(file, Buffer.concat([len, hb, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.length))]));
}

/** The mask a bundle carries: the one asked for, else the training run's; null when neither has one. */
export function paramMaskIdOf(db: Db, req: { paramMaskId?: number; trainRunId?: number }): number | null {
  if (req.paramMaskId !== undefined) return req.paramMaskId;
  if (req.trainRunId === undefined) return null;
  const cfg = trainRunRow(db, req.trainRunId)?.config_json;
  const id = cfg ? (JSON.parse(cfg) as { paramMaskId?: number }).paramMaskId : undefined;
  return id ?? null;
}

export function writeParamMaskFiles(db: Db, maskId: number, at: (rel: string) => string): ParamMaskInfo {
  const info = getParamMask(db, maskId);
  const bits = loadParamMaskBits(db, maskId);
  writeU8Safetensors(
    at(PARAM_MASK_FILES.tensors),
    [...bits].map(([name, t]) => ({ name, shape: t.shape, data: t.mask })),
    { format: 'winnow-param-mask/1', name: info.name, method: info.method, convention: '1 = trainable, 0 = frozen; tensors not listed are frozen' },
  );
  writeFileSync(at(PARAM_MASK_FILES.info), JSON.stringify({
    name: info.name,
    method: info.method,
    metric: info.metric,
    density: info.density,
    per_row: info.perRow,
    topk: info.topk,
    scope: info.scope,
    trainable_params: info.trainableParams,
    scope_params: info.scopeParams,
    tensors: info.tensors,
    file: PARAM_MASK_FILES.tensors,
    convention: 'param_mask.safetensors: one uint8 tensor per listed tensor, same name and shape as the model tensor; 1 = trainable. Tensors not listed stay frozen.',
    how_to_apply: 'Train only the listed tensors; after backward multiply each gradient by its mask, and after each optimizer step put back the base values where the mask is 0 (weight decay and Adam moments would otherwise move them): p.data = torch.where(mask.bool(), p.data, p0).',
    provenance: info.provenance,
  }, null, 2) + '\n');
  return info;
}

/**
 * The tuned folder as its changed tensors only: every tensor whose float32 bits differ from the base's, config.json
 * and tokenizer files, and winnow_delta.json with the base's path and content hash.
 */
export async function writeChangedWeights(baseDir: string, tunedDir: string, outDir: string, extra: Record<string, unknown>): Promise<string[]> {
  if (readDeltaManifest(tunedDir)) throw new WinnowError('unsupported', `${tunedDir} is already a delta folder`);
  const base = readCheckpoint(baseDir).tensors;
  const tuned = readCheckpoint(tunedDir).tensors;
  const changed = [];
  for (const [name, t] of tuned) {
    const b = base.get(name);
    if (!b) throw new WinnowError('conflict', `${tunedDir}: tensor "${name}" is not in the base model ${baseDir}`);
    const x = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
    let same = x.length === y.length;
    for (let i = 0; same && i < x.length; i++) same = x[i] === y[i];
    if (!same) changed.push({ name, shape: t.shape, data: t.data as Float32Array });
  }
  mkdirSync(outDir, { recursive: true });
  writeCheckpoint(outDir, changed, 'F32');
  for (const f of readdirSync(tunedDir)) {
    const p = join(tunedDir, f);
    if (statSync(p).isFile() && !f.endsWith('.safetensors') && f !== INDEX_FILE && f !== SINGLE_FILE) copyFileSync(p, join(outDir, f));
  }
  const m = await loadModel(baseDir);
  const hash = m.hash;
  disposeModel(m);
  const manifest: DeltaManifest = { format: DELTA_FORMAT, base: { path: resolve(baseDir), hash }, tensors: changed.map((t) => t.name), ...extra };
  writeFileSync(join(outDir, DELTA_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest.tensors;
}
