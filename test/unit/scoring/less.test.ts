/**
 * grad_sim as LESS computes it (issue #16), against a computation written here that does not call the engine's LESS
 * code: a tiny Llama, a LoRA warm-up of 4 full-batch steps (AdamW, linear lr, no clipping) keeping 2 checkpoints.
 *  - warm-up: the test replays the 4 steps itself — each LoRA gradient from the merged model's full weight gradient
 *    by the chain rule (∂L/∂A = s·Bᵀ·∂L/∂W, ∂L/∂B = s·∂L/∂W·Aᵀ, the loss written here), Adam in float64 — and the
 *    kept checkpoints' A, B, m, v equal it; their η̄_k are the mean lr of the steps since the previous kept one;
 *  - scores: from the checkpoints' files, training examples' Adam features m'/√(v'+ε) (no bias correction), target
 *    examples' plain gradients, projected with R built entry by entry from the documented sign function, normalised;
 *    Σ_k η̄_k · mean cosine within each of two target subsets, then the max across them;
 *  - the CLI: train --keep-checkpoints, then score --signals grad_sim --less-run N --target-subset A,B; and a run
 *    that is not LoRA, or kept no checkpoints, is refused naming what to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward, type LoadedModel } from '../../../main/engine/models';
import { readSafetensors } from '../../../main/engine/models/safetensors';
import { initLora, peftTensorName, type LoraModule } from '../../../main/engine/models/lora';
import { resolveLora } from '../../../main/engine/training/lora';
import { getRender, writeExampleSignal } from '../../../main/engine/db';
import { rademacherSign } from '../../../main/engine/scoring/passes/projection';
import { writeTinyModel } from '../models/tiny';
import { TestProject, directLoss, gsm8kRows } from './helpers';
import { runWinnow } from '../cli/run-winnow';

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};
const ROWS = 6;
const STEPS = 4;
const LR = 0.01;
const DIM = 128;
const SEED = 5;
const LORA = { r: 2, alpha: 4, dropout: 0, targets: ['attention'], layers: 'last:1', rslora: false };
const SCALE = LORA.alpha / LORA.r;

let proj: TestProject;
let model: LoadedModel;
let modelDir = '';
let modelId = 0;
let datasetId = 0;
let ids: number[] = [];
let modules: LoraModule[] = [];
/** the LoRA tensors in the engine's row order: each module's A then B */
let names: string[] = [];
let warmRunId = 0;

/** per module: the merged model's weight gradient of one example's mean response NLL (the loss written in helpers) */
function weightGrads(A: Float64Array[], B: Float64Array[], id: number): Float64Array[] {
  const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
  const wNames = modules.map((m) => `${m.key}.weight`);
  const merged = modules.map((m, j) => {
    const W = model.weights[`${m.key}.weight`]!.dataSync();
    const out = new Float32Array(m.out * m.in);
    for (let o = 0; o < m.out; o++) {
      for (let i = 0; i < m.in; i++) {
        let d = 0;
        for (let k = 0; k < LORA.r; k++) d += B[j]![o * LORA.r + k]! * A[j]![k * m.in + i]!;
        out[o * m.in + i] = W[o * m.in + i]! + SCALE * d;
      }
    }
    return tf.tensor2d(out, [m.out, m.in]);
  });
  const rest = Object.fromEntries(Object.entries(model.weights).filter(([n]) => !wNames.includes(n)));
  const g = tf.grads(directLoss((rec, x) => forward(model.config, rec, x), model.config.vocabSize, r.tokenIds, r.labelMask, wNames, rest))(merged);
  const out = g.map((t) => Float64Array.from(t.dataSync()));
  tf.dispose([...g, ...merged]);
  return out;
}

/** ∂L/∂A = s·Bᵀ·G, ∂L/∂B = s·G·Aᵀ per module, in `names` order */
function loraGrad(A: Float64Array[], B: Float64Array[], id: number): Float64Array[] {
  const G = weightGrads(A, B, id);
  return modules.flatMap((m, j) => {
    const gA = new Float64Array(LORA.r * m.in);
    const gB = new Float64Array(m.out * LORA.r);
    for (let o = 0; o < m.out; o++) {
      for (let i = 0; i < m.in; i++) {
        const gw = G[j]![o * m.in + i]!;
        for (let k = 0; k < LORA.r; k++) {
          gA[k * m.in + i] += SCALE * B[j]![o * LORA.r + k]! * gw;
          gB[o * LORA.r + k] += SCALE * gw * A[j]![k * m.in + i]!;
        }
      }
    }
    return [gA, gB];
  });
}

