/**
 * Everything that runs on wasm runs on webgpu: the same jobs on a tiny Llama, once on cpu and once on webgpu (CI:
 * SwiftShader), give the same numbers within these tolerances:
 *   forward signals (token_loss/entropy/rank, mean_loss, embedding): max |Δ| ≤ 1e-4 (rank: exact);
 *   gradient signals (grad_norm, grad_sim_base, fim, layer_grad_norm): relative |Δ| ≤ 1e-3;
 *   parameter-mask pass (salience): the same entries chosen, but for ties within 1e-3 of the cut-off (≥ 99%);
 *   selective training (AdamW, cosine, warmup, accumulation 2, clipping, DFT; SGD): weights max |Δ| ≤ 1e-4 after
 *   3 steps, and a run paused and resumed from its checkpoint ends bit-identical to an uninterrupted one on webgpu.
 * Skipped, with the reason, only where no WebGPU adapter can be created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../../main/engine/compute/backend';
import { readCheckpoint } from '../../../main/engine/models/safetensors';
import { loadParamMaskBits } from '../../../main/engine/selection/param-masks-store';
import { writeTinyModel } from '../models/tiny';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestProject } from '../scoring/helpers';
import { webgpuSkipReason } from '../../setup/webgpu';

const SKIP = await webgpuSkipReason();
if (SKIP) console.warn(`webgpu job tests skipped: ${SKIP}`);

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};
const ROWS = 4;
/** short renders keep SwiftShader's work (and its shader compiles per shape) small */
const MAX_TOKENS = 64;

interface Outcome {
  tokens: Map<string, Float32Array>;
  example: Map<string, number | null>;
  vectors: Map<number, Float32Array>;
  layer: Map<string, number>;
  mask: Map<string, Uint8Array>;
  trained: Map<string, Float32Array>;
  sgd: Map<string, Float32Array>;
}

let proj: TestProject;
let dir = '';
let modelId = 0;
let datasetId = 0;
let targetId = 0;
const got = new Map<BackendName, Outcome>();

async function runAll(backend: BackendName): Promise<Outcome> {
  await initBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  const db = proj.db;
  const fwd = await proj.score({ modelId, datasetId, signals: ['token_loss', 'token_entropy', 'token_rank', 'mean_loss', 'embedding'], batchSize: 4, maxTokens: MAX_TOKENS });
  const grad = await proj.score({
    modelId, datasetId, signals: ['fim', 'layer_grad_norm', 'grad_norm', 'grad_sim_base'], fimExamples: 100, seed: 3, gradDim: 128, targetSubsetId: targetId, batchSize: 2, maxTokens: MAX_TOKENS,
  });
  const tokens = new Map<string, Float32Array>();
  for (const r of db.prepare('SELECT example_id AS id, signal, "values" AS v FROM token_scores WHERE run_id = ?').all(fwd) as Array<{ id: number; signal: string; v: Buffer }>) {
    tokens.set(`${r.signal}:${r.id}`, new Float32Array(r.v.buffer.slice(r.v.byteOffset, r.v.byteOffset + r.v.byteLength)));
  }
  const example = new Map<string, number | null>();
  for (const run of [fwd, grad]) {
    for (const r of db.prepare('SELECT example_id AS id, signal, value FROM example_scores WHERE run_id = ?').all(run) as Array<{ id: number; signal: string; value: number | null }>) {
      example.set(`${r.signal}:${r.id}`, r.value);
    }
  }
  const vectors = new Map<number, Float32Array>();
  for (const r of db.prepare(`SELECT example_id AS id, vector AS v FROM example_vectors WHERE run_id = ?`).all(fwd) as Array<{ id: number; v: Buffer }>) {
    vectors.set(r.id, new Float32Array(r.v.buffer.slice(r.v.byteOffset, r.v.byteOffset + r.v.byteLength)));
  }
  const layer = new Map<string, number>();
  for (const r of db.prepare('SELECT tensor_name AS name, signal, value FROM layer_scores WHERE run_id = ?').all(grad) as Array<{ name: string; signal: string; value: number }>) {
    layer.set(`${r.signal}:${r.name}`, r.value);
  }
  const c = await proj.call('paramMasks.compute', { name: `salience-${backend}`, modelId, method: 'salience', metric: 'abs_wg', density: 0.05, scope: 'all', datasetId, maxTokens: MAX_TOKENS });
  const maskId = Number((await proj.finished(c.jobId)).stats.maskId);
  const mask = new Map([...loadParamMaskBits(db, maskId)].map(([k, v]) => [k, v.mask]));

  const train = async (cfg: Record<string, unknown>) => {
    const { jobId, runId } = await proj.call('train.start', {
      modelId, subsetId: null, datasetId, layers: 'last:1', steps: 3, batchSize: 2, lr: 0.02, evalFraction: 0.25, checkpointEvery: 2, maxTokens: MAX_TOKENS, ...cfg,
    } as never);
    await proj.finished(jobId);
    const run = (await proj.call('train.list', {})).find((x) => x.id === runId)!;
    return new Map([...readCheckpoint(run.outDir!).tensors].map(([k, t]) => [k, t.data as Float32Array]));
  };
  const trained = await train({ optimizer: 'adamw', weightDecay: 0.1, schedule: 'cosine', warmupSteps: 1, gradAccum: 2, clipNorm: 0.5, dftWeight: true });
  const sgd = await train({ optimizer: 'sgd', schedule: 'linear', clipNorm: null });
  return { tokens, example, vectors, layer, mask, trained, sgd };
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)) continue;
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
  }
  return m;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

