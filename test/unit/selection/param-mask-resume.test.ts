/**
 * The parameter-mask gradient pass keeps its finished work: cancelled after k examples (in process, through
 * jobs.cancel) or SIGKILLed with the engine host (a real child process, as test/unit/scoring/gradient-resume.test.ts
 * does), then resumed, it stores a mask bit-identical to an uninterrupted run's, on a tiny Llama written here.
 * And the pass can leave out the rows a training run holds out for eval: the held-out rows are training's own split
 * (loadTrainData), none of them is in the pass, and the mask equals that of a pass over exactly the remaining rows;
 * a run whose eval rows a mask did see says how many.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { initBackend } from '../../../main/engine/compute/backend';
import { migrate } from '../../../main/engine/db/migrate';
import { openProjectDb } from '../../../main/engine/db/open';
import { loadModel, disposeModel } from '../../../main/engine/models';
import { loadTrainData } from '../../../main/engine/training/data';
import { paramMaskExampleIds } from '../../../main/engine/selection/param-masks-store';
import type { ApiInput, EngineEvent, Job } from '../../../preload/contract';
import { tmpDir, writeTinyModel } from '../models/tiny';
import { TestProject, gsm8kRows } from '../scoring/helpers';
import { EngineProcess } from '../jobs/engine-process';

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 32, intermediate_size: 48,
  num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};
const ROWS = 16;

type MaskInput = ApiInput<'paramMasks.compute'>;

/** tensor name → its stored bitset, for bit-for-bit comparison */
function bitsOf(db: Database.Database, maskId: number): Map<string, string> {
  const rows = db.prepare('SELECT tensor_name, selected, bits FROM param_mask_tensors WHERE mask_id = ? ORDER BY tensor_name').all(maskId) as Array<{ tensor_name: string; selected: number; bits: Buffer }>;
  return new Map(rows.map((r) => [r.tensor_name, `${r.selected}:${r.bits.toString('hex')}`]));
}

function stateKeys(db: Database.Database, jobId: string): string[] {
  return db.prepare('SELECT key FROM job_state WHERE job_id = ? ORDER BY key').pluck().all(jobId) as string[];
}

function stateMeta(db: Database.Database, jobId: string): { cursor: number; total: number } {
  return JSON.parse(db.prepare(`SELECT value FROM job_state WHERE job_id = ? AND key = 'meta'`).pluck().get(jobId) as string);
}

it('migration 009 adds job_state and param_masks.example_ids', () => {
  const db = openProjectDb(join(tmpDir('pm-m009'), 'p.winnow'), { migrate: false });
  migrate(db, { upTo: 8 });
  expect(migrate(db, { upTo: 9 })).toEqual([9]);
  expect(db.prepare("SELECT name FROM pragma_table_info('param_masks')").pluck().all()).toContain('example_ids');
  db.prepare(`INSERT INTO job_state (job_id, pass, key, value) VALUES ('j', 'param_mask', 'meta', '{}')`).run();
  expect(() => db.prepare(`INSERT INTO job_state (job_id, pass, key, value) VALUES ('j', 'param_mask', 'meta', '{}')`).run()).toThrow(/UNIQUE/);
  db.close();
});

