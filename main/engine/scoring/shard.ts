/**
 * Sharded scoring (`winnow score --shard I/N`, `winnow merge`): one long scoring job split across processes or
 * machines, and the pieces put back together as one run.
 *
 * Which rows a shard scores depends only on each row's content and position in the file: sha256 of the example's
 * normalized-content hash and its file index, taken mod N. Every machine computes the same split from the same file,
 * with no coordinator and no shared state, and a shard that died can be re-run alone.
 *
 * Each shard writes, beside its --out JSONL, a result file (OUT.shard.json) that says what run it belongs to (input
 * file hash, model hashes, render key, signals, options), which rows it holds (file index, content hash, a hash of the
 * tokens it scored) and the sha256 of its files, and a values file (OUT.shard.values.jsonl) with every value the run
 * stored for those rows, as the stored bytes (base64 of the Float32 blobs, doubles as JSON numbers, which round-trip
 * exactly). `winnow merge` checks the shards against each other and writes them as one score run, row for row what
 * an unsharded run into that project stores.
 *
 * Signals whose result is a sum over examples (fim, layer_grad_norm: per-tensor scores over examples drawn from the
 * whole file) are merged from partial sums: fim's draw is made over the whole file in every shard and each shard
 * differentiates the drawn examples among its own rows; it writes its Σg² per parameter, Σ‖g‖ per tensor and block
 * and its example count, as float64, into a sums file (OUT.shard.sums.bin) under the manifest, and merge adds them
 * in float64 and finishes the scores with the unsharded pass's formulas (mergeLayerSums).
 *
 * grad_sim_base compares each example with the mean of the target set's gradients, and that mean must be complete before
 * the first comparison, so a shard cannot contribute a partial target sum and still write its examples' values. With
 * --shard the target set is a file (--target-data) that every shard adds up whole, the same sum in the same order:
 * each row's grad_sim_base is then the unsharded value, bit for bit. The shards' target sums go in the sums file and merge
 * checks they are equal.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { getDataset, getRender, getRenderKey, listSignalColumns, recordColumnForRun, writeExampleSignals, type Db, type RenderKey } from '../db';
import { findModelRow } from '../db/models';
import { insertMergedScoreRun, layerScoreInserter, scoreRunForShard, tokenScoreInserter } from '../db/score-runs';
import { datasetRowsInOrder, runValuesReader } from '../db/shards';
import { exampleVectorInserter } from '../db/vectors';
import { messagesReader } from '../data/examples';
import { normHash } from '../data/normalize';
import { WinnowError } from '../util/errors';
import { DUPLICATE_COLUMNS } from '../data/duplicates';
import { PARTIAL_SUM_KEYS } from './gradient-pass';
import { BLOCK_ROW_KIND, blockRowName } from './layer-rows';
import { PassState } from '../db/pass-state';

export const SHARD_FORMAT = 'winnow-score-shard';
export const SHARD_VERSION = 1;


export interface ShardSpec {
  index: number;
  count: number;
}

/** `I/N` with 0 ≤ I < N. */
export function parseShardSpec(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new WinnowError('bad_input', `--shard must be I/N (e.g. 0/4), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 1_000_000) throw new WinnowError('bad_input', `--shard ${text}: N must be between 1 and 1000000`);
  if (index >= count) throw new WinnowError('bad_input', `--shard ${text}: I runs from 0 to N−1 (${count - 1})`);
  return { index, count };
}

/** grad_sim_base's target set with --shard: a file every shard reads whole (a subset would name a project's rows). */
export function assertShardable(signals: string[], target: { subset?: string; data?: string }): void {
  // LESS's grad_sim sums over the warm-up run's checkpoints, each with its own target mean: not split yet
  if (signals.includes('grad_sim')) throw new WinnowError('bad_input', '--shard does not split grad_sim (LESS) yet: run it unsharded, or shard grad_sim_base (the base model\'s gradients) with --target-data FILE');
  if (!signals.includes('grad_sim_base')) return;
  if (target.subset !== undefined) throw new WinnowError('bad_input', '--shard with grad_sim_base takes its target set as --target-data FILE (every shard reads it whole), not --target-subset');
  if (target.data === undefined) throw new WinnowError('bad_input', 'grad_sim_base needs a target set: with --shard, --target-data FILE');
}

/** The shard (0…count−1) a row belongs to: sha256("contentHash:fileIndex"), its first 48 bits mod count. */
export function shardOfRow(contentHash: string, fileIndex: number, count: number): number {
  const h = createHash('sha256').update(`${contentHash}:${fileIndex}`).digest();
  return h.readUIntBE(0, 6) % count;
}

export interface ShardRow {
  exampleId: number;
  index: number;
  contentHash: string;
}

/**
 * Every row of a dataset with its content hash (the normalized-content hash the duplicate pass keys on; imports
 * store none, so it is made here from the row's messages where missing), in file order.
 */
export function datasetRows(db: Db, datasetId: number): ShardRow[] {
  const messagesOf = messagesReader(db);
  return datasetRowsInOrder(db, datasetId).map((r) => ({ exampleId: r.id, index: r.rowIndex, contentHash: r.h || normHash(messagesOf({ datasetId, ...r })) }));
}

/** A dataset's rows in one shard, in file order. */
export function rowsOfShard(db: Db, datasetId: number, shard: ShardSpec): ShardRow[] {
  return datasetRows(db, datasetId).filter((r) => shardOfRow(r.contentHash, r.index, shard.count) === shard.index);
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function tokensHash(ids: Int32Array): string {
  return createHash('sha256').update(Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex');
}

export interface ShardModel {
  path: string;
  hash: string;
}

export interface ShardResult {
  format: typeof SHARD_FORMAT;
  version: number;
  shard: ShardSpec;
  input: { path: string; sha256: string; rows: number; format: string; mapping: unknown };
  models: { model: ShardModel; ref?: ShardModel; history?: ShardModel };
  tokenizer: string;
  renderKey: RenderKey;
  signals: string[];
  /** the scoring options (scoring.start's input without the project's ids) */
  options: Record<string, unknown>;
  /** the run's forward-loop count over this shard (score_runs.total) */
  total: number;
  /** the shard's rows: file index, content hash, sha256 of the token ids it scored (null: not renderable) */
  rows: Array<{ index: number; contentHash: string; tokens: string | null }>;
  /** grad_sim_base's target file (every shard reads it whole) */
  target?: { path: string; sha256: string; rows: number; format: string };
  /** the layout of the sums file (role 'sums'): float64 little-endian, in this order */
  sums?: ShardSums;
  files: Array<{ role: 'values' | 'scores' | 'sums'; name: string; sha256: string; bytes: number }>;
}

/**
 * What a shard's sums file holds, in order: with `layer`, Σ‖g‖ per tensor, Σ‖g_block‖ per block, then Σg² of each
 * tensor (its `size` values); with `targetDim`, grad_sim_base's target sum. All float64.
 */
export interface ShardSums {
  layer?: { count: number; tensors: Array<{ name: string; size: number; block: number | null; kind: string }>; blocks: number[] };
  targetDim?: number;
}

/** A result file with the folder it was read from (its files are named relative to it). */
export interface LoadedShard extends ShardResult {
  file: string;
}

function modelOf(db: Db, id: number | null | undefined): ShardModel | undefined {
  if (id === null || id === undefined) return undefined;
  const r = findModelRow(db, id);
  if (!r) throw new WinnowError('not_found', `model ${id} not found`);
  return { path: r.path, hash: r.hash };
}

/** score run parameters that are ids or paths of the project the run is in (not part of what the run computed) */
const PROJECT_PARAMS = ['modelId', 'refModelId', 'historyModelId', 'datasetId', 'subsetId', 'targetSubsetId', 'onlySubsetId', 'projectModelPath', 'signals'];

/**
 * Write a finished shard run's result file and values file beside `scoresOut` (the --out JSONL, already written).
 * Returns the result file's path.
 */
export function writeShardResult(db: Db, opts: {
  runId: number; datasetId: number; shard: ShardSpec; rows: ShardRow[]; scoresOut: string; targetDatasetId?: number;
}): string {
  const run = scoreRunForShard(db, opts.runId);
  if (run.render_key_id === null) throw new WinnowError('internal', `score run ${opts.runId} has no render key`);
  const params = JSON.parse(run.params_json) as Record<string, unknown> & { refModelId?: number; historyModelId?: number };
  // the options, without what names things in this (temporary) project: the merge puts its own ids there
  const options = Object.fromEntries(Object.entries(params).filter(([k]) => !PROJECT_PARAMS.includes(k)));
  const ds = getDataset(db, opts.datasetId);
  const key = getRenderKey(db, run.render_key_id);
  const valuesPath = `${opts.scoresOut}.shard.values.jsonl`;
  const valuesOf = runValuesReader(db, opts.runId);
  const rows: ShardResult['rows'] = [];
  const fd = openSync(valuesPath, 'w');
  try {
    for (const r of opts.rows) {
      const render = getRender(db, r.exampleId, run.render_key_id);
      rows.push({ index: r.index, contentHash: r.contentHash, tokens: render ? tokensHash(render.tokenIds) : null });
      const stored = valuesOf(r.exampleId);
      const example: Record<string, number | null> = {};
      for (const x of stored.example) example[x.signal] = x.value;
      const token: Record<string, string> = {};
      for (const x of stored.token) token[x.signal] = x.v.toString('base64');
      const vector: Record<string, string> = {};
      for (const x of stored.vector) vector[x.signal] = x.vector.toString('base64');
      writeSync(fd, JSON.stringify({ index: r.index, example, token, vector }) + '\n');
    }
  } finally {
    closeSync(fd);
  }
  const sums = writeSums(db, opts.runId, `${opts.scoresOut}.shard.sums.bin`);
  const targetDs = opts.targetDatasetId === undefined ? undefined : getDataset(db, opts.targetDatasetId);
  const target: ShardResult['target'] = targetDs && { path: targetDs.sourcePath, sha256: targetDs.hash, rows: targetDs.rowCount, format: targetDs.format };
  const file = (role: 'values' | 'scores' | 'sums', path: string) => ({ role, name: basename(path), sha256: sha256File(path), bytes: statSync(path).size });
  const result: ShardResult = {
    format: SHARD_FORMAT,
    version: SHARD_VERSION,
    shard: opts.shard,
    input: { path: ds.sourcePath, sha256: ds.hash, rows: ds.rowCount, format: ds.format, mapping: ds.mapping },
    models: { model: modelOf(db, run.model_id)!, ref: modelOf(db, params.refModelId), history: modelOf(db, params.historyModelId) },
    tokenizer: key.tokenizerId,
    renderKey: { tokenizerId: key.tokenizerId, templateHash: key.templateHash, labelPolicy: key.labelPolicy, maxTokens: key.maxTokens, renderer: key.renderer },
    signals: JSON.parse(run.signals_json) as string[],
    options,
    total: run.total ?? 0,
    rows,
    ...(target ? { target } : {}),
    ...(sums ? { sums } : {}),
    files: [file('scores', opts.scoresOut), file('values', valuesPath), ...(sums ? [file('sums', `${opts.scoresOut}.shard.sums.bin`)] : [])],
  };
  const out = `${opts.scoresOut}.shard.json`;
  writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
  return out;
}

/** The partial sums the gradient pass kept for this shard run, written to `path`; undefined when it kept none. */
function writeSums(db: Db, runId: number, path: string): ShardSums | undefined {
  const st = new PassState(db, runId, 'gradients');
  const count = st.json<number>(PARTIAL_SUM_KEYS.count);
  const targetSum = st.float64(PARTIAL_SUM_KEYS.targetSum);
  if (count === undefined && !targetSum) return undefined;
  const sums: ShardSums = {};
  const fd = openSync(path, 'w');
  const put = (a: Float64Array) => writeSync(fd, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  try {
    if (count !== undefined) {
      const tensors = st.json<NonNullable<ShardSums['layer']>['tensors']>(PARTIAL_SUM_KEYS.names)!;
      sums.layer = { count, tensors, blocks: st.json<number[]>(PARTIAL_SUM_KEYS.blocks)! };
      put(st.float64(PARTIAL_SUM_KEYS.normSum)!);
      put(st.float64(PARTIAL_SUM_KEYS.blockNormSum)!);
      // one tensor at a time: a large model's Σg² is more than one buffer holds
      for (const t of tensors) put(st.float64(`${PARTIAL_SUM_KEYS.sq}${t.name}`)!);
    }
    if (targetSum) {
      sums.targetDim = targetSum.length;
      put(targetSum);
    }
  } finally {
    closeSync(fd);
  }
  return sums;
}

/** Reads float64 arrays one after another from a shard's sums file. */
class SumsReader {
  private fd: number;
  private at = 0;
  constructor(private readonly s: LoadedShard) {
    const f = s.files.find((x) => x.role === 'sums');
    if (!f) throw new WinnowError('bad_input', `${s.file}: its manifest names no sums file`);
    this.fd = openSync(join(dirname(s.file), f.name), 'r');
  }

  next(n: number): Float64Array {
    const buf = Buffer.alloc(8 * n);
    const got = n ? readSync(this.fd, buf, 0, buf.length, this.at) : 0;
    if (got !== buf.length) throw new WinnowError('bad_input', `${this.s.file}: its sums file ends at byte ${this.at + got}, its layout needs ${this.at + buf.length}`);
    this.at += got;
    return new Float64Array(buf.buffer, buf.byteOffset, n);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** One merged layer score row, as the gradient pass inserts it into layer_scores. */
export interface MergedLayerScore {
  tensorName: string;
  block: number | null;
  kind: string;
  signal: 'fim' | 'layer_grad_norm';
  value: number;
}

/**
 * fim and layer_grad_norm of the whole run from the shards' partial sums: Σg², Σ‖g‖ and the example counts added in
 * float64, then the unsharded pass's formulas and ops (passes/gradients.ts LayerAccumulator.scores), over N = the total count:
 * fim = ‖Σg²/N‖_F per tensor, layer_grad_norm = Σ‖g‖/N per tensor and per block. The per-tensor Σg² are read and
 * added one tensor at a time.
 */
export function mergeLayerSums(shards: LoadedShard[], signals: string[]): MergedLayerScore[] {
  const withLayer = shards.filter((s) => s.sums?.layer);
  if (!signals.some((x) => x === 'fim' || x === 'layer_grad_norm')) return [];
  if (withLayer.length !== shards.length) {
    const lacking = shards.find((s) => !s.sums?.layer)!;
    throw new WinnowError('bad_input', `${label(lacking)} has no fim / layer_grad_norm sums (field "sums.layer")`);
  }
  const first = withLayer[0]!.sums!.layer!;
  for (const s of withLayer.slice(1)) {
    const l = s.sums!.layer!;
    if (JSON.stringify(l.tensors) !== JSON.stringify(first.tensors) || JSON.stringify(l.blocks) !== JSON.stringify(first.blocks)) {
      throw new WinnowError('bad_input', `${label(s)}: its sums cover other tensors or blocks than ${label(withLayer[0]!)}'s`);
    }
  }
  const T = first.tensors.length;
  const B = first.blocks.length;
  const readers = shards.map((s) => new SumsReader(s));
  try {
    const count = shards.reduce((a, s) => a + s.sums!.layer!.count, 0);
    const N = Math.max(1, count);
    const normSum = new Float64Array(T);
    const blockNormSum = new Float64Array(B);
    for (const r of readers) {
      const a = r.next(T);
      for (let k = 0; k < T; k++) normSum[k] += a[k]!;
      const b = r.next(B);
      for (let k = 0; k < B; k++) blockNormSum[k] += b[k]!;
    }
    const out: MergedLayerScore[] = [];
    first.tensors.forEach((t, k) => {
      const sq = new Float64Array(t.size);
      for (const r of readers) {
        const a = r.next(t.size);
        for (let i = 0; i < t.size; i++) sq[i] += a[i]!;
      }
      // ‖Σg²/N‖_F exactly as the pass finishes it (float32 ops on the backend), from the float64 sum rounded once to
      // float32: one shard's merge is then the unsharded value bit for bit, and N shards differ from it only by the
      // order their float32 Σg² were added in
      const fro = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.div(tf.tensor1d(Float32Array.from(sq), 'float32'), N)))));
      const value = (fro.dataSync() as Float32Array)[0]!;
      fro.dispose();
      if (signals.includes('fim')) out.push({ tensorName: t.name, block: t.block, kind: t.kind, signal: 'fim', value });
      if (signals.includes('layer_grad_norm')) out.push({ tensorName: t.name, block: t.block, kind: t.kind, signal: 'layer_grad_norm', value: normSum[k]! / N });
    });
    if (signals.includes('layer_grad_norm')) {
      first.blocks.forEach((b, k) => out.push({ tensorName: blockRowName(b), block: b, kind: BLOCK_ROW_KIND, signal: 'layer_grad_norm', value: blockNormSum[k]! / N }));
    }
    // grad_sim_base: every shard compared with one target sum (each read the whole --target-data file)
    if (shards[0]!.sums?.targetDim) readTargetSums(shards, readers);
    return out;
  } finally {
    for (const r of readers) r.close();
  }
}