describe.skipIf(!!SKIP)('the same jobs on cpu and webgpu', () => {
  beforeAll(async () => {
    proj = new TestProject('webgpu-jobs');
    dir = writeTinyModel(TINY_LLAMA, 41);
    modelId = await proj.addModel(dir);
    // short rows: every render fits MAX_TOKENS with its answer
    const rows = [
      ['Tom has 3 apples and eats one. How many are left?', 'Two apples are left.'],
      ['Lily saw a red bird.', 'The bird sang a song.'],
      ['What is 4 plus 5?', 'Nine.'],
      ['Once upon a time, there was a cat.', 'The cat liked to play.'],
    ].slice(0, ROWS);
    const file = join(proj.home, 'short.jsonl');
    writeFileSync(file, rows.map(([question, answer]) => JSON.stringify({ question, answer })).join('\n') + '\n');
    datasetId = await proj.importDataset(file);
    targetId = (await proj.call('subsets.create', { name: 'target', rule: { kind: 'random', count: 2, seed: 5 }, datasetId })).id;
    got.set('cpu', await runAll('cpu'));
    got.set('webgpu', await runAll('webgpu'));
  }, 600_000);
  afterAll(async () => {
    proj?.close();
    await initBackend('cpu');
  });

  it('forward signals and embeddings', () => {
    const [c, g] = [got.get('cpu')!, got.get('webgpu')!];
    expect(c.tokens.size).toBe(ROWS * 3);
    for (const [k, v] of c.tokens) {
      const w = g.tokens.get(k)!;
      if (k.startsWith('token_rank')) expect(Array.from(w), k).toEqual(Array.from(v));
      else expect(maxAbs(w, v), k).toBeLessThanOrEqual(1e-4);
    }
    expect(c.vectors.size).toBe(ROWS);
    for (const [k, v] of c.vectors) expect(maxAbs(g.vectors.get(k)!, v), `embedding ${k}`).toBeLessThanOrEqual(1e-4);
    for (const [k, v] of c.example) if (k.startsWith('mean_loss')) expect(Math.abs(g.example.get(k)! - v!), k).toBeLessThanOrEqual(1e-4);
  });

  it('gradient signals: grad_norm, grad_sim_base, fim, layer_grad_norm', () => {
    const [c, g] = [got.get('cpu')!, got.get('webgpu')!];
    const grads = [...c.example].filter(([k]) => k.startsWith('grad_'));
    expect(grads.length).toBe(2 * ROWS);
    for (const [k, v] of grads) expect(rel(g.example.get(k)!, v!), k).toBeLessThanOrEqual(1e-3);
    expect(c.layer.size).toBeGreaterThan(0);
    expect(g.layer.size).toBe(c.layer.size);
    for (const [k, v] of c.layer) expect(rel(g.layer.get(k)!, v), k).toBeLessThanOrEqual(1e-3);
  });

  it('parameter-mask pass chooses the same entries', () => {
    const [c, g] = [got.get('cpu')!, got.get('webgpu')!];
    let same = 0;
    let total = 0;
    for (const [k, m] of c.mask) {
      const w = g.mask.get(k)!;
      for (let i = 0; i < m.length; i++) {
        if (!m[i] && !w[i]) continue;
        total++;
        if (m[i] === w[i]) same++;
      }
    }
    expect(total).toBeGreaterThan(0);
    expect(same / total).toBeGreaterThanOrEqual(0.99);
  });

  it('selective training (AdamW + DFT + accumulation + clipping, SGD) moves the weights as on cpu', () => {
    const [c, g] = [got.get('cpu')!, got.get('webgpu')!];
    for (const which of ['trained', 'sgd'] as const) {
      let moved = 0;
      for (const [k, v] of c[which]) {
        expect(maxAbs(g[which].get(k)!, v), `${which} ${k}`).toBeLessThanOrEqual(1e-4);
        if (maxAbs(v, readCheckpoint(dir).tensors.get(k)!.data) > 0) moved++;
      }
      expect(moved, which).toBeGreaterThan(0);
    }
  });

  it('a paused and resumed run ends bit-identical to an uninterrupted one on webgpu', async () => {
    await initBackend('webgpu');
    const cfg = { modelId, subsetId: null, datasetId, layers: 'last:1', steps: 4, batchSize: 2, lr: 0.02, evalFraction: 0, checkpointEvery: 2, maxTokens: MAX_TOKENS };
    const straight = await proj.call('train.start', cfg);
    await proj.finished(straight.jobId);
    const paused = await proj.call('train.start', cfg);
    const off = proj.service.onEvent((e) => {
      if (e.type === 'job' && e.job.jobId === paused.jobId && e.job.status === 'running' && e.job.current >= 2) {
        off();
        void proj.service.call('jobs.cancel', { jobId: paused.jobId });
      }
    });
    await proj.service.whenIdle();
    expect((await proj.call('jobs.list', {})).find((j) => j.jobId === paused.jobId)!.status).toBe('cancelled');
    await proj.call('jobs.resume', { jobId: paused.jobId });
    await proj.finished(paused.jobId);
    const runs = await proj.call('train.list', {});
    const a = readCheckpoint(runs.find((r) => r.id === straight.runId)!.outDir!).tensors;
    const b = readCheckpoint(runs.find((r) => r.id === paused.runId)!.outDir!).tensors;
    for (const [name, t] of a) expect(Buffer.from(b.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
  }, 300_000);
});