function labelCount(id: number): number {
  const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
  let n = 0;
  for (let t = 1; t < r.labelMask.length; t++) n += r.labelMask[t]!;
  return n;
}

function readCk(step: number): { t: Map<string, Float64Array>; o: Map<string, Float64Array>; lr: number } {
  const dir = join(proj.service.current().dir, 'runs', String(warmRunId), 'checkpoints', `step-${step}`);
  const read = (f: string) => new Map([...readSafetensors(join(dir, f)).tensors].map(([n, x]) => [n, Float64Array.from(x.data)]));
  return { t: read('trainable.safetensors'), o: read('optimizer.safetensors'), lr: (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { lr: number }).lr };
}

const flat = (xs: Float64Array[]) => Float64Array.from(xs.flatMap((x) => [...x]));
const maxRelDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst / Math.max(scale, 1e-30);
};

beforeAll(async () => {
  await initBackend();
  proj = new TestProject('less');
  modelDir = writeTinyModel(TINY_LLAMA, 23);
  model = await loadModel(modelDir);
  modelId = await proj.addModel(modelDir);
  datasetId = await proj.importDataset(gsm8kRows(proj.home, ROWS));
  await proj.score({ modelId, datasetId, signals: ['length_tokens'] });
  ids = proj.db.prepare('SELECT example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ? ORDER BY example_id').pluck().all(datasetId) as number[];
  modules = resolveLora(model.config, model.tensors, LORA, 'all').modules;
  names = modules.flatMap((m) => [peftTensorName(model.config, m.key, 'A'), peftTensorName(model.config, m.key, 'B')]);
  // the warm-up: every example in every step (batch = the whole set, no eval rows), so each step's gradient is the
  // token-weighted mean over all of them whatever the order
  const { jobId, runId } = await proj.call('train.start', {
    modelId, subsetId: null, datasetId, layers: 'all', lora: LORA, steps: STEPS, batchSize: ROWS, lr: LR, schedule: 'linear',
    warmupSteps: 0, clipNorm: null, weightDecay: 0, evalFraction: 0, maxTokens: 512, seed: 1, keepCheckpoints: 2,
  });
  await proj.finished(jobId);
  warmRunId = runId;
}, 120_000);
afterAll(() => proj?.close());

describe('the LESS warm-up run', () => {
  it('keeps 2 checkpoints whose A, B, Adam moments and mean lr equal a replay of the 4 steps written here', () => {
    const init = initLora(modules, LORA.r, 1);
    let A = modules.map((m) => Float64Array.from(init.get(m.key)!.A));
    let B = modules.map((m) => Float64Array.from(init.get(m.key)!.B));
    const P = names.length;
    const m1 = Array.from({ length: P }, (_, j) => new Float64Array(j % 2 ? B[j >> 1]!.length : A[j >> 1]!.length));
    const v1 = m1.map((x) => new Float64Array(x.length));
    const counts = ids.map(labelCount);
    const total = counts.reduce((a, b) => a + b, 0);
    const lrs = Array.from({ length: STEPS }, (_, s) => LR * (1 - s / STEPS));
    for (let step = 0; step < STEPS; step++) {
      // the batch loss is Σ_t ℓ_t / Σ_t 1 over all examples: Σ_n N_n·g_n / Σ_n N_n
      const g = m1.map((x) => new Float64Array(x.length));
      ids.forEach((id, n) => loraGrad(A, B, id).forEach((gj, j) => gj.forEach((x, i) => (g[j]![i] += (counts[n]! / total) * x))));
      const t = step + 1;
      const params = modules.flatMap((_, j) => [A[j]!, B[j]!]);
      const next = params.map((p, j) => {
        const out = new Float64Array(p.length);
        for (let i = 0; i < p.length; i++) {
          m1[j]![i] = 0.9 * m1[j]![i]! + 0.1 * g[j]![i]!;
          v1[j]![i] = 0.999 * v1[j]![i]! + 0.001 * g[j]![i]! ** 2;
          const mh = m1[j]![i]! / (1 - 0.9 ** t);
          const vh = v1[j]![i]! / (1 - 0.999 ** t);
          out[i] = p[i]! - lrs[step]! * (mh / (Math.sqrt(vh) + 1e-8));
        }
        return out;
      });
      A = modules.map((_, j) => next[2 * j]!);
      B = modules.map((_, j) => next[2 * j + 1]!);
      if (t === 2 || t === 4) {
        const ck = readCk(t);
        expect(ck.lr, `η̄ at step ${t}`).toBeCloseTo(t === 2 ? (lrs[0]! + lrs[1]!) / 2 : (lrs[2]! + lrs[3]!) / 2, 12);
        names.forEach((n, j) => {
          expect(maxRelDiff(ck.t.get(n)!, next[j]!), `${n} at step ${t}`).toBeLessThan(1e-3);
          expect(maxRelDiff(ck.o.get(`${n}.exp_avg`)!, m1[j]!), `${n} m at step ${t}`).toBeLessThan(1e-3);
          expect(maxRelDiff(ck.o.get(`${n}.exp_avg_sq`)!, v1[j]!), `${n} v at step ${t}`).toBeLessThan(1e-3);
        });
      }
    }
  }, 120_000);
});

