/**
 * The writers of an export bundle, one per artifact (export/run.ts calls them in bundle order): each writes its files
 * into the partial folder through `at` (every path checked by insideDir) and adds what the manifest says of them
 * (`artifacts`), the README's file list (`described`) and notes. Their order is the order of those lists.
 */
import { cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { listSignalColumns, blobToFloat32, getRender, getRenderKey, renderKeyId, renderKeyOf, type Db, type RenderKey } from '../db';
import type { ExportRequest } from '../../../preload/contract';
import { WinnowError } from '../util/errors';
import { writeWiseModel } from '../models/wise';
import { readModelConfig } from '../models/config';
import type { WinnowTokenizer } from '../models/types';
import { renderDataset } from '../data/renderDataset';
import { isTextRecord, type Normalized } from '../data/formats';
import { DEFAULT_RENDER } from '../data/render-key';
import type { RenderOptions } from '../data/render';
import { checkpointTensors } from '../models/checkpoint-tensors';
import { getLayerMask } from '../db/layers';
import { findModelPath } from '../db/models';
import { trainRunRow } from '../db/training';
import { exampleSignalRowReader, latestTokenSignalsReader, type ExportDatasetRow, type ExportExampleRow, type ExportModelRow } from '../db/exports';
import { resolveLayerSpec } from '../selection/layers';
import { sanitizeFileName } from './names';
import { writeParquet, rowsToColumns } from './tables';
import { spanRow, tokenMaskRow } from './token-masks';
import { createTokenMasker, type TokenPolicySpec } from '../selection/token-policy';
import { layerMaskForms, type LayerMaskForms } from './layer-formats';
import { axolotlYaml, llamaFactoryDatasetInfo, llamaFactoryYaml, trlScript, type LoraExport, type TrainerSettings } from './configs';
import { accelerateDeepspeedYaml, accelerateFsdpYaml, dsZero2Json, hfHyper, hfNotes, winnowTrainJson, type RunConfigLike } from './train-hf';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, type AdapterConfigJson } from '../models/lora';
import { readSafetensorsHeader } from '../models/safetensors';
import { TRAIN_HF_PY } from './train-hf-script';
import { PARAM_MASK_FILES, paramMaskIdOf, writeChangedWeights, writeParamMaskFiles } from './param-mask';
import { EXPORT_FILES } from './files';

export type ModelRow = ExportModelRow;
export type DatasetRow = ExportDatasetRow;

/** What every writer of one export reads, and the lists they add to. */
export interface Bundle {
  db: Db;
  req: ExportRequest;
  /** the exported examples' ids, in file order */
  ids: number[];
  /** a path inside the partial folder */
  at: (rel: string) => string;
  /** throws once the job is cancelled */
  check: () => void;
  tick: (message: string) => void;
  artifacts: Record<string, Record<string, unknown>>;
  described: Array<{ file: string; what: string }>;
  notes: string[];
  /** one example's id, dataset, row index, original JSON and stored messages */
  exRow: (id: number) => ExportExampleRow;
  /** an example's messages (stored, or derived from the row and its dataset's mapping) */
  normOf: (id: number) => Normalized;
  /** the source datasets (ids ascending) and each one's index in the manifest's list */
  dsIds: number[];
  datasets: DatasetRow[];
  dsIndex: Map<number, number>;
  subset: { name: string; rule: unknown; size: number } | null;
  model: ModelRow | null;
  tok: WinnowTokenizer | null;
}

/** Where each exported example came from ([index into datasets, row index, example id]) and whether all are chats. */
export interface ExampleList { examples: Array<[number, number, number]>; allChat: boolean }