/** Check every shard compared its rows with the same grad_sim_base target sum (the readers stand after any layer sums). */
function readTargetSums(shards: LoadedShard[], readers: SumsReader[]): void {
  const sums = shards.map((s, i) => {
    if (!s.sums?.targetDim) throw new WinnowError('bad_input', `${label(s)} has no grad_sim_base target sum (field "sums.targetDim")`);
    return Buffer.from(readers[i]!.next(s.sums.targetDim).buffer);
  });
  sums.forEach((b, i) => {
    if (!b.equals(sums[0]!)) throw new WinnowError('bad_input', `${label(shards[i]!)} compared its rows with another grad_sim_base target sum than ${label(shards[0]!)} (another --target-data file or --grad-dim?)`);
  });
}

/** grad_sim_base's target sums when no layer sums come before them in the files. */
export function checkTargetSums(shards: LoadedShard[]): void {
  if (!shards[0]!.signals.includes('grad_sim_base') || shards.some((s) => s.sums?.layer)) return;
  const readers = shards.map((s) => new SumsReader(s));
  try {
    readTargetSums(shards, readers);
  } finally {
    for (const r of readers) r.close();
  }
}

/** Read one result file and check its files against its manifest. */
export function readShardResult(path: string): LoadedShard {
  const file = resolve(path);
  let r: ShardResult;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as ShardResult;
  } catch (err) {
    throw new WinnowError('bad_input', `${path}: not a shard result file (${(err as Error).message})`);
  }
  if (r?.format !== SHARD_FORMAT) throw new WinnowError('bad_input', `${path}: not a shard result file (field "format" is not "${SHARD_FORMAT}"; give the OUT.shard.json files)`);
  if (r.version !== SHARD_VERSION) throw new WinnowError('bad_input', `${path}: shard format version ${String(r.version)}, this Winnow reads ${SHARD_VERSION}`);
  for (const f of ['shard', 'input', 'models', 'renderKey', 'signals', 'options', 'rows', 'files'] as const) {
    if (r[f] === undefined || r[f] === null) throw new WinnowError('bad_input', `${path}: field "${f}" is missing`);
  }
  for (const f of r.files) {
    const p = join(dirname(file), f.name);
    if (!existsSync(p)) throw new WinnowError('not_found', `${path}: its ${f.role} file ${f.name} is missing (looked in ${dirname(file)})`);
    const got = sha256File(p);
    if (got !== f.sha256) throw new WinnowError('bad_input', `${path}: ${f.name} has sha256 ${got}, the manifest says ${f.sha256} (changed or cut short since the shard wrote it)`);
  }
  return { ...r, file };
}

