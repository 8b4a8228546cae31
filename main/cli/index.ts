/**
 * The `winnow` command: every job the UI can start, in-process over the same engine modules.
 * Progress goes to stderr; with --json the last line of stdout is one JSON object with the result.
 *
 * This file is the dispatcher: the help text, the command table and the exit codes. Each command is
 * commands/<command>.ts over the shared session (session.ts: the project, its jobs) and flags (flags.ts).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { WinnowError, toErrorValue } from '../engine/util/errors';
import { OPTIONS, type Opts } from './flags';
import type { Command } from './session';
import { convertCommand } from './commands/convert';
import { importCommand } from './commands/import';
import { scoreCommand } from './commands/score';
import { mergeCommand } from './commands/merge';
import { selectCommand } from './commands/select';
import { clusterCommand } from './commands/cluster';
import { trainCommand } from './commands/train';
import { exportCommand } from './commands/export';
import { generateCommand } from './commands/generate';
import { evalCommand } from './commands/eval';
import { criticalCommand } from './commands/critical';
import { wiseCommand, wiseSweepCommand } from './commands/wise';
import { serveCommand } from './commands/serve';

const USAGE = `winnow <command> [options]

  convert llama2c MODEL.bin TOKENIZER.bin OUT_DIR     llama2.c checkpoint → Hugging Face folder
  import FILE --project P [--format F] [--mapping JSON] [--skip-malformed] [--name N]
        (--mapping when detection guesses wrong, e.g. '{"format":"alpaca","instruction":"q","output":"a"}')
  score --model DIR|ORG/NAME[@REV] (--data FILE | --project P) --signals a,b [--ref-model DIR] [--history-model DIR] --out OUT.jsonl
        [--batch 8] [--max-tokens 512] [--fim-examples 100] [--fim-loss sum|mean] [--seed 0]
        [--grad-layers SPEC] [--grad-dim 1024] [--target-subset NAME | --target-data FILE] [--gamma 0.5] [--shard I/N]
        [--adapter ADAPTER_DIR]   (scores --model with a PEFT LoRA adapter applied)
        [--subset NAME (with --project) | --sample N [--seed 0]]
        (--subset: only that subset's rows; --sample: a seeded random N rows, the ones \`select --random N --seed S\` picks)
        [--less-run N | --less-warmup P:EPOCHS:K [--lora R[:ALPHA]] [--lora-targets T] [--layers SPEC] [--lr 2e-5]]
        (grad_sim is LESS: Adam-preconditioned LoRA gradients at the K kept checkpoints of warm-up run N, or of one
         trained first on a seeded random P% of the scope for EPOCHS epochs (LoRA 8:32 on attention by default);
         --target-subset A,B,… gives one subtask per subset (mean within each, max across), --target-column COL
         one per value of that column among the targets; d defaults to 8192;
         grad_sim_base is the same cosine on the base model's plain gradients)
        (excess_loss/learnability: --ref-model is the LATER model, e.g. the one tuned from --model;
         sstoken: --history-model is the EARLIER model, e.g. the base --model was tuned from; γ = --gamma;
         grad_norm/grad_sim_base over --grad-layers; grad_sim/grad_sim_base against the target set;
         fim/layer_grad_norm differentiate each example's summed response NLL (--fim-loss sum, the default, as surgical
         fine-tuning's fim_calculator.py) or its mean over the response tokens (--fim-loss mean))
        (--shard I/N, with --data: score only this process's 1/N of the rows, chosen by a hash of each row's content
         and file index; writes OUT plus OUT.shard.json (what run, which rows, sha256 manifest) for winnow merge;
         fim/layer_grad_norm draw over the whole file and merge from float64 partial sums; grad_sim takes --target-data)
  merge OUT.shard.json... --project P [--data FILE] [--target-data FILE] [--model DIR] [--ref-model DIR] [--history-model DIR] [--out OUT.jsonl]
        [--format F] [--skip-malformed] (as the shards were given them)
        (checks the shards are one run and hold every row once, then stores them in P as one score run;
         the data file and models are found where the shards read them unless given)
  merge OUT.shard.json... --out FILE  (generate / eval --shard pieces: the JSONL in file order, or one eval report
         with its metric recomputed over every row)
  select --project P --name NAME (--top-percent X | --top K | --min A --max B) --signal S [--asc]
         | --ifd-top K | --ifd-top-percent X
         | --random K [--seed S]
         | (--per-cluster N | --per-cluster-percent X) [--signal S [--asc]] [--seed S] [--cluster-run ID]
         | --kcenter K [--among SUBSET] [--seed S]
         | --where "COL>=A" [--where "COL<=B" ...] [--search TEXT] [--among SUBSET]
         | --s2l K --run RUN_ID [--clusters 10] [--seed S]
         | --uds KEEP --model DIR [--batch 8] [--uds-buffer 1024] [--uds-lambda 0.0025] [--max-tokens 256] [--seed S]
        (per cluster of the latest K-means run: the top N (or X% of each cluster) by --signal, or a seeded random N;
         --kcenter: K diverse rows by greedy k-center on embedding, optionally among a subset's rows;
         --ifd-top: IFD's recipe, drop rows with ifd > 1, then the K (X% of those left) highest by ifd;
         --s2l: S2L, K rows spread over K-means clusters of the loss trajectories train run RUN_ID recorded
         (train --record-trajectories); --uds: UDS in one pass, the best KEEP share (0–1] of each batch of rows)
  cluster --project P --k K [--seed 0] [--max-iter 100]   K-means on embedding → the cluster column
  train --model DIR (--data FILE | --project P [--subset NAME]) --layers SPEC --steps N --out DIR
        [--lr 1e-3] [--batch 4] [--accum 1] [--optimizer adamw|sgd] [--schedule cosine|linear|constant]
        [--warmup 0] [--token-policy response|all|critical|top_percent [--token-signal excess_loss] [--token-percent 60]
        [--token-scope example|global]] [--dft] [--seed 0] [--max-tokens 256]
        [--param-mask MASK [--param-examples 100]] [--changed-only] [--checkpoint-every 20]
        [--record-trajectories] [--uds KEEP [--uds-buffer 1024] [--uds-lambda 0.0025]]
        [--lora R[:ALPHA] [--lora-targets q_proj,v_proj|attention|mlp|all-linear] [--lora-dropout P] [--rslora] [--merged]]
        [--keep-checkpoints K]
        (--lora: a PEFT LoRA adapter of rank R, alpha ALPHA (default R), on the blocks --layers picks (default all),
         written to OUT/adapter/; --merged also writes the merged model to OUT/model/; --keep-checkpoints keeps K
         evenly spaced checkpoints with their Adam state and mean lr: a warm-up run for score --less-run;
         --record-trajectories: every example's loss at each checkpoint, for select --s2l --run RUN_ID;
         --uds: each micro-batch trains on its best KEEP share by UDS's score)
  export --model DIR (--data FILE | --project P [--subset NAME]) [--layers SPEC] [--token-policy P ...]
         --out DIR [--overwrite]                      bundle: subset, masks, scores, trainer configs, manifest
  generate --model DIR --data FILE --out OUT.jsonl [--max-new-tokens 128] [--temperature T --top-k K --top-p P --seed S]
        [--stop STR]... [--batch 8] [--resume] [--shard I/N]  (each record up to its last assistant turn, chat template +
         generation prompt; rows {"index","prompt","completion","tokens","finish_reason"};
         --adapter ADAPTER_DIR: a PEFT LoRA adapter merged into --model first)
  eval --model DIR --data FILE --metric exact_match|accuracy|pass_at_1|loss [--answer-regex R] [--max-new-tokens 256]
        [--labels a,b,...] [--adapter ADAPTER_DIR] [--shard I/N] --out report.json  (task metric over every row, with the per-row answers)
        pass_at_1 runs the model's code with the record's tests (test + entry_point, or test_list) in a child Python
        process, only with --allow-code-execution [--code-timeout 10] [--code-memory-mb 512] [--python /usr/bin/python3]
  critical --model DIR (--data FILE | --project P [--subset NAME]) [--max-positions 64] [--alternatives 2]
        [--max-new-tokens 64] [--answer-regex R] [--estimate]
        critical tokens (CFT): per response token, its top alternatives rolled out greedily; stored as the token signal
        "critical" (for --token-policy critical). The cost (rollouts × max new tokens) is printed first; --estimate
        prints only that
  wise --base DIR --tuned DIR --alpha A --out DIR [--overwrite] [--project P]
        WiSE-FT: writes (1-A)*base + A*tuned, tensor by tensor, as a model folder (--project: and registers it there)
  wise-sweep --base DIR --tuned DIR --alphas 0,0.25,0.5,0.75,1 --data FILE --metric exact_match|accuracy|pass_at_1|loss
        --out curve.json [--keep-models DIR] [eval's flags]   (one eval per alpha: the forgetting/accuracy curve)
  serve [--port N]                                     browser mode (same as npm start without Electron)

  Common: --json (machine-readable result as the last stdout line), --home DIR (WINNOW_HOME)
  Layer SPEC: last:N | first:N | blocks:A-B | top:N:fim | attention | mlp | hft:SEED | all | names:t1,t2,...
  Parameter MASK (train only these entries; --layers, default all, is the scope it picks from):
    salience:abs_g|abs_wg|sq_wg:DENSITY[:global|per_tensor][:all] | gps:N (inputs per row) | gps:DENSITY | name:MASK (saved)
    (salience scores the scope's linear weight matrices, as SPEFT; ":all" adds embeddings, norms, biases, the LM head)
  --changed-only writes only the changed tensors plus winnow_delta.json (the base's path and hash)`;

/** Each command by the name it is called with (a Map: a name such as "toString" is no command). */
const COMMANDS = new Map<string, Command>([
  ['convert', convertCommand],
  ['import', importCommand],
  ['score', scoreCommand],
  ['merge', mergeCommand],
  ['select', selectCommand],
  ['cluster', clusterCommand],
  ['train', trainCommand],
  ['export', exportCommand],
  ['generate', generateCommand],
  ['eval', evalCommand],
  ['critical', criticalCommand],
  ['wise', wiseCommand],
  ['wise-sweep', wiseSweepCommand],
  ['serve', serveCommand],
]);

async function run(argv: string[]): Promise<unknown> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
  const o = values as Opts;
  if (typeof o.home === 'string') process.env.WINNOW_HOME = resolve(o.home);
  const quiet = !!o.json;
  const handler = command === undefined ? undefined : COMMANDS.get(command);
  if (handler) return handler({ o, positionals, quiet });
  process.stdout.write(USAGE + '\n');
  if (command && command !== 'help' && !o.help) throw new WinnowError('bad_input', `unknown command "${command}"`);
  return null;
}

run(process.argv.slice(2)).then(
  (result) => {
    if (result === null) return;
    const json = process.argv.includes('--json');
    process.stdout.write(json ? JSON.stringify(result) + '\n' : JSON.stringify(result, null, 2) + '\n');
    process.exit(0);
  },
  (err) => {
    const e = toErrorValue(err);
    if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ ok: false, error: e }) + '\n');
    process.stderr.write(`winnow: ${e.message}\n`);
    process.exit(e.code === 'bad_input' ? 2 : 1);
  },
);
