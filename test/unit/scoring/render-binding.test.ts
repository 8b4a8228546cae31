/**
 * Scores are bound to their render (issue 15, section 1). A project holds the bundled demo model (whose renders every
 * new project gets at import), a GPT-2 byte-level BPE model and a Llama-2 SentencePiece-style model, each with its own
 * tokenizer and chat template. Scored with both, in both orders, every consumer of per-token values — the CLI JSONL,
 * the token view, a top-k% token policy, the export of token scores — reads the tokens of the run that produced
 * them: that model's own tokenization, every per-token array aligned to it (the losses are recomputed from the ids).
 * Then: training and exporting at other max tokens leave the scored renders, the render-error count and a
 * hand-edited mask as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, disposeModel, type LoadedModel } from '../../../main/engine/models';
import { forwardBatch } from '../../../main/engine/scoring/passes/forward';
import { getRender, scoreRunRenderKeyId, getRenderKey } from '../../../main/engine/db';
import { createTokenMasker } from '../../../main/engine/selection/token-policy';
import { renderDataset } from '../../../main/engine/data/renderDataset';
import { writeScoresJsonl } from '../../../main/cli/commands/score-output';
import { TrainConfigSchema, type ExampleDetail } from '../../../preload/contract';
import { writeRealFolder } from '../models/real-shapes';
import { TestProject } from './helpers';

const MAX = 64; // GPT-2's tiny config has 64 positions
const LONG = `Tell me a story about ${Array.from({ length: 160 }, (_, i) => `a dragon number ${i} who flies`).join(', ')}.`;
const ROWS = [
  { question: 'What is two plus three?', answer: 'Two plus three is five.' },
  { question: 'Name a colour of the sky.', answer: 'Blue, on a clear day.' },
  { question: LONG, answer: 'The end.' },
  { question: 'Where do fish live?', answer: 'Fish live in water: rivers, lakes and the sea.' },
  { question: 'Say hi in French,\nplease.', answer: 'Bonjour ! Ça va ? 😊' },
];

interface Line { index: number; input_ids?: number[]; label_mask?: number[]; token?: { token_loss: Array<number | null> }; example?: Record<string, number | null>; error?: string }

let gpt2Dir = '';
let llamaDir = '';
const loaded = new Map<string, LoadedModel>();

beforeAll(async () => {
  await initBackend();
  gpt2Dir = writeRealFolder({ name: 'gpt2', tokenizer: 'gpt2', storage: { dtype: 'F32', gpt2Prefix: '', attnBuffers: true } }, 3);
  llamaDir = writeRealFolder({ name: 'llama-2-chat', tokenizer: 'sentencepiece', storage: { dtype: 'F32' } }, 4);
  for (const d of [gpt2Dir, llamaDir]) loaded.set(d, await loadModel(d));
});
afterAll(() => {
  for (const m of loaded.values()) disposeModel(m);
});

/** The model's own tokenization of a row, as transformers would make it: the chat template, encoded, cut at MAX. */
function ownIds(m: LoadedModel, messages: Array<{ role: string; content: string }>, max = MAX): number[] {
  return m.tokenizer.encode(m.tokenizer.applyChatTemplate(messages), { addSpecialTokens: false }).ids.slice(0, max);
}

async function lossesOf(m: LoadedModel, ids: number[]): Promise<Float32Array> {
  return (await forwardBatch(m, [Int32Array.from(ids)], { entropy: false, rank: false, embedding: false })).tokens[0]!.token_loss;
}