/** What checkShardSet needs of a shard of any command (score, generate, eval): which shard, its file, its rows. */
export interface ShardLike {
  shard: ShardSpec;
  file: string;
  input: { rows: number };
  rows: Array<{ index: number; contentHash: string }>;
}

export const label = (s: ShardLike) => `shard ${s.shard.index}/${s.shard.count} (${s.file})`;

/** What must be equal across the shards of one run, each with the words that name it. */
const IDENTITY: Array<[string, (s: ShardResult) => unknown]> = [
  ['shard count N', (s) => s.shard.count],
  ['input file hash', (s) => s.input.sha256],
  ['input rows', (s) => s.input.rows],
  ['input format and mapping', (s) => [s.input.format, s.input.mapping]],
  ['model hash', (s) => s.models.model.hash],
  ['reference model hash', (s) => s.models.ref?.hash ?? null],
  ['history model hash', (s) => s.models.history?.hash ?? null],
  ['tokenizer', (s) => s.tokenizer],
  ['render options', (s) => s.renderKey],
  ['signal set', (s) => [...s.signals].sort()],
  ['scoring options', (s) => s.options],
  ['grad_sim_base target file hash', (s) => s.target?.sha256 ?? null],
];

/**
 * Check that the shards belong to one run and cover its rows exactly once. Refuses, naming the shard, a difference
 * in what the run was, a missing or duplicated shard index, and a row missing, held twice or held by the wrong shard.
 */
