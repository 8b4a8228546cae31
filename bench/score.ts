/**
 * Scoring benchmark: GSM8K train (resources/demo/gsm8k/train.jsonl) with the demo model (stories260K), the P1
 * forward-signal family (token_loss/entropy/prob/rank, mean_loss, ppl, counts, embedding) through the engine service
 * as the app runs it, and the same work in PyTorch (bench/reference/score_ref.py) on the very token ids Winnow
 * rendered. The first 500 rows are scored first; the full set follows only if it is projected to take ≤ 10 minutes.
 * Second family: fim + layer_grad_norm over the job's default 100 seeded examples (one backward pass each), against
 * the usual PyTorch loop (loss.backward() per example, g² accumulated). Third family: grad_norm (one backward pass per
 * example, every parameter) over the first 100 rows, against the same PyTorch loop taking ‖g‖ per example.
 * Last family: the P1 forward signals on a GPT-2-small-shaped model (random weights) over the first --gpt2-rows rows
 * (default 40; 0 skips it), against the same PyTorch script.
 * Writes bench/results/score.json and prints a table. Usage: npx tsx bench/score.ts [--rows N] [--gpt2-rows N] [--python PATH]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../main/engine/compute/backend';
import { getRender, scoreRunRenderKeyId } from '../main/engine/db';
import { seededChoice } from '../main/engine/scoring/passes/gradients';
import { DEFAULT_FIM_EXAMPLES } from '../main/engine/scoring/plan';
import { randomModelDir } from './models-lib';
import { benchService } from './service-lib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(ROOT, 'resources/demo/gsm8k/train.jsonl');
const MODEL = join(ROOT, 'resources/models/stories260K');
const FORWARD = ['token_loss', 'token_entropy', 'token_prob', 'token_rank', 'mean_loss', 'ppl', 'length_tokens', 'response_tokens', 'trainable_tokens', 'embedding'];
const BATCH = 8;
const LIMIT_SECONDS = 600;

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

function pythonWithTorch(): string {
  const candidates = [arg('python'), '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  for (const py of candidates) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      // next
    }
  }
  throw new Error(`no python with torch among ${candidates.join(', ')}`);
}

interface WinnowRun {
  examples: number; tokens: number; wallSeconds: number; loopSeconds: number; tokensPerSec: number; meanLoss: Map<number, number | null>; tokenFile: string;
  fim: { examples: number; tokens: number; wallSeconds: number; loopSeconds: number; values: Map<string, number>; tokenFile: string };
  gradNorm: { examples: number; tokens: number; wallSeconds: number; loopSeconds: number; values: Map<number, number | null>; tokenFile: string };
}

const GRAD_NORM_ROWS = 100;

/** An engine service on its own projects folder, with calls that throw on error and a wait for a finished job. */
async function scoreWithWinnow(rows: number, work: string): Promise<WinnowRun> {
  const file = join(work, `gsm8k-${rows}.jsonl`);
  writeFileSync(file, readFileSync(DATA, 'utf8').trim().split('\n').slice(0, rows).join('\n') + '\n');
  const { service, call, done } = benchService(join(work, `projects-${rows}`));
  try {
    service.open('bench');
    const modelId = (await call('project.open', {})).models[0]!.id;
    // import renders the rows with the active model's tokenizer: tokenisation is not part of the scoring figure
    const imp = await done((await call('datasets.import', { path: file })).jobId);
    const datasetId = Number(imp.stats.datasetId);
    const t0 = performance.now();
    const job = await done((await call('scoring.start', { modelId, datasetId, signals: FORWARD, batchSize: BATCH })).jobId);
    const wallSeconds = (performance.now() - t0) / 1000;
    const db = service.current().db;
    const runId = Number(job.stats.runId);
    // the render the run scored (its render key)
    const keyId = scoreRunRenderKeyId(db, runId)!;
    const ids = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
    const lines: string[] = [];
    let tokens = 0;
    for (const id of ids) {
      const r = getRender(db, id, keyId);
      if (!r) continue;
      tokens += r.nTokens;
      lines.push(JSON.stringify({ id, ids: Array.from(r.tokenIds), mask: Array.from(r.labelMask) }));
    }
    const tokenFile = join(work, `tokens-${rows}.jsonl`);
    writeFileSync(tokenFile, lines.join('\n') + '\n');
    const meanLoss = new Map(
      (db.prepare(`SELECT example_id AS id, value FROM example_scores WHERE run_id = ? AND signal = 'mean_loss'`).all(runId) as Array<{ id: number; value: number | null }>).map((r) => [r.id, r.value]),
    );
    const loopSeconds = Number(job.stats.seconds);

    // gradient family: the job's own seeded choice (default N, seed 0), rebuilt here so PyTorch sees the same examples
    const t1 = performance.now();
    const gjob = await done((await call('scoring.start', { modelId, datasetId, signals: ['fim', 'layer_grad_norm'], fimLoss: 'mean' })).jobId);
    const gWall = (performance.now() - t1) / 1000;
    const candidates = db
      .prepare(`SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE r.render_key_id = ? AND e.dataset_id = ? AND r.n_label > 0 ORDER BY r.example_id`)
      .pluck()
      .all(scoreRunRenderKeyId(db, Number(gjob.stats.runId)), datasetId) as number[];
    const chosen = seededChoice(candidates, DEFAULT_FIM_EXAMPLES, 0);
    let gTokens = 0;
    const gLines = chosen.map((id) => {
      const r = getRender(db, id, scoreRunRenderKeyId(db, Number(gjob.stats.runId))!)!;
      gTokens += r.nTokens;
      return JSON.stringify({ id, ids: Array.from(r.tokenIds), mask: Array.from(r.labelMask) });
    });
    const fimFile = join(work, `fim-${rows}.jsonl`);
    writeFileSync(fimFile, gLines.join('\n') + '\n');
    const fimValues = new Map(
      (db.prepare(`SELECT tensor_name AS name, value FROM layer_scores WHERE run_id = ? AND signal = 'fim'`).all(Number(gjob.stats.runId)) as Array<{ name: string; value: number }>).map((r) => [r.name, r.value]),
    );

    // grad_norm: every example of its own dataset (the first rows), one backward pass each
    const gnFile = join(work, `gn-${rows}.jsonl`);
    writeFileSync(gnFile, readFileSync(file, 'utf8').trim().split('\n').slice(0, GRAD_NORM_ROWS).join('\n') + '\n');
    const gnDataset = Number((await done((await call('datasets.import', { path: gnFile })).jobId)).stats.datasetId);
    const t2 = performance.now();
    const gnJob = await done((await call('scoring.start', { modelId, datasetId: gnDataset, signals: ['grad_norm'], batchSize: BATCH })).jobId);
    const gnWall = (performance.now() - t2) / 1000;
    const gnIds = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(gnDataset) as number[];
    let gnTokens = 0;
    const gnLines: string[] = [];
    const gnKey = scoreRunRenderKeyId(db, Number(gnJob.stats.runId))!;
    for (const id of gnIds) {
      const r = getRender(db, id, gnKey);
      if (!r) continue;
      gnTokens += r.nTokens;
      gnLines.push(JSON.stringify({ id, ids: Array.from(r.tokenIds), mask: Array.from(r.labelMask) }));
    }
    const gnTokenFile = join(work, `gn-tokens-${rows}.jsonl`);
    writeFileSync(gnTokenFile, gnLines.join('\n') + '\n');
    const gnValues = new Map(
      (db.prepare(`SELECT example_id AS id, value FROM example_scores WHERE run_id = ? AND signal = 'grad_norm'`).all(Number(gnJob.stats.runId)) as Array<{ id: number; value: number | null }>).map((r) => [r.id, r.value]),
    );
    return {
      examples: lines.length, tokens, wallSeconds, loopSeconds, tokensPerSec: tokens / loopSeconds, meanLoss, tokenFile,
      fim: { examples: chosen.length, tokens: gTokens, wallSeconds: gWall, loopSeconds: Number(gjob.stats.gradientSeconds), values: fimValues, tokenFile: fimFile },
      gradNorm: { examples: gnLines.length, tokens: gnTokens, wallSeconds: gnWall, loopSeconds: Number(gnJob.stats.gradientSeconds), values: gnValues, tokenFile: gnTokenFile },
    };
  } finally {
    service.close();
  }
}

