/**
 * `winnow generate`: each record's conversation up to its last assistant turn, rendered with the model's chat template
 * and the generation prompt, continued by the model (models/generate.ts), one JSON line per row:
 * {"index", "prompt", "completion", "tokens", "finish_reason"}. Rows are appended batch by batch, so an interrupted
 * run (Ctrl-C) keeps what it finished and `--resume` skips the indices already in OUT.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../engine/compute/backend';
import { batchRaws, parseFile } from '../engine/data/parse';
import { isTextRecord, toMessages, type Mapping, type Normalized } from '../engine/data/formats';
import type { FileFormat } from '../engine/data/readers';
import { eosIds, generate, type GenerateOptions, type Generation } from '../engine/models/generate';
import { disposeModel, loadModel, type LoadedModel } from '../engine/models/model';
import { applyAdapterFolder, assertAdapterFolder } from '../engine/models/lora';
import type { ChatMessage } from '../engine/models/types';
import { WinnowError } from '../engine/util/errors';
import { normHash } from '../engine/data/normalize';
import { parseShardSpec, shardOfRow } from '../engine/scoring/shard';
import { writeOutputShard } from './merge-outputs';

export interface DataRow {
  /** 0-based position among the file's records */
  index: number;
  /** the record as read (for labels and answers kept in other fields) */
  record: Record<string, unknown>;
  norm: Normalized;
}

/** Every record of a data file, mapped as import maps it (detected, or --format / --mapping). Malformed rows are refused. */
export async function readDataRows(file: string, opts: { format?: string; mapping?: string; skipMalformed?: boolean } = {}): Promise<DataRow[]> {
  let mapping: Mapping | undefined;
  if (opts.mapping !== undefined) {
    try {
      mapping = JSON.parse(opts.mapping) as Mapping;
    } catch (err) {
      throw new WinnowError('bad_input', `--mapping: not valid JSON (${(err as Error).message})`);
    }
  }
  const src = await parseFile(path.resolve(file), { format: opts.format as FileFormat | undefined, mapping });
  const rows: DataRow[] = [];
  for await (const batch of src.batches) {
    if (batch.bad.length && !opts.skipMalformed) {
      const b = batch.bad[0]!;
      throw new WinnowError('parse_error', `${path.basename(file)} line ${b.line}: ${b.reason} (--skip-malformed leaves such rows out)`);
    }
    for (const raw of batchRaws(batch)) {
      const record = JSON.parse(raw) as Record<string, unknown>;
      rows.push({ index: rows.length, record, norm: toMessages(record, src.mapping, rows.length + 1) });
    }
  }
  return rows;
}

/**
 * --shard I/N: the rows this process takes, chosen as `winnow score --shard` chooses them (the row's content hash and
 * file index, scoring/shard.ts), so a file splits the same way for every command. All rows without --shard.
 */
export function shardRows(rows: DataRow[], shard: string | undefined): DataRow[] {
  if (shard === undefined) return rows;
  const s = parseShardSpec(shard);
  return rows.filter((r) => shardOfRow(normHash(r.norm), r.index, s.count) === s.index);
}

/** The turns before the last assistant turn (all turns when there is none), and that turn's content (the reference). */
export function promptTurns(norm: Normalized): { turns: ChatMessage[]; reference: string | null } {
  if (isTextRecord(norm)) return { turns: [], reference: null };
  let last = -1;
  norm.forEach((m, i) => {
    if (m.role === 'assistant') last = i;
  });
  if (last < 0) return { turns: norm.map((m) => ({ role: m.role, content: m.content })), reference: null };
  return { turns: norm.slice(0, last).map((m) => ({ role: m.role, content: m.content })), reference: norm[last]!.content };
}

/** The prompt's text and ids: chat records through the chat template with the generation prompt; text records as they are. */
export function renderPrompt(m: LoadedModel, norm: Normalized): { text: string; ids: number[] } {
  if (isTextRecord(norm)) return { text: norm.text, ids: m.tokenizer.encode(norm.text, { addSpecialTokens: true }).ids };
  const { turns } = promptTurns(norm);
  if (turns.length === 0) throw new WinnowError('bad_input', 'the record has no turn before its assistant turn to use as a prompt');
  const text = m.tokenizer.applyChatTemplate(turns, { addGenerationPrompt: true });
  return { text, ids: m.tokenizer.encode(text, { addSpecialTokens: false }).ids };
}

/** generation_config.json's eos_token_id (a number or a list), when the folder has one */
export function generationConfigEos(dir: string): unknown {
  const file = path.join(dir, 'generation_config.json');
  if (!fs.existsSync(file)) return undefined;
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>).eos_token_id;
  } catch {
    return undefined;
  }
}

/**
 * --adapter: a PEFT LoRA adapter folder, checked before any work (a folder that is not one is refused, naming the
 * missing file); undefined when none was given.
 */
export function adapterFlag(adapter: unknown): string | undefined {
  if (adapter === undefined) return undefined;
  if (typeof adapter !== 'string' || !adapter) throw new WinnowError('bad_input', '--adapter needs a folder (adapter_config.json + adapter_model.safetensors)');
  const dir = path.resolve(adapter);
  assertAdapterFolder(dir);
  return dir;
}

