/**
 * UDS (issue #19) against direct computations written here:
 * - the nuclear norm of a small matrix from its Gram matrix equals Σ σ_i found by this test's own power iteration
 *   with deflation on X Xᵀ, and the 2×2 closed form √(‖X‖_F² + 2|det X|);
 * - the memory buffer: every row scored against the buffer as it was (mean Euclidean distance), score = u + λ·d, the
 *   best ⌈keep·B⌉ kept, then pushed in oldest-out order;
 * - on a tiny Llama, each row's utility is the nuclear norm of its own logits (this test's forward, unpadded);
 * - the one-pass subset rule with λ = 0 keeps, batch by batch in id order, the rows this test ranks highest;
 * - the training option trains on exactly the chosen share of every micro-batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { getRender } from '../../../main/engine/db/renders';
import { forward, loadModel, disposeModel, type LoadedModel } from '../../../main/engine/models';
import { UdsSelector, nuclearNormFromGram, udsScoreBatch } from '../../../main/engine/selection/uds';
import { writeTinyModel } from '../models/tiny';
import { TestProject, gsm8kRows, logitsOf } from '../scoring/helpers';

beforeAll(async () => {
  await initBackend();
});

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};

function numbers(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 4;
  });
}

/** Gram X Xᵀ of a rows × cols matrix given as rows */
function gram(X: number[][]): number[] {
  const n = X.length;
  const g: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) g.push(X[i]!.reduce((a, v, k) => a + v * X[j]![k]!, 0));
  return g;
}

/** Σ √λ of a symmetric PSD matrix by power iteration with deflation (this test's own, not Jacobi) */
function nuclearByPower(g: number[], n: number): number {
  const a = g.slice();
  let total = 0;
  for (let c = 0; c < n; c++) {
    let v = Array.from({ length: n }, (_, i) => 1 + i * 0.37);
    let lambda = 0;
    for (let it = 0; it < 5000; it++) {
      const w = v.map((_, i) => v.reduce((s, x, j) => s + a[i * n + j]! * x, 0));
      const norm = Math.hypot(...w);
      if (norm < 1e-300) break;
      v = w.map((x) => x / norm);
      lambda = norm;
    }
    total += Math.sqrt(Math.max(lambda, 0));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j]! -= lambda * v[i]! * v[j]!;
  }
  return total;
}

