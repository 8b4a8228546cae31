/**
 * The rows a task is run on: a data file's records mapped as import maps them, each one's prompt (the turns before its
 * last assistant turn, through the chat template with the generation prompt) and its reference (that turn), and
 * generation over them in batches. `winnow generate`, `winnow eval`, the WiSE-FT sweep and the app's jobs share it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { batchRaws, parseFile } from '../data/parse';
import { isTextRecord, toMessages, type Mapping, type Normalized } from '../data/formats';
import type { FileFormat } from '../data/readers';
import { eosIds, generate, type GenerateOptions, type Generation } from '../models/generate';
import type { LoadedModel } from '../models/model';
import type { ChatMessage } from '../models/types';
import { WinnowError } from '../util/errors';
import { normHash } from '../data/normalize';
import { parseShardSpec, shardOfRow } from '../scoring/shard';

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
