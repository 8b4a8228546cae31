/**
 * `winnow generate`: each record's conversation up to its last assistant turn, rendered with the model's chat template
 * and the generation prompt, continued by the model (models/generate.ts), one JSON line per row:
 * {"index", "prompt", "completion", "tokens", "finish_reason"}. Rows are appended batch by batch, so an interrupted
 * run (Ctrl-C) keeps what it finished and `--resume` skips the indices already in OUT.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../engine/compute/backend';
import { disposeModel, loadModel, type LoadedModel } from '../../engine/models/model';
import { applyAdapterFolder, assertAdapterFolder } from '../../engine/models/lora';
import { WinnowError } from '../../engine/util/errors';
import { generateRows, readDataRows, shardRows, type SamplingFlags } from '../../engine/eval/rows';
import { writeOutputShard } from './merge-outputs';
import { need, samplingFlags } from '../flags';
import type { CommandContext } from '../session';

// the rows, prompts and batched generation live in the engine (eval/rows.ts), shared with eval and the app's jobs
export {
  generateRows, generationConfigEos, promptTurns, readDataRows, renderPrompt, shardRows, type DataRow, type SamplingFlags,
} from '../../engine/eval/rows';

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

/** `winnow generate --model DIR --data FILE --out OUT.jsonl`: the flags as runGenerateCommand's options. */
export async function generateCommand({ o, quiet }: CommandContext): Promise<unknown> {
  return runGenerateCommand({
    model: need(o, 'model'), adapter: o.adapter, data: need(o, 'data'), out: need(o, 'out'), resume: !!o.resume,
    format: o.format as string | undefined, mapping: o.mapping as string | undefined, skipMalformed: !!o['skip-malformed'],
    flags: samplingFlags(o, 128), quiet, shard: o.shard as string | undefined,
  });
}