/**
 * A GPT-2-small-shaped model (12 blocks × 768, 12 heads, vocabulary 50257, random weights) in the Llama family, so
 * the one PyTorch reference script scores it: its SwiGLU MLP (3 × 768 × 2048) has GPT-2's MLP size (2 × 768 × 3072),
 * so the FLOPs per token match GPT-2 small. The demo tokenizer is reused (ids stay below 512).
 */
const GPT2_SHAPED_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 50257, hidden_size: 768, intermediate_size: 2048,
  num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 12, max_position_embeddings: 1024,
  rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true,
};

async function forwardOnGpt2Shape(rows: number, work: string): Promise<{ examples: number; tokens: number; wallSeconds: number; loopSeconds: number; meanLoss: Map<number, number | null>; tokenFile: string; dir: string }> {
  const dir = randomModelDir(GPT2_SHAPED_LLAMA, 'gpt2-small-llama');
  const file = join(work, `gsm8k-gpt2-${rows}.jsonl`);
  writeFileSync(file, readFileSync(DATA, 'utf8').trim().split('\n').slice(0, rows).join('\n') + '\n');
  const { service, call, done } = benchService(join(work, 'projects-gpt2'));
  try {
    service.open('bench-gpt2');
    await call('project.open', {});
    const model = await call('models.add', { path: dir });
    const datasetId = Number((await done((await call('datasets.import', { path: file })).jobId)).stats.datasetId);
    const t0 = performance.now();
    const job = await done((await call('scoring.start', { modelId: model.id, datasetId, signals: FORWARD, batchSize: BATCH })).jobId);
    const wallSeconds = (performance.now() - t0) / 1000;
    const db = service.current().db;
    // the render the GPT-2 run scored: its own tokenizer's, not the demo model's the import made
    const keyId = scoreRunRenderKeyId(db, Number(job.stats.runId))!;
    const ids = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
    let tokens = 0;
    const lines: string[] = [];
    for (const id of ids) {
      const r = getRender(db, id, keyId);
      if (!r) continue;
      tokens += r.nTokens;
      lines.push(JSON.stringify({ id, ids: Array.from(r.tokenIds), mask: Array.from(r.labelMask) }));
    }
    const tokenFile = join(work, `tokens-gpt2-${rows}.jsonl`);
    writeFileSync(tokenFile, lines.join('\n') + '\n');
    const meanLoss = new Map(
      (db.prepare(`SELECT example_id AS id, value FROM example_scores WHERE run_id = ? AND signal = 'mean_loss'`).all(Number(job.stats.runId)) as Array<{ id: number; value: number | null }>).map((r) => [r.id, r.value]),
    );
    return { examples: lines.length, tokens, wallSeconds, loopSeconds: Number(job.stats.seconds), meanLoss, tokenFile, dir };
  } finally {
    service.close();
  }
}

