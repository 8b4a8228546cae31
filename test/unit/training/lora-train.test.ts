/**
 * LoRA through the real training job on a tiny Llama (issue #16): only A and B train, on the blocks the layer spec
 * picks; the run writes a PEFT adapter folder and the merged model, whose every tensor is the base's except the
 * adapted weights, which are W + scale·B·A computed here in float64 from the adapter file; pause and resume (with
 * dropout on and gradient accumulation) end with the same adapter bytes as an uninterrupted run; scoring with the
 * adapter gives the merged model's losses; bad targets and LoRA with a parameter mask are refused at train.start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { readCheckpoint, readSafetensors } from '../../../main/engine/models/safetensors';
import { writeTinyModel } from '../models/tiny';
import { peft, readFlatYaml } from '../export/interpreters';
import { TestProject, gsm8kRows } from '../scoring/helpers';

beforeAll(async () => {
  await initBackend();
});

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};

describe('a LoRA training job', () => {
  let proj: TestProject;
  let dir = '';
  let modelId = 0;
  let datasetId = 0;
  const lora = { r: 2, alpha: 4, dropout: 0.1, targets: ['attention'], layers: 'last:1', rslora: false };
  const base = () => ({ modelId, subsetId: null, datasetId, layers: 'all', lora, steps: 6, batchSize: 2, gradAccum: 2, lr: 0.02, weightDecay: 0.01, evalFraction: 0.2, evalEvery: 3, checkpointEvery: 2 });

  beforeAll(async () => {
    proj = new TestProject('loratrain');
    dir = writeTinyModel(TINY_LLAMA, 41);
    modelId = await proj.addModel(dir);
    datasetId = await proj.importDataset(gsm8kRows(proj.home, 8));
  });
  afterAll(() => proj?.close());

  it('writes a PEFT adapter of the chosen modules and the merged model (base + scale·B·A, every other tensor unchanged)', async () => {
    const { jobId, runId } = await proj.call('train.start', base());
    const job = await proj.finished(jobId);
    expect(job.stats.loraModules).toBe(4);
    const adapterDir = String(job.stats.adapterDir);
    const conf = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(conf).toMatchObject({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 2, lora_alpha: 4, lora_dropout: 0.1, bias: 'none', fan_in_fan_out: false, use_rslora: false,
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], layers_to_transform: [1], layers_pattern: 'layers', base_model_name_or_path: dir,
    });
    const adapter = readSafetensors(join(adapterDir, 'adapter_model.safetensors')).tensors;
    const mods = ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `model.layers.1.self_attn.${p}`);
    expect([...adapter.keys()].sort()).toEqual(mods.flatMap((k) => [`base_model.model.${k}.lora_A.weight`, `base_model.model.${k}.lora_B.weight`]).sort());
    const baseW = readCheckpoint(dir).tensors;
    const run = (await proj.call('train.list', {})).find((r) => r.id === runId)!;
    const merged = readCheckpoint(run.outDir!).tensors;
    const scale = lora.alpha / lora.r;
    for (const [name, t] of baseW) {
      const key = name.replace(/\.weight$/, '');
      const got = merged.get(name)!.data;
      if (!mods.includes(key)) {
        expect(Buffer.from(got.buffer).equals(Buffer.from(t.data.buffer)), `${name} unchanged`).toBe(true);
        continue;
      }
      const A = adapter.get(`base_model.model.${key}.lora_A.weight`)!;
      const B = adapter.get(`base_model.model.${key}.lora_B.weight`)!;
      const [out, inn] = t.shape as [number, number];
      expect(A.shape).toEqual([2, inn]);
      expect(B.shape).toEqual([out, 2]);
      // training moved B off its zero start
      expect(B.data.some((x) => x !== 0), `${key} lora_B trained`).toBe(true);
      let worst = 0;
      for (let o = 0; o < out; o++) {
        for (let i = 0; i < inn; i++) {
          let d = 0;
          for (let k = 0; k < 2; k++) d += B.data[o * 2 + k]! * A.data[k * inn + i]!;
          worst = Math.max(worst, Math.abs(got[o * inn + i]! - (t.data[o * inn + i]! + scale * d)));
        }
      }
      expect(worst, `${name} = W + scale·B·A`).toBeLessThan(1e-6);
    }
    // the train and eval curves are recorded as for any run
    const metrics = await proj.call('train.metrics', { runId });
    expect(metrics.filter((m) => m.split === 'train')).toHaveLength(6);
    expect(metrics.filter((m) => m.split === 'eval').length).toBeGreaterThan(0);
  });

  it('paused and resumed (dropout on, accumulation 2), a run ends with the same adapter bytes as an uninterrupted one', async () => {
    const straight = await proj.call('train.start', base());
    const a = await proj.finished(straight.jobId);
    const paused = await proj.call('train.start', base());
    const off = proj.service.onEvent((e) => {
      if (e.type === 'job' && e.job.jobId === paused.jobId && e.job.status === 'running' && e.job.current >= 3) {
        off();
        void proj.service.call('jobs.cancel', { jobId: paused.jobId });
      }
    });
    await proj.service.whenIdle();
    expect((await proj.call('jobs.list', {})).find((j) => j.jobId === paused.jobId)!.status).toBe('cancelled');
    await proj.call('jobs.resume', { jobId: paused.jobId });
    const b = await proj.finished(paused.jobId);
    const fa = readFileSync(join(String(a.stats.adapterDir), 'adapter_model.safetensors'));
    const fb = readFileSync(join(String(b.stats.adapterDir), 'adapter_model.safetensors'));
    expect(fb.equals(fa)).toBe(true);
    // dropout is applied: without it the same run ends elsewhere
    const noDrop = await proj.call('train.start', { ...base(), lora: { ...lora, dropout: 0 } });
    const c = await proj.finished(noDrop.jobId);
    expect(readFileSync(join(String(c.stats.adapterDir), 'adapter_model.safetensors')).equals(fa)).toBe(false);
  });

  it('scores base + adapter as the merged model', async () => {
    const run = (await proj.call('train.list', {})).find((r) => r.status === 'done' && r.config.lora)!;
    const adapterPath = join(run.outDir!, '..', 'adapter');
    const read = () => proj.db.prepare('SELECT example_id, mean_loss FROM example_signals ORDER BY example_id').all() as Array<{ example_id: number; mean_loss: number }>;
    await proj.score({ modelId, datasetId, signals: ['mean_loss'] });
    const plain = read();
    await proj.score({ modelId, datasetId, signals: ['mean_loss'], adapterPath });
    const withAdapter = read();
    const mergedId = await proj.addModel(run.outDir!);
    await proj.score({ modelId: mergedId, datasetId, signals: ['mean_loss'] });
    const merged = read();
    expect(withAdapter.length).toBe(8);
    let moved = 0;
    withAdapter.forEach((r, i) => {
      expect(Math.abs(r.mean_loss - merged[i]!.mean_loss), `example ${r.example_id}`).toBeLessThan(1e-5);
      moved = Math.max(moved, Math.abs(r.mean_loss - plain[i]!.mean_loss));
    });
    expect(moved, 'the adapter changes the losses').toBeGreaterThan(1e-4);
  });

  it('an export of the run gives train_hf.py the adapter\'s PEFT settings (winnow_train.json "lora")', async () => {
    const run = (await proj.call('train.list', {})).find((r) => r.status === 'done' && r.config.lora?.dropout === 0.1)!;
    const out = join(proj.home, 'lora-bundle');
    const { jobId } = await proj.call('export.start', { outDir: out, subsetId: null, datasetId, modelId, trainRunId: run.id, what: ['subset', 'configs'] });
    await proj.finished(jobId);
    const hf = JSON.parse(readFileSync(join(out, 'winnow_train.json'), 'utf8')) as { lora: Record<string, unknown> };
    expect(hf.lora).toEqual({
      r: 2, lora_alpha: 4, lora_dropout: 0.1, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], bias: 'none', use_rslora: false,
      layers_to_transform: [1], layers_pattern: 'layers',
    });
    // TRL, Axolotl and LLaMA-Factory configs carry the same adapter: each read back by the tool's own rules (PEFT's
    // module matching, test/unit/export/interpreters.ts) adapts exactly the weights the run adapted
    const params = [...readCheckpoint(dir).tensors].map(([name, t]) => ({ name, shape: t.shape }));
    const adapted = new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `model.layers.1.self_attn.${p}.weight`));
    const trl = readFileSync(join(out, 'train_trl.py'), 'utf8');
    execFileSync('python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read())', join(out, 'train_trl.py')]);
    const trlLora = JSON.parse(JSON.parse(/^PEFT_CONFIG = json\.loads\((".*")\)$/m.exec(trl)![1]!) as string) as Record<string, unknown>;
    expect(trlLora).toMatchObject({ r: 2, lora_alpha: 4, lora_dropout: 0.1, use_rslora: false, task_type: 'CAUSAL_LM' });
    expect(trl).toContain('peft_config=peft_config');
    expect(peft(params, trlLora as Parameters<typeof peft>[1])).toEqual(adapted);
    const ax = readFlatYaml(readFileSync(join(out, 'axolotl.yaml'), 'utf8'));
    expect(ax).toMatchObject({ adapter: 'lora', lora_r: 2, lora_alpha: 4, lora_dropout: 0.1 });
    expect(ax.unfrozen_parameters).toBeUndefined();
    // axolotl's load_lora: LoraConfig(target_modules=lora_target_modules, layers_to_transform=peft_layers_to_transform, layers_pattern=peft_layers_pattern)
    expect(peft(params, { target_modules: ax.lora_target_modules as string[], layers_to_transform: ax.peft_layers_to_transform as number[], layers_pattern: ax.peft_layers_pattern as string })).toEqual(adapted);
    const lf = readFlatYaml(readFileSync(join(out, 'llamafactory.yaml'), 'utf8'));
    expect(lf).toMatchObject({ finetuning_type: 'lora', lora_rank: 2, lora_alpha: 4, lora_dropout: 0.1 });
    // LLaMA-Factory splits lora_target on commas into LoraConfig(target_modules=…), with no layer option
    expect(peft(params, { target_modules: String(lf.lora_target).split(',').map((t) => t.trim()) })).toEqual(adapted);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('trained LoRA adapters (r 2, alpha 4, dropout 0.1, 4 module(s): q_proj, k_proj, v_proj, o_proj in blocks 1)');
  });

  it('refuses unknown targets (naming them), a spec with no block, and LoRA with a parameter mask', async () => {
    const bad = await proj.service.call('train.start', { ...base(), lora: { ...lora, targets: ['q_proj', 'qq_proj'] } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/qq_proj match no linear module/);
    const gpt2Name = await proj.service.call('train.start', { ...base(), lora: { ...lora, targets: ['c_attn'] } });
    expect(gpt2Name.ok).toBe(false);
    const both = await proj.service.call('train.start', { ...base(), paramMaskId: 1 });
    expect(both.ok).toBe(false);
    if (!both.ok) expect(both.error.message).toMatch(/LoRA or with a parameter mask/);
  });
});
