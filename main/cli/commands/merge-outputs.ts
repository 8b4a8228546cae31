/**
 * `winnow generate --shard I/N` and `winnow eval --shard I/N` pieces, and `winnow merge` of them.
 *
 * Beside its OUT (the generations JSONL, or the eval report), a shard writes OUT.shard.json: the command, which shard,
 * the input file (path, sha256, rows), the model (path, weights hash), the options that change the output, the rows it
 * took (file index, content hash: the split `winnow score --shard` makes, scoring/shard.ts) and the sha256 of OUT. For
 * eval --metric loss it also keeps each row's Σ NLL exactly as the unsharded report adds it up (the report's row loss
 * is that sum over the row's tokens, which does not give the sum back to the last bit).
 *
 * `winnow merge OUT.shard.json… --out FILE` checks, as for score shards, that the pieces are one run and hold every row
 * once (a missing or duplicated shard refused by name), then writes what the unsharded command writes: the JSONL's
 * lines in file order, or one report whose metric is recomputed from the per-row answers (exact_match, accuracy: the
 * share of correct rows; loss: Σ NLL / Σ tokens over the rows in file order, perplexity exp(loss)).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { checkShardSet, label, parseShardSpec, type ShardSpec } from '../../engine/scoring/shard';
import { meanOf } from '../../engine/eval/metrics';
import { normHash } from '../../engine/data/normalize';
import { WinnowError } from '../../engine/util/errors';
import type { DataRow } from './generate';

export const OUTPUT_SHARD_FORMAT = { generate: 'winnow-generate-shard', eval: 'winnow-eval-shard' } as const;
export type OutputCommand = keyof typeof OUTPUT_SHARD_FORMAT;
const VERSION = 1;

export interface OutputShard {
  format: string;
  version: number;
  command: OutputCommand;
  shard: ShardSpec;
  input: { path: string; sha256: string; rows: number };
  model: { path: string; hash: string };
  /** what changes the output (sampling flags, metric, format and mapping, …) */
  options: Record<string, unknown>;
  rows: Array<{ index: number; contentHash: string }>;
  /** eval --metric loss: [file index, Σ NLL over the row's answer tokens] for each row with tokens */
  nllSums?: Array<[number, number]>;
  files: Array<{ role: 'output'; name: string; sha256: string; bytes: number }>;
}

type LoadedOutputShard = OutputShard & { file: string };