/** The model, with a LoRA adapter merged into its weights when given (W + scale·B·A, as scoring applies it). */
export async function loadForGeneration(dir: string, quiet: boolean, adapter?: string): Promise<LoadedModel> {
  const b = await initBackend();
  if (!quiet) process.stderr.write(`backend: ${b.name} (${b.reason})\n`);
  const m = await loadModel(path.resolve(dir));
  if (adapter) {
    try {
      applyAdapterFolder(m, adapter);
    } catch (err) {
      disposeModel(m);
      throw err;
    }
    if (!quiet) process.stderr.write(`adapter: ${adapter}\n`);
  }
  return m;
}

export interface SamplingFlags {
  maxNewTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  batchSize?: number;
}

/** Generate for rows in batches, calling `onBatch` with each finished batch (in order). */
export async function generateRows(
  m: LoadedModel,
  rows: DataRow[],
  flags: SamplingFlags,
  onBatch: (done: Array<{ row: DataRow; prompt: string; gen: Generation }>) => void,
  quiet: boolean,
  checkCancel?: () => void,
): Promise<void> {
  const batch = flags.batchSize ?? 8;
  const eos = eosIds(m.config, m.tokenizer, generationConfigEos(m.dir));
  for (let at = 0; at < rows.length; at += batch) {
    // let the event loop run (a Ctrl-C is only seen there), then stop if asked
    await new Promise((r) => setImmediate(r));
    checkCancel?.();
    const part = rows.slice(at, at + batch);
    const prompts = part.map((r) => renderPrompt(m, r.norm));
    const opts: GenerateOptions = {
      maxNewTokens: flags.maxNewTokens, temperature: flags.temperature, topK: flags.topK, topP: flags.topP, seed: flags.seed,
      stop: flags.stop, eosIds: eos, batchSize: batch, indices: part.map((r) => r.index), checkCancel,
    };
    const gens = await generate(m, prompts.map((p) => p.ids), opts);
    onBatch(part.map((row, i) => ({ row, prompt: prompts[i]!.text, gen: gens[i]! })));
    if (!quiet) process.stderr.write(`[generate] ${Math.min(at + batch, rows.length)}/${rows.length}\n`);
  }
}

export async function runGenerateCommand(o: {
  model: string; adapter?: unknown; data: string; out: string; resume?: boolean; format?: string; mapping?: string; skipMalformed?: boolean;
  flags: SamplingFlags; quiet: boolean; shard?: string;
}): Promise<Record<string, unknown>> {
  const adapter = adapterFlag(o.adapter);
  const out = path.resolve(o.out);
  // with --shard, OUT holds this shard's rows only, each with its file index (`cat` the parts and sort by index)
  const all = await readDataRows(o.data, { format: o.format, mapping: o.mapping, skipMalformed: o.skipMalformed });
  const rows = shardRows(all, o.shard);
  const have = new Set<number>();
  if (o.resume && fs.existsSync(out)) {
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        have.add((JSON.parse(line) as { index: number }).index);
      } catch {
        // a line cut by an interrupted write: that row is generated again
      }
    }
  } else fs.writeFileSync(out, '');
  const todo = rows.filter((r) => !have.has(r.index));
  const m = await loadForGeneration(o.model, o.quiet, adapter);
  const modelHash = m.hash;
  const reasons: Record<string, number> = { eos: 0, stop: 0, length: 0 };
  // Ctrl-C: the batch in progress is dropped, the finished ones stay in OUT for --resume
  let interrupted = false;
  let written = 0;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  const checkCancel = (): void => {
    if (interrupted) {
      throw new WinnowError('cancelled', `interrupted after ${have.size + written} of ${rows.length} rows (kept in ${out}); run again with --resume to finish`);
    }
  };
  try {
    await generateRows(m, todo, o.flags, (done) => {
      const lines = done.map(({ row, prompt, gen }) => {
        reasons[gen.finishReason]!++;
        return JSON.stringify({ index: row.index, prompt, completion: gen.text, tokens: gen.ids, finish_reason: gen.finishReason }) + '\n';
      });
      fs.appendFileSync(out, lines.join(''));
      written += lines.length;
    }, o.quiet, checkCancel);
  } finally {
    process.removeListener('SIGINT', onSigint);
    disposeModel(m);
  }
  // a finished shard: OUT.shard.json, for winnow merge (merge-outputs.ts)
  const result = o.shard === undefined ? undefined : writeOutputShard('generate', {
    out, data: o.data, shard: o.shard, allRows: all, rows, model: { path: o.model, hash: modelHash },
    options: { flags: o.flags, format: o.format, mapping: o.mapping, skipMalformed: o.skipMalformed },
  });
  return { out, rows: rows.length, generated: todo.length, skipped: have.size, finishReasons: reasons, ...(o.shard !== undefined ? { shard: o.shard, result } : {}), ...(adapter ? { adapter } : {}) };
}