describe('parameter-mask pass, in process', () => {
  let proj: TestProject;
  let modelId = 0;
  let datasetId = 0;
  /** the model's tokenizer (id and chat template): render keys are made from it */
  let tok = { id: '', chatTemplate: '' };

  beforeAll(async () => {
    await initBackend();
    proj = new TestProject('pmresume');
    const dir = writeTinyModel(TINY_LLAMA, 33);
    const m = await loadModel(dir);
    tok = { id: m.tokenizer.id, chatTemplate: m.tokenizer.chatTemplate };
    disposeModel(m);
    modelId = await proj.addModel(dir);
    datasetId = await proj.importDataset(gsm8kRows(proj.home, ROWS));
  });
  afterAll(() => proj?.close());

  const job = async (jobId: string): Promise<Job> => (await proj.call('jobs.list', {})).find((j) => j.jobId === jobId)!;

  /** Start a mask job; with `cancelAt`, cancel it once its progress reports that many examples done. */
  async function runMask(input: MaskInput, cancelAt?: number): Promise<Job> {
    let jobId = '';
    let asked = false;
    const off = proj.service.onEvent((e: EngineEvent) => {
      if (cancelAt === undefined || asked || e.type !== 'job' || e.job.jobId !== jobId || e.job.status !== 'running') return;
      const m = /^gradients (\d+)\//.exec(e.job.message);
      if (m && Number(m[1]) >= cancelAt) {
        asked = true;
        void proj.service.call('jobs.cancel', { jobId });
      }
    });
    try {
      jobId = (await proj.call('paramMasks.compute', input)).jobId;
      await proj.service.whenIdle();
      return job(jobId);
    } finally {
      off();
    }
  }

  const CASES: Array<[string, Partial<MaskInput>, Record<string, string>]> = [
    // large-model behaviour: nothing saved between examples, so only the save made on cancel is there to resume from
    ['salience (w·g)², sums saved only on cancel', { method: 'salience', metric: 'sq_wg', density: 0.05, topk: 'global' }, { WINNOW_MASK_STATE_BYTES: '0', WINNOW_MASK_SAVE_SECONDS: '3600' }],
    ['gps, sums saved as the pass goes', { method: 'gps', perRow: 2 }, {}],
  ];

  it.each(CASES)('cancelled after k examples, resumed: the same mask bit for bit (%s)', async (label, rule, env) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const base = { modelId, datasetId, scope: 'all', examples: 12, seed: 4, ...rule } as MaskInput;
      const ref = await runMask({ ...base, name: `ref ${label}` });
      expect(ref.status, ref.error?.message).toBe('done');

      const cut = await runMask({ ...base, name: `cut ${label}` }, 4);
      expect(cut.status).toBe('cancelled');
      expect(cut.message).toMatch(/cancelled after \d+ of 12 examples; the gradient sums so far are saved — Resume continues/);
      expect(cut.resumable).toBe(true);
      const meta = stateMeta(proj.db, cut.jobId);
      expect(meta.total).toBe(12);
      expect(meta.cursor).toBeGreaterThanOrEqual(4);
      expect(meta.cursor).toBeLessThan(12);
      const keys = stateKeys(proj.db, cut.jobId);
      expect(keys).toEqual(expect.arrayContaining(['ids', 'meta']));
      expect(keys.filter((k) => k.startsWith('g:')).length).toBeGreaterThan(0);
      // (w·Σg)² needs Σg only
      expect(keys.some((k) => k.startsWith('g2:'))).toBe(false);
      expect(cut.message).toContain(`after ${meta.cursor} of 12`);

      await proj.call('jobs.resume', { jobId: cut.jobId });
      await proj.service.whenIdle();
      const resumed = await job(cut.jobId);
      expect(resumed.status, resumed.error?.message).toBe('done');
      expect(resumed.message).toContain(`(resumed at ${meta.cursor})`);
      expect(stateKeys(proj.db, cut.jobId)).toEqual([]);
      expect(resumed.stats.examples).toBe(12);

      const want = bitsOf(proj.db, Number(ref.stats.maskId));
      expect(want.size).toBeGreaterThan(0);
      expect(bitsOf(proj.db, Number(resumed.stats.maskId))).toEqual(want);
      expect(paramMaskExampleIds(proj.db, Number(resumed.stats.maskId))).toEqual(paramMaskExampleIds(proj.db, Number(ref.stats.maskId)));
    } finally {
      process.env = saved;
    }
  }, 300_000);

  it('Discard drops the saved sums; the job can then no longer resume', async () => {
    const cut = await runMask({ name: 'to discard', modelId, datasetId, method: 'gps', perRow: 1, examples: 10 }, 2);
    expect(cut.status).toBe('cancelled');
    expect(stateKeys(proj.db, cut.jobId).length).toBeGreaterThan(0);
    const gone = await proj.call('jobs.discard', { jobId: cut.jobId });
    expect(gone.resumable).toBe(false);
    expect(gone.message).toMatch(/saved state was discarded/);
    expect(stateKeys(proj.db, cut.jobId)).toEqual([]);
    const again = await proj.service.call('jobs.resume', { jobId: cut.jobId });
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error.message).toMatch(/no saved state/);
    // a job that finished keeps nothing to discard; other kinds keep their work with their run
    const done = (await proj.call('jobs.list', {})).find((j) => j.kind === 'param_mask' && j.status === 'done')!;
    expect((await proj.service.call('jobs.discard', { jobId: done.jobId })).ok).toBe(false);
  }, 300_000);

  it('a resumed pass whose examples changed meanwhile is refused and keeps its state', async () => {
    const input: MaskInput = { name: 'changed', modelId, datasetId, method: 'gps', perRow: 1, examples: 10, tokenMaskName: 'edited' };
    const cut = await runMask(input, 2);
    expect(cut.status).toBe('cancelled');
    // a hand-edited token mask of one of the pass's examples changes what the resumed pass would differentiate
    const ids = proj.db.prepare(`SELECT value FROM job_state WHERE job_id = ? AND key = 'ids'`).pluck().get(cut.jobId) as Buffer;
    const first = ids.readInt32LE(0);
    // drawn on the default render (512 tokens); it applies to the pass's render at 256, a prefix of the same tokens
    const n = proj.db.prepare('SELECT n_tokens FROM renders WHERE example_id = ? AND render_key_id = ?').pluck().get(first, proj.renderKey(tok)) as number;
    await proj.call('tokenMasks.save', { exampleId: first, modelId, mask: Array.from({ length: n }, (_, t) => (t > 0 && t % 2 === 0 ? 1 : 0)) });
    await proj.call('jobs.resume', { jobId: cut.jobId });
    await proj.service.whenIdle();
    const after = await job(cut.jobId);
    expect(after.status).toBe('failed');
    expect(after.error?.message).toMatch(/examples of its gradient pass changed since it started/);
    expect(after.resumable).toBe(true);
    expect(stateKeys(proj.db, cut.jobId)).toContain('meta');
  }, 300_000);

  describe('leaving out the eval split', () => {
    const FRACTION = 0.25;
    const SEED = 3;
    const rule = { method: 'salience', metric: 'abs_g', density: 0.3, topk: 'global', scope: 'all', examples: 100, seed: 9 } as const;
    let evalIds: number[] = [];
    let held: Job;

    beforeAll(async () => {
      held = await runMask({ ...rule, name: 'held out', modelId, datasetId, evalFraction: FRACTION, evalSeed: SEED });
      expect(held.status, held.error?.message).toBe('done');
      // the split training makes (after the job above rendered the rows with the same max tokens)
      evalIds = loadTrainData(proj.db, { subsetId: null, datasetId, renderKeyId: proj.renderKey(tok, 256), modelId, policy: { kind: 'response' }, evalFraction: FRACTION, seed: SEED }).eval.map((e) => e.exampleId);
    });

    it('the held-out rows are training’s eval rows and none of them is in the pass', async () => {
      // the rows training can use: rendered within max tokens with an answer token (one GSM8K row's answer falls past 256)
      const rendered = proj.db.prepare('SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ? AND r.render_key_id = ? AND r.n_label > 0 ORDER BY r.example_id').pluck().all(datasetId, proj.renderKey(tok, 256)) as number[];
      expect(evalIds.length).toBe(Math.round(FRACTION * rendered.length));
      const mask = await proj.call('paramMasks.get', { maskId: Number(held.stats.maskId) });
      expect(mask.provenance.evalSplit).toEqual({ fraction: FRACTION, seed: SEED, heldOut: evalIds.length });
      expect(held.message).toContain(`${evalIds.length} eval row(s) left out`);
      const used = [...paramMaskExampleIds(proj.db, mask.id)!];
      expect(used.filter((id) => evalIds.includes(id))).toEqual([]);
      // `examples` exceeds the rows, so the pass took every other usable row
      expect([...used].sort((a, b) => a - b)).toEqual(rendered.filter((id) => !evalIds.includes(id)));
    });

    it('equals a pass over exactly the remaining rows, and differs from one that includes the eval rows', async () => {
      const rest = (proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[]).filter((id) => !evalIds.includes(id));
      const subset = await proj.call('subsets.create', { name: 'no eval rows', rule: { kind: 'ids', ids: rest }, datasetId });
      const over = await runMask({ ...rule, name: 'remaining rows', modelId, subsetId: subset.id });
      expect(over.status, over.error?.message).toBe('done');
      const want = bitsOf(proj.db, Number(held.stats.maskId));
      expect(bitsOf(proj.db, Number(over.stats.maskId))).toEqual(want);
      const withEval = await runMask({ ...rule, name: 'with eval rows', modelId, datasetId });
      expect(withEval.status, withEval.error?.message).toBe('done');
      expect(bitsOf(proj.db, Number(withEval.stats.maskId))).not.toEqual(want);
    }, 300_000);

    it('a training run says how many of its eval rows a mask’s pass saw; none for the mask that left them out', async () => {
      const withEval = (await proj.call('paramMasks.list', { modelId })).find((m) => m.name === 'with eval rows')!;
      const seen = evalIds.filter((id) => paramMaskExampleIds(proj.db, withEval.id)!.includes(id)).length;
      expect(seen).toBe(evalIds.length);
      const train = async (paramMaskId: number) => {
        const { jobId } = await proj.call('train.start', {
          modelId, subsetId: null, datasetId, layers: 'all', paramMaskId, steps: 1, batchSize: 2, evalFraction: FRACTION, seed: SEED, checkpointEvery: 5,
        });
        return proj.finished(jobId);
      };
      const warned = await train(withEval.id);
      expect(warned.stats.evalRowsInMaskPass).toBe(seen);
      expect(warned.message).toContain(`warning: ${seen} of the ${evalIds.length} eval row(s) were in the gradient pass of parameter mask #${withEval.id}`);
      const clean = await train(Number(held.stats.maskId));
      expect(clean.stats.evalRowsInMaskPass).toBeUndefined();
      expect(clean.message).not.toContain('warning');
    }, 300_000);
  });
});