export function checkShardSet<S extends ShardLike>(
  shards: S[], identity: Array<[string, (s: S) => unknown]> = IDENTITY as unknown as Array<[string, (s: S) => unknown]>, command = 'score',
): { count: number; rows: number } {
  if (!shards.length) throw new WinnowError('bad_input', 'give the shard result files (OUT.shard.json) to merge');
  const first = shards[0]!;
  for (const s of shards.slice(1)) {
    for (const [what, get] of identity) {
      const a = JSON.stringify(get(first));
      const b = JSON.stringify(get(s));
      if (a !== b) throw new WinnowError('bad_input', `${label(s)} is not from the same run as ${label(first)}: ${what} ${b} ≠ ${a}`);
    }
  }
  const count = first.shard.count;
  const byIndex = new Map<number, S[]>();
  for (const s of shards) byIndex.set(s.shard.index, [...(byIndex.get(s.shard.index) ?? []), s]);
  const dup = [...byIndex.entries()].filter(([, l]) => l.length > 1).sort((a, b) => a[0] - b[0]);
  if (dup.length) {
    throw new WinnowError('bad_input', dup.map(([i, l]) => `shard ${i}/${count} is given ${l.length} times (${l.map((s) => s.file).join(', ')})`).join('; ') + ': give each shard once');
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) {
    throw new WinnowError('bad_input', `${missing.map((i) => `shard ${i}/${count}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: run ${missing.length > 1 ? 'them' : 'it'} (winnow ${command} … --shard ${missing[0]}/${count}) and merge again`);
  }
  const seen = new Set<number>();
  for (const s of shards) {
    for (const r of s.rows) {
      if (shardOfRow(r.contentHash, r.index, count) !== s.shard.index) {
        throw new WinnowError('bad_input', `${label(s)} holds row ${r.index}, which belongs to shard ${shardOfRow(r.contentHash, r.index, count)}/${count}`);
      }
      if (seen.has(r.index)) throw new WinnowError('bad_input', `row ${r.index} is held by more than one shard (again in ${label(s)})`);
      seen.add(r.index);
    }
  }
  if (seen.size !== first.input.rows) {
    const lost = Array.from({ length: first.input.rows }, (_, i) => i).filter((i) => !seen.has(i));
    throw new WinnowError('bad_input', `the shards hold ${seen.size} of the file's ${first.input.rows} rows (missing: ${lost.slice(0, 10).join(', ')}${lost.length > 10 ? ', …' : ''})`);
  }
  return { count, rows: seen.size };
}

interface ValuesLine {
  index: number;
  example: Record<string, number | null>;
  token: Record<string, string>;
  vector: Record<string, string>;
}

/**
 * A shard's values file, one row at a time (read in 1 MiB pieces: a shard of a million rows with token arrays is
 * gigabytes, more than one string may hold). Synchronous, so the merge's transaction holds no await.
 */
function* readValues(s: LoadedShard): Generator<ValuesLine> {
  const f = s.files.find((x) => x.role === 'values');
  if (!f) throw new WinnowError('bad_input', `${s.file}: its manifest names no values file`);
  const path = join(dirname(s.file), f.name);
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    let rest = Buffer.alloc(0);
    let line = 0;
    const parse = (bytes: Buffer): ValuesLine | null => {
      line++;
      const text = bytes.toString('utf8');
      if (!text.trim()) return null;
      try {
        return JSON.parse(text) as ValuesLine;
      } catch (err) {
        throw new WinnowError('bad_input', `${path} line ${line}: ${(err as Error).message}`);
      }
    };
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      let buf = Buffer.concat([rest, chunk.subarray(0, n)]);
      for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
        const v = parse(buf.subarray(0, nl));
        if (v) yield v;
        buf = buf.subarray(nl + 1);
      }
      rest = Buffer.from(buf);
    }
    const last = rest.length ? parse(rest) : null;
    if (last) yield last;
  } finally {
    closeSync(fd);
  }
}

