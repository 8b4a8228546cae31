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
 * Signals whose result is a sum over examples (fim, layer_grad_norm: per-tensor scores over drawn examples) and
 * grad_sim (needs its target set in the project) are refused with --shard: their shards would not add up to the
 * unsharded run.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { getRender, getRenderKey, writeExampleSignals, type Db, type RenderKey } from '../db';
import { messagesReader } from '../data/examples';
import { normHash } from '../data/normalize';
import { WinnowError } from '../util/errors';
import { DUPLICATE_COLUMNS } from '../data/duplicates';

export const SHARD_FORMAT = 'winnow-score-shard';
export const SHARD_VERSION = 1;

/** signals a shard cannot produce on its own, with why (docs/cli.md says the same) */
export const UNSHARDABLE_SIGNALS: Record<string, string> = {
  fim: 'a per-tensor sum over examples drawn from the whole dataset',
  layer_grad_norm: 'a per-tensor sum over examples drawn from the whole dataset',
  grad_sim: "compared with the target set's mean gradient, a set that lives in the project",
};

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

export function assertShardable(signals: string[]): void {
  const bad = signals.filter((s) => s in UNSHARDABLE_SIGNALS);
  if (bad.length) {
    throw new WinnowError('bad_input', `--shard cannot score ${bad.map((s) => `${s} (${UNSHARDABLE_SIGNALS[s]})`).join(', ')}: score ${bad.length > 1 ? 'them' : 'it'} in one process`);
  }
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
  const all = db.prepare('SELECT id, row_index AS rowIndex, raw_json AS rawJson, messages_json AS messagesJson, norm_hash AS h FROM examples WHERE dataset_id = ? ORDER BY row_index')
    .all(datasetId) as Array<{ id: number; rowIndex: number; rawJson: string; messagesJson: string; h: string }>;
  return all.map((r) => ({ exampleId: r.id, index: r.rowIndex, contentHash: r.h || normHash(messagesOf({ datasetId, ...r })) }));
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
  files: Array<{ role: 'values' | 'scores'; name: string; sha256: string; bytes: number }>;
}

/** A result file with the folder it was read from (its files are named relative to it). */
export interface LoadedShard extends ShardResult {
  file: string;
}

function modelOf(db: Db, id: number | null | undefined): ShardModel | undefined {
  if (id === null || id === undefined) return undefined;
  const r = db.prepare('SELECT path, hash FROM models WHERE id = ?').get(id) as ShardModel | undefined;
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
  runId: number; datasetId: number; shard: ShardSpec; rows: ShardRow[]; scoresOut: string;
}): string {
  const run = db.prepare('SELECT model_id, signals_json, params_json, render_key_id, total FROM score_runs WHERE id = ?').get(opts.runId) as
    { model_id: number; signals_json: string; params_json: string; render_key_id: number | null; total: number | null };
  if (run.render_key_id === null) throw new WinnowError('internal', `score run ${opts.runId} has no render key`);
  const params = JSON.parse(run.params_json) as Record<string, unknown> & { refModelId?: number; historyModelId?: number };
  // the options, without what names things in this (temporary) project: the merge puts its own ids there
  const options = Object.fromEntries(Object.entries(params).filter(([k]) => !PROJECT_PARAMS.includes(k)));
  const ds = db.prepare('SELECT source_path, hash, row_count, format, mapping_json FROM datasets WHERE id = ?').get(opts.datasetId) as
    { source_path: string; hash: string; row_count: number; format: string; mapping_json: string };
  const key = getRenderKey(db, run.render_key_id);
  const valuesPath = `${opts.scoresOut}.shard.values.jsonl`;
  const exStmt = db.prepare('SELECT signal, value FROM example_scores WHERE run_id = ? AND example_id = ? ORDER BY signal');
  const tokStmt = db.prepare('SELECT signal, "values" AS v FROM token_scores WHERE run_id = ? AND example_id = ? ORDER BY signal');
  const vecStmt = db.prepare('SELECT signal, vector FROM example_vectors WHERE run_id = ? AND example_id = ? ORDER BY signal');
  const rows: ShardResult['rows'] = [];
  const fd = openSync(valuesPath, 'w');
  try {
    for (const r of opts.rows) {
      const render = getRender(db, r.exampleId, run.render_key_id);
      rows.push({ index: r.index, contentHash: r.contentHash, tokens: render ? tokensHash(render.tokenIds) : null });
      const example: Record<string, number | null> = {};
      for (const x of exStmt.all(opts.runId, r.exampleId) as Array<{ signal: string; value: number | null }>) example[x.signal] = x.value;
      const token: Record<string, string> = {};
      for (const x of tokStmt.all(opts.runId, r.exampleId) as Array<{ signal: string; v: Buffer }>) token[x.signal] = x.v.toString('base64');
      const vector: Record<string, string> = {};
      for (const x of vecStmt.all(opts.runId, r.exampleId) as Array<{ signal: string; vector: Buffer }>) vector[x.signal] = x.vector.toString('base64');
      writeSync(fd, JSON.stringify({ index: r.index, example, token, vector }) + '\n');
    }
  } finally {
    closeSync(fd);
  }
  const file = (role: 'values' | 'scores', path: string) => ({ role, name: basename(path), sha256: sha256File(path), bytes: statSync(path).size });
  const result: ShardResult = {
    format: SHARD_FORMAT,
    version: SHARD_VERSION,
    shard: opts.shard,
    input: { path: ds.source_path, sha256: ds.hash, rows: ds.row_count, format: ds.format, mapping: JSON.parse(ds.mapping_json) as unknown },
    models: { model: modelOf(db, run.model_id)!, ref: modelOf(db, params.refModelId), history: modelOf(db, params.historyModelId) },
    tokenizer: key.tokenizerId,
    renderKey: { tokenizerId: key.tokenizerId, templateHash: key.templateHash, labelPolicy: key.labelPolicy, maxTokens: key.maxTokens, renderer: key.renderer },
    signals: JSON.parse(run.signals_json) as string[],
    options,
    total: run.total ?? 0,
    rows,
    files: [file('scores', opts.scoresOut), file('values', valuesPath)],
  };
  const out = `${opts.scoresOut}.shard.json`;
  writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
  return out;
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

const label = (s: LoadedShard) => `shard ${s.shard.index}/${s.shard.count} (${s.file})`;

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
];

