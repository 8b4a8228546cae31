/**
 * Training checkpoints: trainable tensors + optimizer state + step, written to a temporary folder and renamed into
 * place, so a crash mid-write leaves the previous checkpoint intact.
 * A run with `keepCheckpoints: K` also keeps K of them for good (runs/N/checkpoints/step-S, the same files), each with
 * the mean learning rate of the steps since the previous kept one: LESS's warm-up checkpoints and their η̄_k
 * (scoring/less-pass.ts reads them back).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../models/safetensors';
import type { OptimizerState } from './optimizer';

export interface CheckpointState {
  step: number;
  optimizerStep: number;
  trainable: string[];
  /** a kept checkpoint: the mean learning rate of the steps since the previous kept one (LESS's η̄_k) */
  lr?: number;
}

async function toWrite(m: Map<string, tf.Tensor>): Promise<Array<{ name: string; shape: number[]; data: Float32Array }>> {
  const out = [];
  for (const [name, t] of m) out.push({ name, shape: t.shape, data: (await t.data()) as Float32Array });
  return out;
}

export async function saveCheckpoint(dir: string, step: number, vars: Map<string, tf.Variable>, opt: OptimizerState, lr?: number): Promise<void> {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeSafetensors(join(tmp, 'trainable.safetensors'), await toWrite(vars as Map<string, tf.Tensor>), 'F32');
  writeSafetensors(join(tmp, 'optimizer.safetensors'), await toWrite(opt.tensors), 'F32');
  const state: CheckpointState = { step, optimizerStep: opt.step, trainable: [...vars.keys()], ...(lr !== undefined ? { lr } : {}) };
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

/** The steps after which a run with `keepCheckpoints: K` keeps a checkpoint: K evenly spaced, the last one at the end. */
export function keptCheckpointSteps(steps: number, k: number): number[] {
  const out = new Set<number>();
  for (let i = 1; i <= k; i++) out.add(Math.max(1, Math.round((i * steps) / k)));
  return [...out].sort((a, b) => a - b);
}

export function keptCheckpointDir(runDir: string, step: number): string {
  return join(runDir, 'checkpoints', `step-${step}`);
}

/** A run's kept checkpoints (complete ones only), in step order. */
export function listKeptCheckpoints(runDir: string): Array<{ step: number; dir: string }> {
  const root = join(runDir, 'checkpoints');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(root, m[0], 'state.json')))
    .map((m) => ({ step: Number(m[1]), dir: join(root, m[0]) }))
    .sort((a, b) => a.step - b.step);
}