describe('grad_sim (LESS)', () => {
  it('is Σ_k η̄_k · mean cosine of Adam features with target gradients, max over the target subsets', async () => {
    const t1 = await proj.call('subsets.create', { name: 'less-t1', rule: { kind: 'ids', ids: [ids[0]!, ids[1]!] } });
    const t2 = await proj.call('subsets.create', { name: 'less-t2', rule: { kind: 'ids', ids: [ids[2]!] } });
    const run = await proj.score({ modelId, datasetId, signals: ['grad_sim'], lessRunId: warmRunId, targetSubsetIds: [t1.id, t2.id], gradDim: DIM, seed: SEED });
    const got = new Map(proj.db.prepare(`SELECT example_id, value FROM example_scores WHERE run_id = ? AND signal = 'grad_sim'`).all(run).map((r) => {
      const x = r as { example_id: number; value: number };
      return [x.example_id, x.value];
    }));
    expect(got.size).toBe(ROWS);

    const project = (f: Float64Array): Float64Array => {
      const p = new Float64Array(DIM);
      for (let j = 0; j < DIM; j++) {
        let s = 0;
        for (let i = 0; i < f.length; i++) s += rademacherSign(SEED, i, j) * f[i]!;
        p[j] = s / Math.sqrt(DIM);
      }
      const n = Math.hypot(...p);
      return p.map((x) => x / n);
    };
    const tasks = [[ids[0]!, ids[1]!], [ids[2]!]];
    const want = new Map(ids.map((id) => [id, [0, 0]]));
    let lrSum = 0;
    for (const step of [2, 4]) {
      const ck = readCk(step);
      lrSum += ck.lr;
      const A = modules.map((m) => ck.t.get(peftTensorName(model.config, m.key, 'A'))!);
      const B = modules.map((m) => ck.t.get(peftTensorName(model.config, m.key, 'B'))!);
      const m = flat(names.map((n) => ck.o.get(`${n}.exp_avg`)!));
      const v = flat(names.map((n) => ck.o.get(`${n}.exp_avg_sq`)!));
      const g = new Map(ids.map((id) => [id, flat(loraGrad(A, B, id))]));
      const means = tasks.map((ts) => {
        const acc = new Float64Array(DIM);
        for (const id of ts) project(g.get(id)!).forEach((x, j) => (acc[j] += x / ts.length));
        return acc;
      });
      for (const id of ids) {
        const gi = g.get(id)!;
        const f = gi.map((x, i) => {
          const m1 = 0.9 * m[i]! + 0.1 * x;
          const v1 = 0.999 * v[i]! + 0.001 * x * x;
          return m1 / Math.sqrt(v1 + 1e-8);
        });
        const x = project(f);
        means.forEach((t, s) => (want.get(id)![s] += ck.lr * x.reduce((a, xi, j) => a + xi * t[j]!, 0)));
      }
    }
    const chose = new Set<number>();
    for (const id of ids) {
      const w = want.get(id)!;
      chose.add(w[0]! >= w[1]! ? 0 : 1);
      expect(Math.abs(got.get(id)! - Math.max(...w)), `example ${id}: ${got.get(id)} vs ${w.join(', ')}`).toBeLessThan(1e-3 * lrSum);
    }
    // the same subtasks as the values of an example column over one target subset give the same scores
    writeExampleSignal(proj.db, null, 'less_task', [[ids[0]!, 7], [ids[1]!, 7], [ids[2]!, 3]]);
    const all = await proj.call('subsets.create', { name: 'less-all', rule: { kind: 'ids', ids: [ids[0]!, ids[1]!, ids[2]!] } });
    const byColumn = await proj.score({ modelId, datasetId, signals: ['grad_sim'], lessRunId: warmRunId, targetSubsetId: all.id, targetColumn: 'less_task', gradDim: DIM, seed: SEED });
    for (const r of proj.db.prepare(`SELECT example_id, value FROM example_scores WHERE run_id = ? AND signal = 'grad_sim'`).all(byColumn) as Array<{ example_id: number; value: number }>) {
      expect(r.value, `example ${r.example_id} by column`).toBeCloseTo(got.get(r.example_id)!, 12);
    }
    // some examples score highest against one subset, some against the other: the max is exercised both ways
    expect(chose.size).toBe(2);
    // the scores are not all the same and not all zero: the comparison above could fail
    expect(Math.max(...got.values()) - Math.min(...got.values())).toBeGreaterThan(1e-2 * lrSum);
  }, 120_000);

  it('a job cancelled in its second checkpoint resumes there and ends with the values of an uninterrupted one', async () => {
    const t = await proj.call('subsets.create', { name: 'less-resume', rule: { kind: 'ids', ids: [ids[3]!, ids[4]!] } });
    const params = { modelId, datasetId, signals: ['grad_sim'], lessRunId: warmRunId, targetSubsetId: t.id, gradDim: DIM, seed: SEED, batchSize: 2 };
    const values = (run: number) => proj.db.prepare(`SELECT example_id, value FROM example_scores WHERE run_id = ? AND signal = 'grad_sim' ORDER BY example_id`).all(run);
    const straight = values(await proj.score(params));
    let stop = false;
    const jobId = 'less-resume-job';
    await expect(proj.score(params, { jobId, isCancelled: () => stop, progress: (p) => { if (Number(p.stats?.checkpoint) === 2) stop = true; } })).rejects.toThrow(/cancelled/);
    const state = proj.db.prepare(`SELECT value FROM score_pass_state WHERE pass = 'less' AND key = 'meta'`).pluck().all().map((v) => JSON.parse(String(v)) as { checkpoint: number });
    expect(state.map((m) => m.checkpoint)).toContain(1);
    stop = false;
    const resumed = values(await proj.score(params, { jobId }));
    expect(resumed).toEqual(straight);
  }, 120_000);

  it('lessWarmup queues the warm-up (a random share as a subset, a LoRA run keeping K checkpoints) before the scoring', async () => {
    const t = await proj.call('subsets.create', { name: 'less-queued', rule: { kind: 'ids', ids: [ids[5]!] } });
    const started = await proj.call('scoring.start', {
      modelId, datasetId, signals: ['grad_sim'], targetSubsetId: t.id, gradDim: DIM, seed: SEED,
      lessWarmup: { percent: 50, epochs: 2, checkpoints: 2, lora: LORA, lr: LR, batchSize: 2, seed: 4 },
    });
    const job = await proj.finished(started.jobId);
    const warm = (await proj.call('train.list', {})).find((r) => r.id === started.lessRunId)!;
    expect(warm.status).toBe('done');
    // 50% of 6 rows, 2 epochs at batch 2: 3 steps, 2 kept checkpoints
    expect(warm.config).toMatchObject({ keepCheckpoints: 2, steps: 3, batchSize: 2, evalFraction: 0, schedule: 'linear', lora: { r: 2, alpha: 4 } });
    expect((await proj.call('subsets.list', {})).find((x) => x.id === warm.config.subsetId)!.size).toBe(3);
    expect(readdirSync(join(proj.service.current().dir, 'runs', String(started.lessRunId), 'checkpoints')).sort()).toEqual(['step-2', 'step-3']);
    // the same scores as a scoring that names the finished run
    const values = (run: number) => proj.db.prepare(`SELECT example_id, value FROM example_scores WHERE run_id = ? AND signal = 'grad_sim' ORDER BY example_id`).all(run);
    const again = await proj.score({ modelId, datasetId, signals: ['grad_sim'], lessRunId: started.lessRunId, targetSubsetId: t.id, gradDim: DIM, seed: SEED });
    expect(values(Number(job.stats.runId))).toEqual(values(again));
    expect(values(again)).toHaveLength(ROWS);
  }, 120_000);

  it('refuses a run that trained whole tensors or kept no checkpoints, and a missing lessRunId, naming what to do', async () => {
    const t = await proj.call('subsets.create', { name: 'less-t3', rule: { kind: 'ids', ids: [ids[0]!] } });
    const full = await proj.call('train.start', { modelId, subsetId: null, datasetId, layers: 'last:1', steps: 1, batchSize: 2, evalFraction: 0 });
    await proj.finished(full.jobId);
    const noKeep = await proj.call('train.start', { modelId, subsetId: null, datasetId, layers: 'all', lora: LORA, steps: 1, batchSize: 2, evalFraction: 0 });
    await proj.finished(noKeep.jobId);
    const start = (lessRunId?: number) => proj.service.call('scoring.start', { modelId, datasetId, signals: ['grad_sim'], targetSubsetId: t.id, lessRunId });
    const msg = async (lessRunId?: number) => {
      const r = await start(lessRunId);
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.error.message;
    };
    expect(await msg()).toMatch(/lessRunId or lessWarmup \(CLI --less-run N, or --less-warmup.*grad_sim_base/);
    expect(await msg(full.runId)).toMatch(/trained whole tensors, not LoRA/);
    expect(await msg(noKeep.runId)).toMatch(/kept no checkpoints.*--keep-checkpoints/);
    const stray = await proj.service.call('scoring.start', { modelId, datasetId, signals: ['mean_loss'], lessRunId: warmRunId });
    expect(stray.ok).toBe(false);
    if (!stray.ok) expect(stray.error.message).toMatch(/are for grad_sim \(LESS\)/);
  }, 120_000);
});

describe('the CLI', () => {
  it('train --keep-checkpoints, then score --signals grad_sim --less-run N with two target subsets', () => {
    const home = join(proj.home, 'cli-home');
    const data = gsm8kRows(proj.home, ROWS);
    const cli = (args: string[]) => runWinnow(home, [...args, '--json']);
    const imp = cli(['import', data, '--project', 'lesscli']);
    expect(imp.status, imp.stderr).toBe(0);
    for (const [name, pick] of [['a', '1'], ['b', '2']] as const) {
      const sel = cli(['select', '--project', 'lesscli', '--name', name, '--random', pick, '--seed', pick]);
      expect(sel.status, sel.stderr).toBe(0);
    }
    const tr = cli(['train', '--project', 'lesscli', '--model', modelDir, '--lora', '2:4', '--lora-targets', 'attention', '--layers', 'last:1', '--steps', '3',
      '--keep-checkpoints', '3', '--max-tokens', '512', '--out', join(proj.home, 'cli-out')]);
    expect(tr.status, tr.stderr).toBe(0);
    const runId = Number(tr.json.runId);
    expect(runId).toBeGreaterThan(0);
    const out = join(proj.home, 'cli-less.jsonl');
    const sc = cli(['score', '--project', 'lesscli', '--model', modelDir, '--signals', 'grad_sim', '--less-run', String(runId), '--target-subset', 'a,b',
      '--grad-dim', '64', '--out', out]);
    expect(sc.status, sc.stderr).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { example: { grad_sim: number | null } });
    expect(rows).toHaveLength(ROWS);
    for (const r of rows) expect(Number.isFinite(r.example.grad_sim)).toBe(true);
    const bad = cli(['score', '--project', 'lesscli', '--model', modelDir, '--signals', 'grad_sim', '--target-subset', 'a', '--out', out]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--less-run N/);
  }, 300_000);
});