async function project(name: string): Promise<{ proj: TestProject; datasetId: number; messages: Map<number, ExampleDetail['messages']>; ids: number[] }> {
  const proj = new TestProject(name);
  const file = join(proj.home, 'rows.jsonl');
  writeFileSync(file, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  // a new project holds the demo model: the import renders every row with its tokenizer
  const datasetId = await proj.importDataset(file);
  const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index').pluck().all(datasetId) as number[];
  const messages = new Map<number, ExampleDetail['messages']>();
  for (const id of ids) messages.set(id, (await proj.call('examples.get', { exampleId: id })).messages);
  return { proj, datasetId, messages, ids };
}

describe.each([
  ['GPT-2 first', ['gpt2', 'llama']],
  ['Llama first', ['llama', 'gpt2']],
])('two tokenizers in one project, %s', (_name, order) => {
  let proj: TestProject;
  let datasetId = 0;
  let ids: number[] = [];
  let messages = new Map<number, ExampleDetail['messages']>();
  const runs = new Map<string, { modelId: number; runId: number; m: LoadedModel }>();

  beforeAll(async () => {
    ({ proj, datasetId, ids, messages } = await project(`bind-${order.join('-')}`));
    for (const which of order) {
      const dir = which === 'gpt2' ? gpt2Dir : llamaDir;
      const modelId = await proj.addModel(dir);
      const runId = await proj.score({ modelId, datasetId, signals: ['token_loss', 'mean_loss'], maxTokens: MAX, batchSize: 2 });
      runs.set(which, { modelId, runId, m: loaded.get(dir)! });
    }
  }, 600_000);
  afterAll(() => proj?.close());

  it('the tokenizers differ (and differ from the demo model the import rendered with)', () => {
    const keys = [...runs.values()].map((r) => getRenderKey(proj.db, scoreRunRenderKeyId(proj.db, r.runId)!));
    expect(new Set(keys.map((k) => k.tokenizerId)).size).toBe(2);
    expect(keys.every((k) => k.maxTokens === MAX)).toBe(true);
    const demoKeys = proj.db.prepare('SELECT DISTINCT render_key_id FROM renders').pluck().all() as number[];
    expect(demoKeys.length).toBe(3);
  });

  it.each(['gpt2', 'llama'])('CLI JSONL of the %s run: its own token ids, every per-token array aligned to them', async (which) => {
    const { runId, m } = runs.get(which)!;
    const out = join(proj.home, `${which}.jsonl`);
    writeScoresJsonl(proj.db, { runId, datasetId, signals: ['token_loss', 'mean_loss'], out });
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
    expect(lines.map((l) => l.index)).toEqual(ROWS.map((_, i) => i));
    for (const [k, line] of lines.entries()) {
      const want = ownIds(m, messages.get(ids[k]!)!);
      if (k === 2) {
        // the long row's answer falls past MAX tokens for this tokenizer: an error line, named as such
        expect(line.error).toMatch(/no trainable tokens \(all of them fall after max_tokens 64\)/);
        continue;
      }
      expect(line.input_ids, `row ${k}`).toEqual(want);
      expect(line.label_mask).toHaveLength(want.length);
      expect(line.token!.token_loss).toHaveLength(want.length);
      // the losses are the model's on exactly these ids
      const direct = await lossesOf(m, want);
      expect(line.token!.token_loss[0]).toBeNull();
      for (let t = 1; t < want.length; t++) expect(line.token!.token_loss[t]!).toBeCloseTo(direct[t]!, 4);
      expect(Math.max(...want)).toBeLessThan(m.config.vocabSize);
    }
  });

  it.each(['gpt2', 'llama'])('token view with the %s model: the run’s render and its values, aligned', async (which) => {
    const { modelId, runId, m } = runs.get(which)!;
    for (const [k, id] of ids.entries()) {
      if (k === 2) continue;
      const d = await proj.call('examples.get', { exampleId: id, modelId });
      expect(d.render.renderKeyId).toBe(scoreRunRenderKeyId(proj.db, runId));
      expect(d.render.scoreRunIds).toEqual([runId]);
      expect(d.render.maxTokens).toBe(MAX);
      expect(d.tokens.map((t) => t.id)).toEqual(ownIds(m, messages.get(id)!));
      expect(d.tokenSignals.token_loss).toHaveLength(d.tokens.length);
      // the text each token shows is its own piece of the rendered text
      expect(d.tokens.filter((t) => t.end > t.start).every((t) => d.renderedText.slice(t.start, t.end) === t.text)).toBe(true);
    }
  });

  it.each(['gpt2', 'llama'])('top-k percent policy for the %s model: masks made on its run’s tokens; at other max tokens, on their prefix', async (which) => {
    const { modelId, runId, m } = runs.get(which)!;
    const keyId = scoreRunRenderKeyId(proj.db, runId)!;
    const policy = { kind: 'top_percent', signal: 'token_loss', percent: 50, scope: 'example' } as const;
    const at = createTokenMasker(proj.db, { renderKeyId: keyId, modelId, policy }, ids);
    for (const [k, id] of ids.entries()) {
      if (k === 2) continue;
      const r = at(id)!;
      expect(Array.from(r.ids)).toEqual(ownIds(m, messages.get(id)!));
      const losses = await lossesOf(m, Array.from(r.ids));
      const resp = [...r.ids.keys()].filter((t) => t > 0 && getRender(proj.db, id, keyId)!.labelMask[t] === 1);
      const kept = [...r.mask.keys()].filter((t) => r.mask[t] === 1);
      expect(kept.length).toBe(Math.round(resp.length / 2));
      const minKept = Math.min(...kept.map((t) => losses[t]!));
      expect(resp.filter((t) => !kept.includes(t)).every((t) => losses[t]! <= minKept + 1e-4)).toBe(true);
    }
    // training at fewer tokens renders under its own key; the run's values apply to that render's tokens, a prefix
    const short = (await renderDataset(proj.db, datasetId, m.tokenizer, { labelPolicy: 'assistant', maxTokens: 20 })).renderKeyId;
    const cut = createTokenMasker(proj.db, { renderKeyId: short, modelId, policy }, ids);
    for (const id of ids) {
      const r = cut(id);
      if (!r) continue; // nothing to learn in the first 20 tokens: a render error of that key
      const own = ownIds(m, messages.get(id)!);
      expect(Array.from(r.ids)).toEqual(own.slice(0, 20));
      const losses = await lossesOf(m, own);
      const resp = [...r.ids.keys()].filter((t) => t > 0 && getRender(proj.db, id, short)!.labelMask[t] === 1);
      const kept = [...r.mask.keys()].filter((t) => r.mask[t] === 1);
      expect(kept.length).toBe(Math.round(resp.length / 2));
      if (kept.length) expect(resp.filter((t) => !kept.includes(t)).every((t) => losses[t]! <= Math.min(...kept.map((k) => losses[k]!)) + 1e-4)).toBe(true);
    }
    expect(scoreRunRenderKeyId(proj.db, runId)).toBe(keyId);
  });

  it('the export of token scores gives each run’s arrays with that run’s input_ids', async () => {
    const outDir = join(proj.home, 'export-scores');
    const { jobId } = await proj.call('export.start', { outDir, subsetId: null, datasetId, what: ['scores'] });
    await proj.finished(jobId);
    const lines = readFileSync(join(outDir, 'token_scores.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {
      example_id: number; run_id: number; render_key: number; input_ids: number[]; token_loss: Array<number | null>;
    });
    expect(lines.length).toBe(2 * (ROWS.length - 1));
    for (const { runId, m } of runs.values()) {
      const mine = lines.filter((l) => l.run_id === runId);
      expect(mine).toHaveLength(ROWS.length - 1);
      for (const l of mine) {
        expect(l.render_key).toBe(scoreRunRenderKeyId(proj.db, runId));
        expect(l.input_ids).toEqual(ownIds(m, messages.get(l.example_id)!));
        expect(l.token_loss).toHaveLength(l.input_ids.length);
      }
    }
  });
});

describe('other jobs at other max tokens leave the scored renders, the render errors and a hand-edited mask intact', () => {
  let proj: TestProject;
  let datasetId = 0;
  let ids: number[] = [];
  let demoId = 0;

  beforeAll(async () => {
    ({ proj, datasetId, ids } = await project('bind-intact'));
    demoId = (await proj.call('project.open', {})).models[0]!.id;
  }, 600_000);
  afterAll(() => proj?.close());

  it('training at a lower max tokens and exporting at both change nothing another job stands on; later scores show on their own render', async () => {
    const info = async () => (await proj.call('project.open', {})).datasets.find((d) => d.id === datasetId)!;
    // the long row cannot be rendered at the default 512 tokens either: one render error
    const errors0 = (await info()).renderErrors;
    expect(errors0).toBe(1);
    const errorList0 = await proj.call('datasets.renderErrors', { datasetId });

    const runId = await proj.score({ modelId: demoId, datasetId, signals: ['token_loss'], maxTokens: 512 });
    const keyId = scoreRunRenderKeyId(proj.db, runId)!;
    const snapshot = () => proj.db.prepare('SELECT example_id, token_ids, label_mask FROM renders WHERE render_key_id = ? ORDER BY example_id').all(keyId);
    const before = snapshot();
    expect(before).toHaveLength(ROWS.length - 1);

    // a hand edit on the token view: only the first answer token kept
    const row0 = await proj.call('examples.get', { exampleId: ids[0]!, modelId: demoId });
    expect(row0.render.renderKeyId).toBe(keyId);
    const first = row0.tokens.findIndex((t) => t.label);
    // a max tokens that cuts row 0 two tokens into its answer (most other rows have nothing to learn there)
    const CUT = first + 2;
    expect(row0.tokens.length).toBeGreaterThan(CUT + 2);
    const edited = row0.tokens.map((_, t) => (t === first ? 1 : 0));
    await proj.call('tokenMasks.save', { exampleId: ids[0]!, modelId: demoId, mask: edited, renderKeyId: row0.render.renderKeyId });
    // the table counts the hand edit (one token) and marks the row
    const table0 = await proj.call('examples.query', { datasetId, offset: 0, limit: 10 });
    expect(table0.rows.find((r) => r.id === ids[0])).toMatchObject({ nLabel: 1, edited: true });

    // train at CUT max tokens with the hand-edited masks, then export its token masks, and an export at the default
    const cfg = TrainConfigSchema.parse({ modelId: demoId, subsetId: null, datasetId, layers: 'last:1', steps: 1, batchSize: 2, maxTokens: CUT, tokenMaskName: 'edited', evalFraction: 0 });
    const { jobId: trainJob, runId: trainRunId } = await proj.call('train.start', cfg);
    await proj.finished(trainJob);
    const trainKey = proj.db.prepare('SELECT render_key_id FROM train_runs WHERE id = ?').pluck().get(trainRunId) as number;
    expect(getRenderKey(proj.db, trainKey).maxTokens).toBe(CUT);
    const outCut = join(proj.home, 'export-cut');
    await proj.finished((await proj.call('export.start', { outDir: outCut, subsetId: null, datasetId, modelId: demoId, trainRunId, what: ['token_masks'] })).jobId);
    const out512 = join(proj.home, 'export-512');
    await proj.finished((await proj.call('export.start', { outDir: out512, subsetId: null, datasetId, modelId: demoId, what: ['token_masks'] })).jobId);

    // the scored renders, the render errors, the table and the mask are as they were
    expect(snapshot()).toEqual(before);
    expect((await info()).renderErrors).toBe(errors0);
    expect(await proj.call('datasets.renderErrors', { datasetId })).toEqual(errorList0);
    expect(await proj.call('examples.query', { datasetId, offset: 0, limit: 10 })).toEqual(table0);
    const view = await proj.call('examples.get', { exampleId: ids[0]!, modelId: demoId });
    expect(view.render.renderKeyId).toBe(keyId);
    expect(view.tokens).toEqual(row0.tokens);
    expect(view.tokenSignals.token_loss).toHaveLength(view.tokens.length);
    expect((await proj.call('tokenMasks.get', { exampleId: ids[0]!, modelId: demoId, renderKeyId: keyId }))!.mask).toEqual(edited);
    // scored rows still have a value at every scored position past the cut
    expect(view.tokenSignals.token_loss!.slice(1).every((v) => v !== null)).toBe(true);

    // the hand edit reached both exports: whole at 512, its first CUT tokens at CUT (the same tokens, cut)
    const labelsOf = (dir: string) => {
      const line = readFileSync(join(dir, 'token_masks.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { example_id: number; input_ids: number[]; labels: number[] })
        .find((l) => l.example_id === ids[0]);
      return line!;
    };
    const full = labelsOf(out512);
    expect(full.input_ids).toEqual(row0.tokens.map((t) => t.id));
    expect(full.labels.map((l) => (l === -100 ? 0 : 1))).toEqual(edited);
    const cut = labelsOf(outCut);
    expect(cut.input_ids).toEqual(full.input_ids.slice(0, CUT));
    expect(cut.labels.map((l) => (l === -100 ? 0 : 1))).toEqual(edited.slice(0, CUT));
    const manifestCut = JSON.parse(readFileSync(join(outCut, 'manifest.json'), 'utf8'));
    expect(manifestCut.artifacts.tokenMasks.render).toMatchObject({ renderKeyId: trainKey, maxTokens: CUT });

    // the CLI JSONL of the first run still gives its 512-token renders
    const jsonl = join(proj.home, 'scores.jsonl');
    writeScoresJsonl(proj.db, { runId, datasetId, signals: ['token_loss'], out: jsonl });
    const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
    expect(lines[0]!.input_ids).toEqual(full.input_ids);
    expect(lines.filter((l) => l.error).map((l) => l.index)).toEqual([2]);

    // a later run at CUT + 1 tokens is shown on its own render; the first run's view of the data is unchanged
    const later = await proj.score({ modelId: demoId, datasetId, signals: ['token_loss'], maxTokens: CUT + 1 });
    const vLater = await proj.call('examples.get', { exampleId: ids[0]!, modelId: demoId });
    expect(vLater.render).toMatchObject({ maxTokens: CUT + 1, scoreRunIds: [later] });
    expect(vLater.tokens.map((t) => t.id)).toEqual(full.input_ids.slice(0, CUT + 1));
    expect(vLater.tokenSignals.token_loss).toHaveLength(vLater.tokens.length);
    // the edited mask, drawn on the 512-token render, applies to the first CUT + 1 of its tokens
    expect((await proj.call('tokenMasks.get', { exampleId: ids[0]!, modelId: demoId, renderKeyId: vLater.render.renderKeyId }))!.mask).toEqual(edited.slice(0, CUT + 1));
    expect((await info()).renderErrors).toBe(errors0);
    expect(snapshot()).toEqual(before);
  });
});
