/**
 * Training checkpoints: trainable tensors + optimizer state + step, written to a temporary folder and renamed into
 * place, so a crash mid-write leaves the previous checkpoint intact.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../models/safetensors';
import type { OptimizerState } from './optimizer';

export interface CheckpointState {
  step: number;
  optimizerStep: number;
  trainable: string[];
}

async function toWrite(m: Map<string, tf.Tensor>): Promise<Array<{ name: string; shape: number[]; data: Float32Array }>> {
  const out = [];
  for (const [name, t] of m) out.push({ name, shape: t.shape, data: (await t.data()) as Float32Array });
  return out;
}

export async function saveCheckpoint(dir: string, step: number, vars: Map<string, tf.Variable>, opt: OptimizerState): Promise<void> {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeSafetensors(join(tmp, 'trainable.safetensors'), await toWrite(vars as Map<string, tf.Tensor>), 'F32');
  writeSafetensors(join(tmp, 'optimizer.safetensors'), await toWrite(opt.tensors), 'F32');
  const state: CheckpointState = { step, optimizerStep: opt.step, trainable: [...vars.keys()] };
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  const old = `${dir}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

export function loadCheckpoint(dir: string): { state: CheckpointState; trainable: Map<string, tf.Tensor>; optimizer: OptimizerState } | null {
  // a crash between the two renames leaves only `.old`: it is the latest complete checkpoint
  if (!existsSync(join(dir, 'state.json')) && existsSync(join(`${dir}.old`, 'state.json'))) renameSync(`${dir}.old`, dir);
  if (!existsSync(join(dir, 'state.json'))) return null;
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  const read = (file: string) => {
    const m = new Map<string, tf.Tensor>();
    for (const [name, t] of readSafetensors(join(dir, file)).tensors) m.set(name, tf.tensor(t.data, t.shape, 'float32'));
    return m;
  };
  return { state, trainable: read('trainable.safetensors'), optimizer: { step: state.optimizerStep, tensors: read('optimizer.safetensors') } };
}