function write(stream: WriteStream, line: string): Promise<void> {
  return new Promise((res) => (stream.write(line) ? res() : stream.once('drain', () => res())));
}
function end(stream: WriteStream): Promise<void> {
  return new Promise((res, rej) => {
    stream.on('error', rej);
    stream.end(() => res());
  });
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The token policy of the export: as asked, else the training run's, else `response` with hand-edited masks
 * ("edited") where they exist.
 */
function tokenPolicyOf(db: Db, req: ExportRequest): TokenPolicySpec {
  const run = req.trainRunId
    ? (JSON.parse(trainRunRow(db, req.trainRunId)?.config_json as string) as Record<string, unknown>)
    : {};
  const kind = req.tokenPolicy ?? (run.tokenPolicy as TokenPolicySpec['kind'] | undefined) ?? 'response';
  const editedName = req.tokenMaskName ?? (run.tokenMaskName as string | undefined) ?? 'edited';
  if (kind === 'all') return { kind };
  if (kind === 'response' || kind === 'critical') return { kind, editedName };
  return {
    kind, editedName,
    signal: req.tokenSignal ?? (run.tokenSignal as string | undefined) ?? 'excess_loss',
    percent: req.tokenPercent ?? (run.tokenPercent as number | undefined) ?? 60,
    scope: req.tokenScope ?? (run.tokenScope as 'example' | 'global' | undefined) ?? 'example',
  };
}

/** The render options of the export's token masks: the training run's (its max tokens) when there is one, else the default. */
function renderOptionsOf(db: Db, req: ExportRequest): RenderOptions {
  if (!req.trainRunId) return DEFAULT_RENDER;
  const row = trainRunRow(db, req.trainRunId);
  if (!row) return DEFAULT_RENDER;
  if (row.render_key_id !== null) {
    const k = getRenderKey(db, row.render_key_id);
    return { labelPolicy: k.labelPolicy as RenderOptions['labelPolicy'], maxTokens: k.maxTokens ?? undefined };
  }
  const cfg = JSON.parse(row.config_json) as { maxTokens?: number };
  return { ...DEFAULT_RENDER, maxTokens: cfg.maxTokens ?? DEFAULT_RENDER.maxTokens };
}

function layerMaskTensors(db: Db, req: ExportRequest): { tensors: string[]; provenance: Record<string, unknown>; modelDir: string | null } {
  if (req.layerMaskId) {
    const mask = getLayerMask(db, req.layerMaskId);
    const dir = mask.modelId ? findModelPath(db, mask.modelId) ?? null : null;
    return { tensors: mask.tensors, provenance: { layerMask: mask.name, ...mask.provenance }, modelDir: dir };
  }
  const run = trainRunRow(db, req.trainRunId!);
  if (!run) throw new WinnowError('not_found', `train run ${req.trainRunId} not found`);
  const spec = JSON.parse(run.config_json).layers as string;
  const dir = findModelPath(db, run.model_id) as string;
  return { tensors: resolveLayerSpec(spec, checkpointTensors(dir)), provenance: { trainRun: req.trainRunId, spec }, modelDir: dir };
}

/** subset.jsonl (original rows), subset.messages.jsonl / .parquet (normalized) and one Parquet file per dataset. */
export async function writeSubset(b: Bundle): Promise<ExampleList> {
  const { ids, at, check, tick, artifacts, described, exRow, normOf, datasets, dsIndex, subset } = b;
  const examples: Array<[number, number, number]> = [];
  let allChat = true;
  const raw = createWriteStream(at(EXPORT_FILES.subset));
  const msgs = createWriteStream(at(EXPORT_FILES.subsetMessages));
  const rawByDs = new Map<number, unknown[]>();
  const msgCol: unknown[] = [];
  for (const id of ids) {
    check();
    const r = exRow(id);
    examples.push([dsIndex.get(r.dataset_id)!, r.row_index, id]);
    await write(raw, r.raw_json + '\n');
    const m = normOf(id);
    if (isTextRecord(m)) allChat = false;
    // a conversation's tool schemas go back to the record's `tools`, where an import reads them
    const line = Array.isArray(m) ? (m[0]?.tools ? { messages: [(({ tools: _t, ...first }) => first)(m[0]), ...m.slice(1)], tools: m[0].tools } : { messages: m }) : m;
    await write(msgs, JSON.stringify(line) + '\n');
    msgCol.push(Array.isArray(m) ? m : (m as { text: string }).text);
    if (!rawByDs.has(r.dataset_id)) rawByDs.set(r.dataset_id, []);
    rawByDs.get(r.dataset_id)!.push(JSON.parse(r.raw_json));
    tick('subset');
  }
  await end(raw);
  await end(msgs);
  writeParquet(at(EXPORT_FILES.subsetMessagesParquet), [
    { name: 'example_id', values: ids, type: 'INT32' },
    { name: allChat ? 'messages' : 'text', values: msgCol, type: allChat ? 'JSON' : undefined },
  ]);
  // original rows keep their own columns, so one Parquet file per source dataset, named after it (sanitized)
  mkdirSync(at(EXPORT_FILES.subsetRawParquetDir), { recursive: true });
  const rawFiles: Record<string, string> = {};
  const used = new Set<string>();
  for (const d of datasets) {
    let base = sanitizeFileName(d.name, `dataset-${d.id}`);
    while (used.has(base.toLowerCase())) base = `${base}-${d.id}`;
    used.add(base.toLowerCase());
    const rel = `${EXPORT_FILES.subsetRawParquetDir}/${base}.parquet`;
    writeParquet(at(rel), rowsToColumns(rawByDs.get(d.id) ?? []));
    rawFiles[d.name] = rel;
    described.push({ file: rel, what: `original rows from dataset "${d.name}" (Parquet, its own columns)` });
  }
  artifacts.subset = { file: EXPORT_FILES.subset, rows: ids.length, form: 'original rows, untouched (JSONL)', rule: subset?.rule ?? null };
  artifacts.subsetMessages = { file: EXPORT_FILES.subsetMessages, parquet: EXPORT_FILES.subsetMessagesParquet, rows: ids.length, form: allChat ? 'normalized chat messages' : 'normalized records (messages or text)' };
  artifacts.subsetParquet = { files: rawFiles, form: 'original rows, one Parquet file per source dataset; nested values as JSON text' };
  described.unshift(
    { file: EXPORT_FILES.subset, what: 'original rows, untouched, one per line' },
    { file: EXPORT_FILES.subsetMessages, what: 'the same rows normalized: `{"messages": [{"role", "content"}...]}` (or `{"text"}`)' },
    { file: EXPORT_FILES.subsetMessagesParquet, what: 'normalized rows as Parquet (example_id, messages as JSON text)' },
  );
  return { examples, allChat };
}

/** The example list of an export that writes no subset files. */
export function listExamples(b: Bundle): ExampleList {
  const { ids, exRow, normOf, dsIndex } = b;
  const examples: Array<[number, number, number]> = [];
  let allChat = true;
  for (const id of ids) {
    const r = exRow(id);
    examples.push([dsIndex.get(r.dataset_id)!, r.row_index, id]);
    if (!Array.isArray(normOf(id))) allChat = false;
  }
  return { examples, allChat };
}

/** token_masks.jsonl (input_ids, labels) and token_masks.spans.jsonl (character spans), under the export's render key. */
export async function writeTokenMasks(b: Bundle, tok: WinnowTokenizer): Promise<TokenPolicySpec> {
  const { db, req, ids, at, check, tick, artifacts, described, notes, normOf, dsIds, model } = b;
  let renderInfo: (RenderKey & { renderKeyId: number }) | null = null;
  // the training run's render options (what it trained on), else the default ones; under their own render key,
  // so the renders other jobs' scores and masks stand on are left as they are
  const opts = renderOptionsOf(db, req);
  for (const d of dsIds) await renderDataset(db, d, tok, opts);
  const key = renderKeyOf(tok, opts);
  const keyId = renderKeyId(db, key);
  renderInfo = { renderKeyId: keyId, ...key };
  const out = createWriteStream(at(EXPORT_FILES.tokenMasks));
  const spans = createWriteStream(at(EXPORT_FILES.tokenSpans));
  const policy = tokenPolicyOf(db, req);
  const masker = createTokenMasker(db, { renderKeyId: keyId, modelId: model!.id, policy }, ids);
  let rows = 0;
  let skipped = 0;
  let edited = 0;
  for (const id of ids) {
    check();
    const m = masker(id);
    tick('token masks');
    if (!m) {
      skipped++;
      continue;
    }
    if (m.edited) edited++;
    await write(out, JSON.stringify(tokenMaskRow(id, m.ids, m.mask)) + '\n');
    const norm = normOf(id);
    await write(spans, JSON.stringify(spanRow(tok, id, norm, m.offsets, m.mask)) + '\n');
    rows++;
  }
  await end(out);
  await end(spans);
  if (skipped) notes.push(`${skipped} example(s) could not be rendered with this render key (see the project's render errors) and are absent from the token mask files.`);
  const settings = { tokenizer: tok.id, policy: policy.kind, policySpec: policy, render: renderInfo, editedMasks: { name: 'editedName' in policy ? policy.editedName : null, used: edited } };
  artifacts.tokenMasks = { file: EXPORT_FILES.tokenMasks, rows, skipped, convention: 'labels = -100 where the loss is masked', ...settings };
  artifacts.tokenSpans = { file: EXPORT_FILES.tokenSpans, rows, convention: 'per message, [start, end) code-point ranges of content that are trained on', ...settings };
  described.push(
    { file: EXPORT_FILES.tokenMasks, what: `token mask for tokenizer ${tok.id}: input_ids, attention_mask, labels (−100 = not trained), example_id` },
    { file: EXPORT_FILES.tokenSpans, what: 'token mask as character spans per message (tokenizer-independent)' },
  );
  return policy;
}

/** layer_mask.json (exact tensor names) and, where the model folder is known, each trainer's form of it. */
export function writeLayerMask(b: Bundle): { forms: LayerMaskForms | null; maskSize: number } {
  const { db, req, at, tick, artifacts, described, model } = b;
  let forms: LayerMaskForms | null = null;
  const { tensors, provenance, modelDir } = layerMaskTensors(db, req);
  writeFileSync(at(EXPORT_FILES.layerMask), JSON.stringify({ trainable_tensors: tensors, provenance }, null, 2) + '\n');
  const dir = modelDir ?? model?.path ?? null;
  if (dir) {
    forms = layerMaskForms(checkpointTensors(dir), tensors, readModelConfig(dir).numLayers);
    writeFileSync(at(EXPORT_FILES.layerForms), JSON.stringify(forms, null, 2) + '\n');
    described.push({ file: EXPORT_FILES.layerForms, what: 'the layer mask as PEFT / Axolotl / LLaMA-Factory settings, each with its exactness check' });
  }
  artifacts.layerMask = {
    file: EXPORT_FILES.layerMask, tensors: tensors.length, provenance,
    forms: forms ? { file: EXPORT_FILES.layerForms, peft: forms.peft.report.exact, axolotl: forms.axolotl.report.exact, llamafactory: forms.llamafactory.report.exact } : null,
  };
  described.push({ file: EXPORT_FILES.layerMask, what: 'layer mask: the exact names of the trainable tensors' });
  tick('layer mask');
  return { forms, maskSize: tensors.length };
}

/** The parameter mask's tensors and its info file. */
export function writeParamMask(b: Bundle): void {
  const { db, req, at, tick, artifacts, described, notes } = b;
  const pm = writeParamMaskFiles(db, paramMaskIdOf(db, req)!, at);
  artifacts.paramMask = { file: PARAM_MASK_FILES.tensors, info: PARAM_MASK_FILES.info, name: pm.name, method: pm.method, trainableParams: pm.trainableParams, tensors: pm.tensors.length, provenance: pm.provenance };
  described.push(
    { file: PARAM_MASK_FILES.tensors, what: `parameter mask "${pm.name}" (${pm.method}): one uint8 tensor per opened tensor, same name and shape as the model's, 1 = trainable; tensors not listed are frozen` },
    { file: PARAM_MASK_FILES.info, what: 'the parameter mask\'s settings, counts, provenance and how to apply it in PyTorch' },
  );
  notes.push(`The parameter mask opens ${pm.trainableParams} entries of ${pm.tensors.length} tensor(s)${req.what.includes('configs') ? '; train_hf.py applies it (python and torchrun); train_trl.py, axolotl.yaml and llamafactory.yaml do not' : ''} (see ${PARAM_MASK_FILES.info}, "how_to_apply").`);
  tick('parameter mask');
}

/**
 * The training run's tuned weights: the whole folder, or the changed tensors over the base. With `wiseAlpha` the
 * weights are WiSE-FT's (1−α)·base + α·tuned (models/wise.ts), written first to a folder inside the partial bundle,
 * then kept whole or reduced to the tensors that differ from the base.
 */
export async function writeWeights(b: Bundle): Promise<void> {
  const { db, req, at, tick, artifacts, described } = b;
  const run = trainRunRow(db, req.trainRunId!)!;
  const tuned = run.out_dir as string; // export/run.ts refused a run without a tuned model folder
  const baseDir = findModelPath(db, run.model_id) as string;
  const alpha = req.wiseAlpha;
  let outModel = tuned;
  let wiseTmp: string | null = null;
  if (alpha !== undefined) {
    wiseTmp = at(`${EXPORT_FILES.weights}.wise-tmp`);
    writeWiseModel(baseDir, tuned, alpha, wiseTmp, { overwrite: true });
    outModel = wiseTmp;
  }
  const wise = alpha !== undefined ? { wiseAlpha: alpha, formula: '(1-alpha)*base + alpha*tuned', base: baseDir, tuned } : {};
  const what = alpha !== undefined ? `WiSE-FT weights, (1−α)·base + α·tuned with α = ${alpha}` : 'tuned weights';
  try {
    if (req.weightsForm === 'changed') {
      const changed = await writeChangedWeights(baseDir, outModel, at(EXPORT_FILES.weights), { trainRun: req.trainRunId, ...wise });
      artifacts.weights = { dir: EXPORT_FILES.weights, from: tuned, trainRun: req.trainRunId, form: 'changed tensors only + winnow_delta.json (base path and hash)', base: baseDir, tensors: changed, ...wise };
      described.push({ file: `${EXPORT_FILES.weights}/`, what: `${what}: only the ${changed.length} changed tensor(s), with winnow_delta.json naming the base model (load the base, then these tensors over it)` });
    } else {
      cpSync(outModel, at(EXPORT_FILES.weights), { recursive: true });
      artifacts.weights = { dir: EXPORT_FILES.weights, from: tuned, trainRun: req.trainRunId, form: 'full', ...wise };
      described.push({ file: `${EXPORT_FILES.weights}/`, what: `${what} (Hugging Face folder)` });
    }
  } finally {
    if (wiseTmp) rmSync(wiseTmp, { recursive: true, force: true });
  }
  tick('weights');
}

/** Trainer configs: TRL, train_hf.py with winnow_train.json and accelerate / DeepSpeed files, Axolotl, LLaMA-Factory. */
export function writeConfigs(b: Bundle, model: ModelRow, o: { forms: LayerMaskForms | null; allChat: boolean; tokenPolicySpec: TokenPolicySpec | null }): void {
  const { db, req, ids, at, artifacts, described, notes, tok } = b;
  const { forms, allChat, tokenPolicySpec } = o;
  const runCfg = req.trainRunId ? (JSON.parse(trainRunRow(db, req.trainRunId)?.config_json as string) as RunConfigLike) : null;
  const run: RunConfigLike = runCfg ?? {};
  const lora = runCfg?.lora ? runLoraBlock(db, req.trainRunId!) : null;
  const s: TrainerSettings = {
    modelPath: model.path, lr: run.lr ?? 1e-4, epochs: 1, batchSize: run.batchSize ?? 4, maxTokens: run.maxTokens ?? DEFAULT_RENDER.maxTokens ?? 512,
    hasTokenMasks: req.what.includes('token_masks'), hasLayerMask: forms !== null, allChat, lora,
  };
  writeFileSync(at(EXPORT_FILES.trl), trlScript(s));
  writeFileSync(at(EXPORT_FILES.axolotl), axolotlYaml(s, forms));
  writeFileSync(at(EXPORT_FILES.llamafactory), llamaFactoryYaml(s, forms));
  writeFileSync(at(EXPORT_FILES.llamafactoryData), JSON.stringify(llamaFactoryDatasetInfo(EXPORT_FILES.subsetMessages, allChat), null, 2) + '\n');
  // train_hf.py: fixed text; what it trains on and how is in winnow_train.json
  const hyper = hfHyper(runCfg, ids.length, { maxTokens: s.maxTokens });
  const hfConfig = winnowTrainJson({
    model: { path: model.path, architecture: model.architecture, padId: tok ? tok.padId ?? tok.eosId ?? 0 : null },
    tokenizerId: tok?.id ?? '', tokenMasks: req.what.includes('token_masks') ? EXPORT_FILES.tokenMasks : null, tokenPolicy: tokenPolicySpec,
    layerMask: req.what.includes('layer_mask') ? EXPORT_FILES.layerMask : null, paramMask: req.what.includes('param_mask') ? PARAM_MASK_FILES.tensors : null,
    lora: lora ? (({ modules: _modules, ...block }) => block)(lora) : null, trainRunId: req.trainRunId ?? null, hyper,
  });
  writeFileSync(at(EXPORT_FILES.hf), TRAIN_HF_PY);
  writeFileSync(at(EXPORT_FILES.hfConfig), JSON.stringify(hfConfig, null, 2) + '\n');
  writeFileSync(at(EXPORT_FILES.accelerateFsdp), accelerateFsdpYaml());
  writeFileSync(at(EXPORT_FILES.accelerateDeepspeed), accelerateDeepspeedYaml());
  writeFileSync(at(EXPORT_FILES.dsZero2), JSON.stringify(dsZero2Json(), null, 2) + '\n');
  artifacts.configs = {
    trl: EXPORT_FILES.trl, hf: EXPORT_FILES.hf, hfConfig: EXPORT_FILES.hfConfig, accelerate: [EXPORT_FILES.accelerateFsdp, EXPORT_FILES.accelerateDeepspeed, EXPORT_FILES.dsZero2],
    axolotl: EXPORT_FILES.axolotl, llamafactory: EXPORT_FILES.llamafactory, settings: s, hyper,
  };
  described.push(
    { file: EXPORT_FILES.trl, what: 'TRL SFTTrainer script: trains on token_masks.jsonl labels with only layer_mask.json tensors unfrozen' },
    { file: EXPORT_FILES.hf, what: 'plain transformers + PEFT trainer (no TRL): the token and layer masks and the run\'s hyper-parameters, under python, torchrun or accelerate' },
    { file: EXPORT_FILES.hfConfig, what: `what train_hf.py trains and how: model, mask files, token policy, LoRA block, hyper-parameters (${runCfg ? `of training run ${req.trainRunId}` : 'Winnow defaults'})` },
    { file: EXPORT_FILES.accelerateFsdp, what: 'accelerate config for train_hf.py with FSDP' },
    { file: EXPORT_FILES.accelerateDeepspeed, what: 'accelerate config for train_hf.py with DeepSpeed ZeRO-2 (ds_zero2.json)' },
    { file: EXPORT_FILES.dsZero2, what: 'DeepSpeed ZeRO-2 settings; batch, accumulation and clipping are filled in by train_hf.py' },
    { file: EXPORT_FILES.axolotl, what: 'Axolotl config (pre-tokenized dataset + unfrozen_parameters)' },
    { file: EXPORT_FILES.llamafactory, what: 'LLaMA-Factory config (freeze tuning) with dataset_info.json' },
    { file: EXPORT_FILES.llamafactoryData, what: 'LLaMA-Factory dataset registry: subset.messages.jsonl as `winnow_subset`' },
  );
  if (lora) {
    notes.push(
      `Training run ${req.trainRunId} trained LoRA adapters (r ${lora.r}, alpha ${lora.lora_alpha}${lora.use_rslora ? ', rsLoRA' : ''}, dropout ${lora.lora_dropout}, ` +
        `${lora.modules.length} module(s): ${lora.target_modules.join(', ')}${lora.layers_to_transform ? ` in blocks ${lora.layers_to_transform.join(', ')}` : ''}): ` +
        'train_trl.py, axolotl.yaml and llamafactory.yaml train the same adapter, not the layer mask (llamafactory.yaml names the exact modules, as LLaMA-Factory has no per-layer option).',
    );
  }
  notes.push(...hfNotes(runCfg, { subsetId: req.subsetId, datasetId: req.datasetId, hasLayerMask: req.what.includes('layer_mask'), hasParamMask: req.what.includes('param_mask'), hasLora: Boolean(runCfg?.lora) }));
}

/** scores.csv / scores.parquet (one column per signal) and token_scores.jsonl (aligned to each run's render). */
export async function writeScores(b: Bundle): Promise<void> {
  const { db, ids, at, check, tick, artifacts, described } = b;
  const modelId = b.req.modelId ?? null;
  const cols = listSignalColumns(db);
  const out = createWriteStream(at(EXPORT_FILES.scores));
  await write(out, ['example_id', 'dataset_id', 'row_index', ...cols].join(',') + '\n');
  const get = exampleSignalRowReader(db, cols);
  const table: Array<Record<string, unknown>> = [];
  for (const id of ids) {
    check();
    const r = get(id);
    table.push(r);
    await write(out, [r.id, r.dataset_id, r.row_index, ...cols.map((c) => r[c])].map(csvCell).join(',') + '\n');
    tick('scores');
  }
  await end(out);
  writeParquet(at(EXPORT_FILES.scoresParquet), [
    { name: 'example_id', values: table.map((r) => r.id), type: 'INT32' },
    { name: 'dataset_id', values: table.map((r) => r.dataset_id), type: 'INT32' },
    { name: 'row_index', values: table.map((r) => r.row_index), type: 'INT32' },
    ...cols.map((c) => ({ name: c, values: table.map((r) => r[c] ?? null), type: 'DOUBLE' as const })),
  ]);
  // token signals: per example, each model's latest run's values of each signal (the export's model only, when it
  // names one); one line per example and run, with the input_ids of the render that run scored (its render key), so
  // every array is aligned to the tokens it was computed on
  const tokenSignals = latestTokenSignalsReader(db);
  const ts = createWriteStream(at(EXPORT_FILES.tokenScores));
  const tokenCols = new Set<string>();
  const keys = new Map<number, RenderKey>();
  let tsRows = 0;
  let unbound = 0;
  for (const id of ids) {
    check();
    const rows = tokenSignals(id, modelId);
    const byRun = new Map<number, typeof rows>();
    for (const r of rows) byRun.set(r.run, [...(byRun.get(r.run) ?? []), r]);
    for (const [run, list] of byRun) {
      const key = list[0]!.key;
      const render = key === null ? null : getRender(db, id, key);
      if (key !== null && !keys.has(key)) keys.set(key, getRenderKey(db, key));
      if (!render) unbound++;
      const line: Record<string, unknown> = { example_id: id, run_id: run, render_key: key, input_ids: render ? Array.from(render.tokenIds) : null };
      for (const r of list) {
        tokenCols.add(r.signal);
        line[r.signal] = Array.from(blobToFloat32(r.v), (v) => (Number.isFinite(v) ? v : null));
      }
      await write(ts, JSON.stringify(line) + '\n');
      tsRows++;
    }
  }
  await end(ts);
  artifacts.scores = { file: EXPORT_FILES.scores, parquet: EXPORT_FILES.scoresParquet, rows: ids.length, columns: cols };
  artifacts.tokenScores = {
    file: EXPORT_FILES.tokenScores, rows: tsRows, signals: [...tokenCols].sort(),
    form: 'one line per example and score run (each model\'s latest run of each signal): input_ids of the render the run scored, one value per token of it (null where the position has no prediction)',
    renderKeys: Object.fromEntries([...keys].map(([k, v]) => [String(k), v])),
    ...(unbound ? { withoutInputIds: unbound } : {}),
  };
  described.push(
    { file: EXPORT_FILES.scores, what: 'one row per example, one column per signal (empty = not scored)' },
    { file: EXPORT_FILES.scoresParquet, what: 'the same scores as Parquet' },
    { file: EXPORT_FILES.tokenScores, what: 'token signals: per example and score run, the input_ids that run scored and one array per signal, one value per token' },
  );
}

/**
 * A LoRA run's settings as PEFT's LoraConfig fields for winnow_train.json, from the adapter_config.json the run wrote
 * (its exact target modules and blocks, presets and layer spec resolved).
 */
function runLoraBlock(db: Db, runId: number): LoraExport {
  const out = trainRunRow(db, runId)?.out_dir;
  const file = out ? join(dirname(out), 'adapter', ADAPTER_CONFIG) : null;
  if (!file || !existsSync(file)) throw new WinnowError('conflict', `training run ${runId} trains LoRA adapters and has not written them yet: export its configs once it is done`);
  const c = JSON.parse(readFileSync(file, 'utf8')) as AdapterConfigJson;
  // the adapted modules, from the tensor names base_model.model.<key>.lora_A.weight
  const names = [...readSafetensorsHeader(join(dirname(file), ADAPTER_WEIGHTS)).entries.keys()];
  const modules = names.filter((n) => n.endsWith('.lora_A.weight')).map((n) => n.slice('base_model.model.'.length, -'.lora_A.weight'.length)).sort();
  return {
    r: c.r, lora_alpha: c.lora_alpha, lora_dropout: c.lora_dropout, target_modules: c.target_modules, bias: 'none', use_rslora: c.use_rslora,
    ...(c.layers_to_transform ? { layers_to_transform: c.layers_to_transform, layers_pattern: c.layers_pattern ?? undefined } : {}),
    modules,
  };
}