describe('parameter-mask pass, SIGKILLed', () => {
  let home: string;
  let engine: EngineProcess;
  const dbPath = () => join(home, 'projects', 'pmkill', 'project.winnow');
  const jobDone = (jobId: string) => (e: EngineEvent) => e.type === 'job' && e.job.jobId === jobId && ['done', 'failed', 'cancelled'].includes(e.job.status);
  const gradientProgress = (jobId: string) => (e: EngineEvent) =>
    e.type === 'job' && e.job.jobId === jobId && e.job.status === 'running' && /^gradients \d+\//.test(e.job.message);

  beforeAll(async () => {
    home = tmpDir('pmkill');
    engine = new EngineProcess(home, 'pmkill');
    await engine.start();
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('resumes at its last saved example and stores the mask of an uninterrupted run', async () => {
    const EXAMPLES = 40;
    const modelId = (await engine.call('models.add', { path: writeTinyModel(TINY_LLAMA, 34) })).id;
    const { jobId: importJob } = await engine.call('datasets.import', { path: gsm8kRows(home, EXAMPLES) });
    const imported = (await engine.waitFor(jobDone(importJob))) as { job: Job };
    const datasetId = Number(imported.job.stats.datasetId);
    const base = { modelId, datasetId, method: 'salience', metric: 'sq_wg', density: 0.05, topk: 'per_tensor', scope: 'all', examples: EXAMPLES, seed: 2 } as const;

    const { jobId } = await engine.call('paramMasks.compute', { ...base, name: 'killed' });
    // small sums are first saved right after the first example
    await engine.waitFor((e) => gradientProgress(jobId)(e) && (e as { job: Job }).job.current >= 2);
    await engine.kill();

    const db = new Database(dbPath(), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const meta = stateMeta(db, jobId);
    expect(db.prepare('SELECT COUNT(*) FROM param_masks').pluck().get()).toBe(0);
    // every row with an answer token within max tokens is in the pass (`examples` covers them all): the renders of its
    // render key (256 tokens, the request's default), not those the import made at 512
    const usable = db.prepare(`SELECT COUNT(*) FROM renders r JOIN examples e ON e.id = r.example_id JOIN render_keys k ON k.id = r.render_key_id
      WHERE e.dataset_id = ? AND r.n_label > 0 AND k.max_tokens = 256`).pluck().get(datasetId) as number;
    db.close();
    expect(meta.total).toBe(usable);
    expect(meta.cursor).toBeGreaterThanOrEqual(1);
    expect(meta.cursor).toBeLessThan(meta.total);

    await engine.start();
    const stale = (await engine.call('jobs.list', {})).find((j) => j.jobId === jobId)!;
    expect(stale.status).toBe('failed');
    expect(stale.resumable).toBe(true);
    expect(stale.message).toMatch(/finished work is saved — resume to continue/);
    const first = engine.waitFor(gradientProgress(jobId));
    await engine.call('jobs.resume', { jobId });
    // the first example after the restart is the one after the saved cursor
    expect(((await first) as { job: Job }).job.current).toBe(meta.cursor + 1);
    const done = (await engine.waitFor(jobDone(jobId))) as { job: Job };
    expect(done.job.status, done.job.error?.message).toBe('done');

    const { jobId: againJob } = await engine.call('paramMasks.compute', { ...base, name: 'uninterrupted' });
    const again = (await engine.waitFor(jobDone(againJob))) as { job: Job };
    expect(again.job.status, again.job.error?.message).toBe('done');

    const after = new Database(dbPath(), { readonly: true });
    try {
      const want = bitsOf(after, Number(again.job.stats.maskId));
      expect(want.size).toBeGreaterThan(0);
      expect(bitsOf(after, Number(done.job.stats.maskId))).toEqual(want);
      expect(stateKeys(after, jobId)).toEqual([]);
    } finally {
      after.close();
    }
  }, 600_000);
});