/** sha256 of a file read 1 MiB at a time (a data file may be larger than one buffer) */
function sha256OfFile(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Write OUT.shard.json for a finished generate / eval shard; returns its path. */
export function writeOutputShard(command: OutputCommand, o: {
  out: string; data: string; shard: string; allRows: DataRow[]; rows: DataRow[]; model: { path: string; hash: string };
  options: Record<string, unknown>; nllSums?: Array<[number, number]>;
}): string {
  const out = resolve(o.out);
  const result: OutputShard = {
    format: OUTPUT_SHARD_FORMAT[command],
    version: VERSION,
    command,
    shard: parseShardSpec(o.shard),
    input: { path: resolve(o.data), sha256: sha256OfFile(resolve(o.data)), rows: o.allRows.length },
    model: { path: resolve(o.model.path), hash: o.model.hash },
    // undefined options are left out, as JSON leaves them out: the same flags given or not compare equal
    options: JSON.parse(JSON.stringify(o.options)) as Record<string, unknown>,
    rows: o.rows.map((r) => ({ index: r.index, contentHash: normHash(r.norm) })),
    ...(o.nllSums ? { nllSums: o.nllSums } : {}),
    files: [{ role: 'output', name: basename(out), sha256: sha256OfFile(out), bytes: readFileSync(out).length }],
  };
  const file = `${out}.shard.json`;
  writeFileSync(file, JSON.stringify(result, null, 1) + '\n');
  return file;
}

/** The command a shard result file is from (generate / eval), or null for anything else (a score shard). */
export function outputShardCommand(path: string): OutputCommand | null {
  try {
    const f = (JSON.parse(readFileSync(path, 'utf8')) as { format?: string }).format;
    return (Object.keys(OUTPUT_SHARD_FORMAT) as OutputCommand[]).find((c) => OUTPUT_SHARD_FORMAT[c] === f) ?? null;
  } catch {
    return null; // readShardResult says what is wrong with it
  }
}

function readOutputShard(path: string): LoadedOutputShard {
  const file = resolve(path);
  const r = JSON.parse(readFileSync(file, 'utf8')) as OutputShard;
  if (!Object.values(OUTPUT_SHARD_FORMAT).includes(r.format as never)) {
    throw new WinnowError('bad_input', `${path}: not a generate or eval shard result file (field "format" is ${JSON.stringify(r.format)}); merge the shards of one command at a time`);
  }
  if (r.version !== VERSION) throw new WinnowError('bad_input', `${path}: shard format version ${String(r.version)}, this Winnow reads ${VERSION}`);
  for (const f of ['shard', 'input', 'model', 'options', 'rows', 'files'] as const) {
    if (r[f] === undefined || r[f] === null) throw new WinnowError('bad_input', `${path}: field "${f}" is missing`);
  }
  for (const f of r.files) {
    const p = join(dirname(file), f.name);
    if (!existsSync(p)) throw new WinnowError('not_found', `${path}: its ${f.role} file ${f.name} is missing (looked in ${dirname(file)})`);
    const got = sha256OfFile(p);
    if (got !== f.sha256) throw new WinnowError('bad_input', `${path}: ${f.name} has sha256 ${got}, the manifest says ${f.sha256} (changed or cut short since the shard wrote it)`);
  }
  return { ...r, file };
}

const IDENTITY: Array<[string, (s: OutputShard) => unknown]> = [
  ['command', (s) => s.command],
  ['shard count N', (s) => s.shard.count],
  ['input file hash', (s) => s.input.sha256],
  ['input rows', (s) => s.input.rows],
  ['model hash', (s) => s.model.hash],
  ['options', (s) => s.options],
];

const outputOf = (s: LoadedOutputShard) => join(dirname(s.file), s.files[0]!.name);

/** Each of a shard's output rows (generate: a JSONL line; eval: a report row) must be one of its rows, once. */
function checkRowsHeld(s: LoadedOutputShard, indices: number[], what: string, all: boolean): void {
  const mine = new Set(s.rows.map((r) => r.index));
  const seen = new Set<number>();
  for (const i of indices) {
    if (!mine.has(i)) throw new WinnowError('bad_input', `${label(s)}: its ${what} has row ${i}, which the result file does not list`);
    if (seen.has(i)) throw new WinnowError('bad_input', `${label(s)}: its ${what} has row ${i} twice`);
    seen.add(i);
  }
  if (all && seen.size !== mine.size) throw new WinnowError('bad_input', `${label(s)}: its ${what} has ${seen.size} rows, the result file lists ${mine.size} (an interrupted shard: run it again with --resume)`);
}

/** `winnow merge` of generate / eval shards into `out`: what the unsharded command writes there. */
export function mergeOutputShards(paths: string[], out: string): Record<string, unknown> {
  const shards = paths.map(readOutputShard);
  const command = shards[0]!.command;
  const { count, rows } = checkShardSet(shards, IDENTITY, command);
  const target = resolve(out);
  if (shards.some((s) => outputOf(s) === target)) throw new WinnowError('bad_input', `--out ${out} is one of the shards' own files: give another path`);
  if (command === 'generate') {
    const lines: Array<[number, string]> = [];
    for (const s of shards) {
      const mine = readFileSync(outputOf(s), 'utf8').split('\n').filter((l) => l.trim()).map((l, k): [number, string] => {
        try {
          return [(JSON.parse(l) as { index: number }).index, l];
        } catch (err) {
          throw new WinnowError('bad_input', `${outputOf(s)} line ${k + 1}: ${(err as Error).message}`);
        }
      });
      checkRowsHeld(s, mine.map(([i]) => i), 'JSONL', true);
      lines.push(...mine);
    }
    lines.sort((a, b) => a[0] - b[0]);
    writeFileSync(target, lines.map(([, l]) => l + '\n').join(''));
    return { out: target, shards: count, rows };
  }
  const reports = shards.map((s) => JSON.parse(readFileSync(outputOf(s), 'utf8')) as Record<string, unknown> & { metric: string; rows: Array<Record<string, unknown> & { index: number }> });
  const metric = reports[0]!.metric;
  const per = reports.flatMap((r, k) => {
    if (r.metric !== metric) throw new WinnowError('bad_input', `${label(shards[k]!)}: metric ${r.metric}, ${label(shards[0]!)}: ${metric}`);
    // exact_match and accuracy leave out rows without a reference: a shard's report holds some of its rows
    checkRowsHeld(shards[k]!, r.rows.map((x) => x.index), 'report', metric === 'loss');
    return r.rows;
  }).sort((a, b) => a.index - b.index);
  let report: Record<string, unknown>;
  // each built with the keys in the order eval.ts writes them, so the file is the unsharded one
  if (metric === 'exact_match') report = { metric, exact_match: meanOf(per.map((r) => r.correct as boolean)), n: per.length, rows: per };
  else if (metric === 'accuracy') {
    const labels = reports[0]!.labels;
    reports.forEach((r, k) => {
      if (JSON.stringify(r.labels) !== JSON.stringify(labels)) throw new WinnowError('bad_input', `${label(shards[k]!)}: labels ${JSON.stringify(r.labels)}, ${label(shards[0]!)}: ${JSON.stringify(labels)}`);
    });
    report = { metric, accuracy: meanOf(per.map((r) => r.correct as boolean)), n: per.length, labels, rows: per };
  } else if (metric === 'loss') {
    // Σ NLL / Σ tokens with the rows' exact sums added in file order, as eval/metrics.ts lossReport adds them
    const sums = new Map<number, number>();
    for (const s of shards) {
      if (!s.nllSums) throw new WinnowError('bad_input', `${label(s)}: field "nllSums" is missing (a loss shard keeps each row's Σ NLL)`);
      for (const [i, x] of s.nllSums) sums.set(i, x);
    }
    let sum = 0;
    let n = 0;
    for (const r of per) {
      const tokens = r.tokens as number;
      if (!tokens) continue;
      const x = sums.get(r.index);
      if (x === undefined) throw new WinnowError('bad_input', `row ${r.index}: no Σ NLL in its shard's result file`);
      sum += x;
      n += tokens;
    }
    const loss = n ? sum / n : NaN;
    report = { metric, loss, perplexity: Math.exp(loss), tokens: n, n: per.length, rows: per };
  } else {
    throw new WinnowError('bad_input', `${label(shards[0]!)}: merging eval --metric ${metric} reports is not supported`);
  }
  writeFileSync(target, JSON.stringify(report, null, 1) + '\n');
  const { rows: _rows, ...summary } = report;
  void _rows;
  return { out: target, shards: count, rows, ...summary };
}
