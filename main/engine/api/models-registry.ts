/** The project's models: registered by folder, validated on the way in (config, weights, tokenizer). */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { Db } from '../db';
import type { ModelInfo } from '../../../preload/contract';
import { readModelConfig } from '../models/config';
import { checkpointFiles, readSafetensorsHeader } from '../models/safetensors';
import { WinnowError } from '../util/errors';
import { findModelIdByPath, insertModel, listModelRows, modelPath, modelRow, updateModelConfig, type ModelRowDb } from '../db/models';

export { modelPath };

/** Cheap identity of a checkpoint: config + weight files' names, sizes and mtimes (hashing GBs on every add is too slow). */
function checkpointHash(dir: string, files: string[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(readModelConfig(dir).raw));
  for (const f of files) {
    const st = statSync(f);
    h.update(`${basename(f)}:${st.size}:${st.mtimeMs}`);
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * The model folder a path names: the folder itself, or, given a file inside one (model.safetensors, a shard,
 * config.json, tokenizer.json), that file's folder. A path that does not exist is an error naming it.
 */
export function modelFolderOf(path: string): string {
  const p = resolve(path);
  if (!existsSync(p)) throw new WinnowError('not_found', `model folder ${p} does not exist`, { path: p });
  return statSync(p).isDirectory() ? p : dirname(p);
}

export function validateModelFolder(dir: string): { params: number; files: string[] } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new WinnowError('not_found', `model folder ${dir} does not exist`);
  readModelConfig(dir); // names config.json and the bad field
  const { files } = checkpointFiles(dir);
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    throw new WinnowError('not_found', `${join(dir, 'tokenizer.json')}: missing — Winnow needs the model's tokenizer.json`);
  }
  let params = 0;
  for (const f of files) {
    for (const e of readSafetensorsHeader(f).entries.values()) params += e.shape.reduce((a: number, b: number) => a * b, 1);
  }
  return { params, files };
}

/** Registers a model by its folder, or by any file inside it (see modelFolderOf); the folder is what is stored. */
export function addModel(db: Db, path: string, opts: { name?: string; trainRunId?: number | null } = {}): ModelInfo {
  const dir = modelFolderOf(path);
  const { files } = validateModelFolder(dir);
  const cfg = readModelConfig(dir);
  const existing = findModelIdByPath(db, dir);
  const hash = checkpointHash(dir, files);
  if (existing !== undefined) {
    updateModelConfig(db, existing, { configJson: JSON.stringify(cfg.raw), hash, architecture: cfg.modelType });
    return getModel(db, existing);
  }
  const id = insertModel(db, { name: opts.name ?? basename(dir), path: dir, architecture: cfg.modelType, configJson: JSON.stringify(cfg.raw), hash, trainRunId: opts.trainRunId ?? null });
  return getModel(db, id);
}

function toInfo(r: ModelRowDb): ModelInfo {
  let numLayers = 0;
  let params = 0;
  try {
    const raw = JSON.parse(r.config_json) as Record<string, number>;
    numLayers = raw.num_hidden_layers ?? raw.n_layer ?? 0;
    params = validateModelFolder(r.path).params;
  } catch {
    // a model folder that moved away still lists; using it reports the problem
  }
  return { id: r.id, name: r.name, path: r.path, architecture: r.architecture, numLayers, params, trainRunId: r.train_run_id ?? null };
}

export function getModel(db: Db, id: number): ModelInfo {
  return toInfo(modelRow(db, id));
}

export function listModels(db: Db): ModelInfo[] {
  return listModelRows(db).map(toInfo);
}