/**
 * Check that the shards belong to one run and cover its rows exactly once. Refuses, naming the shard, a difference
 * in what the run was, a missing or duplicated shard index, and a row missing, held twice or held by the wrong shard.
 */
export function checkShardSet(shards: LoadedShard[]): { count: number; rows: number } {
  if (!shards.length) throw new WinnowError('bad_input', 'give the shard result files (OUT.shard.json) to merge');
  const first = shards[0]!;
  for (const s of shards.slice(1)) {
    for (const [what, get] of IDENTITY) {
      const a = JSON.stringify(get(first));
      const b = JSON.stringify(get(s));
      if (a !== b) throw new WinnowError('bad_input', `${label(s)} is not from the same run as ${label(first)}: ${what} ${b} ≠ ${a}`);
    }
  }
  const count = first.shard.count;
  const byIndex = new Map<number, LoadedShard[]>();
  for (const s of shards) byIndex.set(s.shard.index, [...(byIndex.get(s.shard.index) ?? []), s]);
  const dup = [...byIndex.entries()].filter(([, l]) => l.length > 1).sort((a, b) => a[0] - b[0]);
  if (dup.length) {
    throw new WinnowError('bad_input', dup.map(([i, l]) => `shard ${i}/${count} is given ${l.length} times (${l.map((s) => s.file).join(', ')})`).join('; ') + ': give each shard once');
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) {
    throw new WinnowError('bad_input', `${missing.map((i) => `shard ${i}/${count}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: run ${missing.length > 1 ? 'them' : 'it'} (winnow score … --shard ${missing[0]}/${count}) and merge again`);
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
  return db.transaction(() => {
    const total = shards.reduce((a, s) => a + s.total, 0);
    const runId = Number(db.prepare(
      `INSERT INTO score_runs (model_id, ref_model_id, dataset_id, signals_json, params_json, status, cursor, total, created_at, finished_at, job_id, render_key_id)
       VALUES (?, ?, ?, ?, ?, 'done', ?, ?, datetime('now'), datetime('now'), NULL, ?)`,
    ).run(opts.modelId, opts.refModelId ?? null, opts.datasetId, JSON.stringify(first.signals), JSON.stringify(opts.params), total, total, opts.renderKeyId).lastInsertRowid);
    const insertToken = db.prepare('INSERT INTO token_scores (run_id, example_id, signal, "values") VALUES (?, ?, ?, ?)');
    const insertVector = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
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
        for (const [sig, b64] of Object.entries(v.token)) insertToken.run(runId, exampleId, sig, Buffer.from(b64, 'base64'));
        for (const [sig, b64] of Object.entries(v.vector)) {
          const buf = Buffer.from(b64, 'base64');
          insertVector.run(runId, exampleId, sig, buf.length / 4, buf);
        }
      }
      if (done.size !== rows.size) throw new WinnowError('bad_input', `${label(s)}: its values file has ${done.size} rows, the result file lists ${rows.size}`);
    });
    // one signal at a time, in example order: the history rows and the latest-value columns an unsharded run writes
    for (const [sig, rows] of bySignal) writeExampleSignals(db, runId, [sig], rows.sort((a, b) => a[0] - b[0]).map(([id, x]) => [id, x]));
    if (first.signals.some((s) => s === 'exact_dup' || s === 'near_dup')) {
      // as recordDuplicatesForRun does for a run: the import's values, under this run
      const cols = new Set(db.prepare(`SELECT name FROM pragma_table_info('example_signals')`).pluck().all() as string[]);
      const lacking = DUPLICATE_COLUMNS.filter((c) => !cols.has(c));
      if (lacking.length) throw new WinnowError('internal', `the imported dataset has no ${lacking.join(', ')} columns`);
      for (const c of DUPLICATE_COLUMNS) {
        db.prepare(`INSERT OR REPLACE INTO example_scores (run_id, example_id, signal, value)
          SELECT ?, e.id, ?, s."${c}" FROM examples e JOIN example_signals s ON s.example_id = e.id WHERE e.dataset_id = ?`).run(runId, c, opts.datasetId);
      }
    }
    return runId;
  })();
}