/**
 * Write the merged shards into `db` as ONE finished score run over `datasetId` (already imported from the same file
 * and rendered under the run's render key), in one transaction: the run row, each row's example values (history and
 * latest columns, as writeExampleSignals stores them for any run), token arrays and vectors, as the shards stored them.
 * Each row's tokens must be the ones its shard scored. Returns the new run id.
 */
export function importMergedRun(db: Db, shards: LoadedShard[], opts: {
  datasetId: number; modelId: number; refModelId?: number; historyModelId?: number; renderKeyId: number; params: Record<string, unknown>;
}): number {
  const first = shards[0]!;
  const here = new Map(datasetRows(db, opts.datasetId).map((r) => [r.index, r]));
  // the sums over examples, added up before anything is written
  const layers = mergeLayerSums(shards, first.signals);
  checkTargetSums(shards);
  return db.transaction(() => {
    const total = shards.reduce((a, s) => a + s.total, 0);
    const runId = insertMergedScoreRun(db, {
      modelId: opts.modelId, refModelId: opts.refModelId ?? null, datasetId: opts.datasetId, signalsJson: JSON.stringify(first.signals), paramsJson: JSON.stringify(opts.params),
      total, renderKeyId: opts.renderKeyId,
    });
    const insertToken = tokenScoreInserter(db);
    const insertVector = exampleVectorInserter(db);
    const bySignal = new Map<string, Array<[number, number | null]>>();
    shards.forEach((s) => {
      const rows = new Map(s.rows.map((r) => [r.index, r]));
      const done = new Set<number>();
      for (const v of readValues(s)) {
        const row = rows.get(v.index);
        if (!row || done.has(v.index)) throw new WinnowError('bad_input', `${label(s)}: its values file has row ${v.index}${row ? ' twice' : ', which the result file does not list'}`);
        done.add(v.index);
        const exampleId = here.get(v.index)?.exampleId;
        if (exampleId === undefined) throw new WinnowError('bad_input', `${label(s)}: row ${v.index} is not in the imported file`);
        if (here.get(v.index)!.contentHash !== row.contentHash) throw new WinnowError('bad_input', `${label(s)}: row ${v.index} has other content in the imported file than the shard scored`);
        const render = getRender(db, exampleId, opts.renderKeyId);
        const tokens = render ? tokensHash(render.tokenIds) : null;
        if (tokens !== row.tokens) throw new WinnowError('bad_input', `${label(s)}: row ${v.index} renders to other tokens here than the shard scored (another tokenizer or chat template?)`);
        for (const [sig, x] of Object.entries(v.example)) {
          // duplicate columns name example ids (near_dup: the cluster's smallest id) of the shard's own project:
          // taken below from this project's import instead, as a run here records them
          if (DUPLICATE_COLUMNS.includes(sig)) continue;
          if (!bySignal.has(sig)) bySignal.set(sig, []);
          bySignal.get(sig)!.push([exampleId, x]);
        }
        for (const [sig, b64] of Object.entries(v.token)) insertToken(runId, exampleId, sig, Buffer.from(b64, 'base64'));
        for (const [sig, b64] of Object.entries(v.vector)) insertVector(runId, exampleId, sig, Buffer.from(b64, 'base64'));
      }
      if (done.size !== rows.size) throw new WinnowError('bad_input', `${label(s)}: its values file has ${done.size} rows, the result file lists ${rows.size}`);
    });
    const insertLayer = layerScoreInserter(db, { replace: false });
    for (const l of layers) insertLayer(runId, l);
    // one signal at a time, in example order: the history rows and the latest-value columns an unsharded run writes
    for (const [sig, rows] of bySignal) writeExampleSignals(db, runId, [sig], rows.sort((a, b) => a[0] - b[0]).map(([id, x]) => [id, x]));
    if (first.signals.some((s) => s === 'exact_dup' || s === 'near_dup')) {
      // as recordDuplicatesForRun does for a run: the import's values, under this run
      const cols = new Set(listSignalColumns(db));
      const lacking = DUPLICATE_COLUMNS.filter((c) => !cols.has(c));
      if (lacking.length) throw new WinnowError('internal', `the imported dataset has no ${lacking.join(', ')} columns`);
      for (const c of DUPLICATE_COLUMNS) recordColumnForRun(db, runId, c, opts.datasetId);
    }
    return runId;
  })();
}