interface TorchRun {
  threads: number; calibration: Record<string, number>; seconds: number; load_seconds: number; tokens_per_sec: number; tokens: number; torch: string;
  mean_loss?: Record<string, number | null>; fim?: Record<string, number>; grad_norm?: Record<string, number>;
}

function scoreWithTorch(py: string, tokenFile: string, family: 'forward' | 'fim' | 'grad_norm', model = MODEL): TorchRun {
  const out = execFileSync(py, [join(ROOT, 'bench/reference/score_ref.py'), '--model', model, '--data', tokenFile, '--family', family, '--batch', String(BATCH)], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as TorchRun;
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const py = pythonWithTorch();
  const work = mkdtempSync(join(tmpdir(), 'winnow-bench-score-'));
  const total = readFileSync(DATA, 'utf8').trim().split('\n').length;
  const results: Array<Record<string, unknown>> = [];
  try {
    const sizes = arg('rows') ? [Number(arg('rows'))] : [500];
    for (let k = 0; k < sizes.length; k++) {
      const rows = sizes[k]!;
      console.log(`scoring ${rows} rows with Winnow (${backend.name}, ${backend.threads} thread)…`);
      const w = await scoreWithWinnow(rows, work);
      console.log(`  ${w.wallSeconds.toFixed(1)} s wall; PyTorch…`);
      const t = scoreWithTorch(py, w.tokenFile, 'forward');
      let maxDiff = 0;
      for (const [id, v] of w.meanLoss) {
        const ref = t.mean_loss![String(id)];
        if (v !== null && ref !== null && ref !== undefined) maxDiff = Math.max(maxDiff, Math.abs(v - ref));
      }
      results.push({
        family: 'forward',
        signals: FORWARD,
        rows,
        examples: w.examples,
        tokens: w.tokens,
        winnow: { backend: backend.name, threads: backend.threads, wallSeconds: w.wallSeconds, loopSeconds: w.loopSeconds, tokensPerSec: w.tokensPerSec },
        pytorch: { version: t.torch, threads: t.threads, calibrationSeconds: t.calibration, seconds: t.seconds, loadSeconds: t.load_seconds, tokensPerSec: t.tokens_per_sec },
        ratioTorchOverWinnow: t.tokens_per_sec / w.tokensPerSec,
        parity: { maxAbsMeanLossDiff: maxDiff },
      });
      console.log(`  fim: ${w.fim.wallSeconds.toFixed(1)} s wall; PyTorch…`);
      const g = scoreWithTorch(py, w.fim.tokenFile, 'fim');
      let maxRel = 0;
      for (const [name, v] of w.fim.values) maxRel = Math.max(maxRel, Math.abs(v - g.fim![name]!) / Math.max(Math.abs(g.fim![name]!), 1e-30));
      results.push({
        family: 'fim',
        signals: ['fim', 'layer_grad_norm'],
        rows,
        examples: w.fim.examples,
        tokens: w.fim.tokens,
        winnow: { backend: backend.name, threads: backend.threads, wallSeconds: w.fim.wallSeconds, loopSeconds: w.fim.loopSeconds, tokensPerSec: w.fim.tokens / w.fim.loopSeconds },
        pytorch: { version: g.torch, threads: g.threads, calibrationSeconds: g.calibration, seconds: g.seconds, loadSeconds: g.load_seconds, tokensPerSec: g.tokens_per_sec },
        ratioTorchOverWinnow: g.tokens_per_sec / (w.fim.tokens / w.fim.loopSeconds),
        parity: { maxRelFimDiff: maxRel },
      });
      console.log(`  grad_norm: ${w.gradNorm.wallSeconds.toFixed(1)} s wall; PyTorch…`);
      const n = scoreWithTorch(py, w.gradNorm.tokenFile, 'grad_norm');
      let maxRelNorm = 0;
      for (const [id, v] of w.gradNorm.values) {
        const ref = n.grad_norm![String(id)];
        if (v !== null && ref !== undefined) maxRelNorm = Math.max(maxRelNorm, Math.abs(v - ref) / Math.max(ref, 1e-30));
      }
      results.push({
        family: 'grad_norm',
        signals: ['grad_norm'],
        rows: Math.min(rows, GRAD_NORM_ROWS),
        examples: w.gradNorm.examples,
        tokens: w.gradNorm.tokens,
        winnow: { backend: backend.name, threads: backend.threads, wallSeconds: w.gradNorm.wallSeconds, loopSeconds: w.gradNorm.loopSeconds, tokensPerSec: w.gradNorm.tokens / w.gradNorm.loopSeconds },
        pytorch: { version: n.torch, threads: n.threads, calibrationSeconds: n.calibration, seconds: n.seconds, loadSeconds: n.load_seconds, tokensPerSec: n.tokens_per_sec },
        ratioTorchOverWinnow: n.tokens_per_sec / (w.gradNorm.tokens / w.gradNorm.loopSeconds),
        parity: { maxRelGradNormDiff: maxRelNorm },
      });
      // the full set only when it fits the time budget
      if (!arg('rows') && rows < total && (w.wallSeconds * total) / rows <= LIMIT_SECONDS) sizes.push(total);
      else if (!arg('rows') && rows < total) console.log(`  full set (${total} rows) projected at ${Math.round((w.wallSeconds * total) / rows)} s > ${LIMIT_SECONDS} s: kept ${rows} rows`);
    }
    const gRows = Number(arg('gpt2-rows') ?? 40);
    if (gRows > 0) {
      console.log(`GPT-2-small-shaped model, ${gRows} rows, P1 forward signals…`);
      const w = await forwardOnGpt2Shape(gRows, work);
      console.log(`  ${w.wallSeconds.toFixed(1)} s wall; PyTorch…`);
      const t = scoreWithTorch(py, w.tokenFile, 'forward', w.dir);
      let maxDiff = 0;
      for (const [id, v] of w.meanLoss) {
        const ref = t.mean_loss![String(id)];
        if (v !== null && ref !== null && ref !== undefined) maxDiff = Math.max(maxDiff, Math.abs(v - ref));
      }
      results.push({
        family: 'forward (GPT-2-small shape)',
        signals: FORWARD,
        rows: gRows,
        examples: w.examples,
        tokens: w.tokens,
        winnow: { backend: backend.name, threads: backend.threads, wallSeconds: w.wallSeconds, loopSeconds: w.loopSeconds, tokensPerSec: w.tokens / w.loopSeconds },
        pytorch: { version: t.torch, threads: t.threads, calibrationSeconds: t.calibration, seconds: t.seconds, loadSeconds: t.load_seconds, tokensPerSec: t.tokens_per_sec },
        ratioTorchOverWinnow: t.tokens_per_sec / (w.tokens / w.loopSeconds),
        parity: { maxAbsMeanLossDiff: maxDiff },
      });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const outDir = join(ROOT, 'bench/results');
  if (!existsSync(outDir)) mkdirSync(outDir, { recursive: true });
  // the machine is shared: the load average says how much of it the figures got
  const report = { date: new Date().toISOString(), model: 'stories260K (and a GPT-2-small-shaped Llama for the last family)', data: 'resources/demo/gsm8k/train.jsonl', batchSize: BATCH, cores: cpus().length, loadAverageAtEnd: loadavg(), results };
  writeFileSync(join(outDir, 'score.json'), JSON.stringify(report, null, 2) + '\n');
  console.table(
    results.map((r) => {
      const w = r.winnow as Record<string, number>;
      const t = r.pytorch as Record<string, number>;
      return {
        family: r.family,
        rows: r.rows,
        examples: r.examples,
        tokens: r.tokens,
        'winnow wall s': w.wallSeconds!.toFixed(1),
        'winnow loop s': w.loopSeconds!.toFixed(1),
        'winnow tok/s': Math.round(w.tokensPerSec!),
        'torch s': t.seconds!.toFixed(1),
        'torch threads': t.threads,
        'torch tok/s': Math.round(t.tokensPerSec!),
        'torch/winnow': (r.ratioTorchOverWinnow as number).toFixed(2),
        parity: Object.entries(r.parity as Record<string, number>).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(''),
      };
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
