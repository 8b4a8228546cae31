/**
 * `winnow generate`: each record's conversation up to its last assistant turn, rendered with the model's chat template
 * and the generation prompt, continued by the model (models/generate.ts), one JSON line per row:
 * {"index", "prompt", "completion", "tokens", "finish_reason"}. Rows are appended batch by batch, so an interrupted
 * run (Ctrl-C) keeps what it finished and `--resume` skips the indices already in OUT.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../engine/compute/backend';
import { eosIds, generate, type GenerateOptions, type Generation } from '../engine/models/generate';
import { disposeModel, loadModel, type LoadedModel } from '../engine/models/model';
import { generationConfigEos, readDataRows, renderPrompt, type DataRow } from '../engine/eval/prompt';
import { WinnowError } from '../engine/util/errors';
import { normHash } from '../engine/data/normalize';
import { parseShardSpec, shardOfRow } from '../engine/scoring/shard';

export { readDataRows, type DataRow } from '../engine/eval/prompt';

/**
 * --shard I/N: the rows this process takes, chosen as `winnow score --shard` chooses them (the row's content hash and
 * file index, scoring/shard.ts), so a file splits the same way for every command. All rows without --shard.
 */
export function shardRows(rows: DataRow[], shard: string | undefined): DataRow[] {
  if (shard === undefined) return rows;
  const s = parseShardSpec(shard);
  return rows.filter((r) => shardOfRow(normHash(r.norm), r.index, s.count) === s.index);
}

export { promptTurns, renderPrompt, generationConfigEos } from '../engine/eval/prompt';

export function refuseAdapter(adapter: unknown): void {
  if (adapter !== undefined) throw new WinnowError('unsupported', 'LoRA adapters are not supported yet: give the tuned model folder as --model');
}

export async function loadForGeneration(dir: string, quiet: boolean): Promise<LoadedModel> {
  const b = await initBackend();
  if (!quiet) process.stderr.write(`backend: ${b.name} (${b.reason})\n`);
  return loadModel(path.resolve(dir));
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
  refuseAdapter(o.adapter);
  const out = path.resolve(o.out);
  // with --shard, OUT holds this shard's rows only, each with its file index (`cat` the parts and sort by index)
  const rows = shardRows(await readDataRows(o.data, { format: o.format, mapping: o.mapping, skipMalformed: o.skipMalformed }), o.shard);
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
  const m = await loadForGeneration(o.model, o.quiet);
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
  return { out, rows: rows.length, generated: todo.length, skipped: have.size, finishReasons: reasons, ...(o.shard !== undefined ? { shard: o.shard } : {}) };
}