/** Σ σ of a rows × cols matrix by one-sided (Hestenes) Jacobi: rotate row pairs until orthogonal; σ = row norms */
function nuclearByHestenes(X: number[][]): number {
  const R = X.map((r) => r.slice());
  const dot = (a: number[], b: number[]) => a.reduce((s, v, k) => s + v * b[k]!, 0);
  for (let sweep = 0; sweep < 50; sweep++) {
    let rotated = false;
    for (let p = 0; p < R.length - 1; p++) {
      for (let q = p + 1; q < R.length; q++) {
        const a = dot(R[p]!, R[p]!);
        const b = dot(R[q]!, R[q]!);
        const g = dot(R[p]!, R[q]!);
        if (Math.abs(g) <= 1e-13 * Math.sqrt(a * b) || g === 0) continue;
        rotated = true;
        const zeta = (b - a) / (2 * g);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const sn = c * t;
        const rp = R[p]!;
        const rq = R[q]!;
        for (let k = 0; k < rp.length; k++) {
          const x = rp[k]!;
          const y = rq[k]!;
          rp[k] = c * x - sn * y;
          rq[k] = sn * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  return R.reduce((s, r) => s + Math.sqrt(dot(r, r)), 0);
}

describe('UDS pieces', () => {
  it('the nuclear norm from the Gram matrix equals the sum of singular values', () => {
    const X = [0, 1, 2, 3].map((r) => numbers(7, 11 + r));
    const want = nuclearByPower(gram(X), 4);
    expect(Math.abs(nuclearNormFromGram(gram(X), 4) - want) / want).toBeLessThan(1e-8);
    expect(Math.abs(nuclearByHestenes(X) - want) / want).toBeLessThan(1e-8);
    // 2×2: ‖X‖_* = √(‖X‖_F² + 2|det X|)
    const Y = [[3, 1], [-2, 4]];
    expect(nuclearNormFromGram(gram(Y), 2)).toBeCloseTo(Math.sqrt(9 + 1 + 4 + 16 + 2 * Math.abs(3 * 4 - 1 * -2)), 10);
    // rank 1: the norm is ‖x‖·‖y‖
    const Z = [[1, 2, 2], [2, 4, 4]];
    expect(nuclearNormFromGram(gram(Z), 2)).toBeCloseTo(Math.sqrt(5) * 3, 8);
  });

  it('scores against the buffer as it was, keeps the best ⌈keep·B⌉ and evicts the oldest sketch first', () => {
    const sel = new UdsSelector({ keep: 0.5, bufferSize: 3, lambda: 0.5, seed: 0 });
    const sk = (x: number, y: number) => Float32Array.from([x, y]);
    // empty buffer: diversity 0, the two highest utilities (rows 3 and 0)
    const b1 = sel.select([3, 1, 2, 5], [sk(0, 0), sk(1, 0), sk(0, 1), sk(3, 4)]);
    expect(b1.diversity).toEqual([0, 0, 0, 0]);
    expect(b1.kept).toEqual([3, 0]);
    // buffer now {(3,4), (0,0)}: d = mean distance to both
    const cand = [sk(0, 0), sk(6, 8), sk(3, 4), sk(-3, -4)];
    const util = [2, 1, 2.5, 0.2];
    const dist = (p: Float32Array, q: number[]) => Math.hypot(p[0]! - q[0]!, p[1]! - q[1]!);
    const d = cand.map((c) => (dist(c, [3, 4]) + dist(c, [0, 0])) / 2);
    const score = util.map((u, i) => u + 0.5 * d[i]!);
    const order = score.map((_, i) => i).sort((a, b) => score[b]! - score[a]!);
    const b2 = sel.select(util, cand);
    b2.diversity.forEach((x, i) => expect(x).toBeCloseTo(d[i]!, 5));
    expect(b2.kept).toEqual(order.slice(0, 2));
    // diversity changed the choice: by utility alone rows 2 and 0 would be kept
    expect(b2.kept).not.toEqual([2, 0]);
    // capacity 3: the first kept of batch 2 filled the last slot, the second replaced the oldest, (3,4)
    const [k1, k2] = b2.kept.map((i) => cand[i]!);
    const probe = sk(1, 1);
    const want = [k2!, sk(0, 0), k1!].reduce((a, s) => a + Math.hypot(1 - s[0]!, 1 - s[1]!), 0) / 3;
    expect(sel.size).toBe(3);
    expect(sel.diversity(probe)).toBeCloseTo(want, 5);
    expect(new UdsSelector({ keep: 0.3, bufferSize: 4, lambda: 0, seed: 0 }).keepCount(4)).toBe(2);
    expect(new UdsSelector({ keep: 0.25, bufferSize: 4, lambda: 0, seed: 0 }).keepCount(4)).toBe(1);
  });
});

describe('UDS on a tiny model', () => {
  let proj: TestProject;
  let dir = '';
  let modelId = 0;
  let datasetId = 0;
  let model: LoadedModel;

  beforeAll(async () => {
    proj = new TestProject('uds');
    dir = writeTinyModel(TINY_LLAMA, 47);
    modelId = await proj.addModel(dir);
    datasetId = await proj.importDataset(gsm8kRows(proj.home, 8));
    model = await loadModel(dir);
  });
  afterAll(() => {
    if (model) disposeModel(model);
    proj?.close();
  });

  /** this test's utility of a token sequence: Σ σ of its unpadded logits (T × V) */
  const directUtility = (ids: ArrayLike<number>) => {
    const X = logitsOf((t) => forward(model.config, model.weights, t), ids);
    return nuclearByHestenes(X);
  };

  it('scores each row by the nuclear norm of its own logits, whatever shares its batch', async () => {
    const rows = [Int32Array.from([1, 40, 41, 42, 43]), Int32Array.from([1, 90, 91])];
    const sc = await udsScoreBatch(model, model.weights, rows.map((ids) => ({ ids })), { padId: 0, maxTokens: 256, seed: 3 });
    rows.forEach((ids, i) => {
      const want = directUtility(ids);
      expect(Math.abs(sc.utility[i]! - want) / want, `row ${i}`).toBeLessThan(1e-3);
    });
    expect(sc.sketches[0]).toHaveLength(8 * 128);
    // alone, the short row gets the same score and sketch
    const alone = await udsScoreBatch(model, model.weights, [{ ids: rows[1]! }], { padId: 0, maxTokens: 256, seed: 3 });
    expect(alone.utility[0]).toBeCloseTo(sc.utility[1]!, 3);
    alone.sketches[0]!.forEach((x, k) => expect(Math.abs(x - sc.sketches[1]![k]!)).toBeLessThan(1e-3));
  });

  it('the subset rule with λ = 0 keeps the rows this test ranks highest in each batch, in id order', async () => {
    const { jobId } = await proj.call('subsets.start', { name: 'uds', datasetId, rule: { kind: 'uds', modelId, keep: 0.5, batchSize: 3, bufferSize: 16, lambda: 0, seed: 0, maxTokens: 256 } });
    const job = await proj.finished(jobId);
    const subset = (await proj.call('subsets.list', {})).find((s) => s.id === Number(job.stats.subsetId))!;
    const keyId = proj.renderKey(model.tokenizer, 256);
    const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
    const cands = ids.map((e) => ({ e, r: getRender(proj.db, e, keyId) })).filter((x) => x.r && x.r.labelMask.some((m) => m === 1));
    expect(cands.length).toBeGreaterThanOrEqual(6);
    const want: number[] = [];
    for (let i = 0; i < cands.length; i += 3) {
      const batch = cands.slice(i, i + 3).map((c) => ({ e: c.e, u: directUtility(c.r!.tokenIds) }));
      batch.sort((a, b) => b.u - a.u);
      want.push(...batch.slice(0, Math.ceil(0.5 * batch.length)).map((b) => b.e));
    }
    const got = proj.db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(subset.id);
    expect(got).toEqual(want.sort((a, b) => a - b));
    expect(subset.rule).toMatchObject({ kind: 'uds', candidates: cands.length });
    // the synchronous call refuses it and points to the job
    const r = await proj.service.call('subsets.create', { name: 'uds-now', rule: { kind: 'uds', modelId, keep: 0.5, batchSize: 3, bufferSize: 16, lambda: 0, seed: 0, maxTokens: 256 } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/subsets\.start/);
    // an unknown model is refused before any job starts
    const none = await proj.service.call('subsets.start', { name: 'uds-none', rule: { kind: 'uds', modelId: 999, keep: 0.5, batchSize: 3, bufferSize: 16, lambda: 0, seed: 0, maxTokens: 256 } });
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.error.message).toMatch(/999/);
  });

  it('the training option trains on exactly the chosen share of each micro-batch', async () => {
    for (const [keep, per] of [[0.5, 2], [0.25, 1]] as const) {
      const { jobId } = await proj.call('train.start', {
        modelId, subsetId: null, datasetId, layers: 'last:1', steps: 1, batchSize: 4, gradAccum: 2, evalFraction: 0, uds: { keep, bufferSize: 8, lambda: 2.5e-3 },
      });
      const job = await proj.finished(jobId);
      expect(job.stats.udsSeen).toBe(2 * 4);
      expect(job.stats.udsKept).toBe(2 * per);
    }
  });
});
