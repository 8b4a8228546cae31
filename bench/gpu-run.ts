/**
 * The Winnow side of the GPU benchmark (`npm run bench:gpu`, bench/README-gpu.md). Bundled with the engine into the
 * pack that scripts/bench-gpu.mjs builds; run by the pack's run.sh on the GPU machine (or here, on SwiftShader, with
 * --smoke). Subcommands:
 *   gen   --shape S --dir D --tokenizer DIR [--smoke] [--sizes BxT,..]
 *         write S's random BF16 HF folder (bench/gpu-shapes.ts) and the ids of each size (ids-BxT.json, the only ones)
 *   bench --shape S --dir D --out F [--backend webgpu] [--smoke] [--reps n] [--no-profile] [--sizes BxT,..]
 *         forward (per-token losses, read back) and training (last blocks, AdamW) tokens/s at each size, tf.profile's
 *         peak tensor bytes and per-kernel profile; one JSON per model, rewritten after every case (a timeout keeps
 *         what was done)
 *   merge --in DIR --out F [--table T]   join the webgpu-*.json, torch-*.json and smi-*.txt of DIR
 *   info  [--backend webgpu]             which backend and adapter start
 * The model code is the engine's: loadModel, embed/runBlocks/finalNorm/lmHead, weightedLmLoss, createOptimizer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, disposeModel, type LoadedModel } from '../main/engine/models/model';
import { embed, runBlocks, finalNorm, lmHead } from '../main/engine/models/forward';
import { weightedLmLoss } from '../main/engine/training/loss';
import { createOptimizer } from '../main/engine/training/optimizer';
import { benchIds, shapeByName, writeRandomModel, type BenchShape } from './gpu-shapes';

type Json = Record<string, unknown>;

function args(argv: string[]): { cmd: string; opt: Map<string, string>; flags: Set<string> } {
  const [cmd = 'info', ...rest] = argv;
  const opt = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"`);
    const next = rest[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      opt.set(a.slice(2), next);
      i++;
    } else flags.add(a.slice(2));
  }
  return { cmd, opt, flags };
}

function need(opt: Map<string, string>, k: string): string {
  const v = opt.get(k);
  if (!v) throw new Error(`--${k} is required`);
  return v;
}

function errText(e: unknown): string {
  return (e instanceof Error ? `${e.message}` : String(e)).split('\n').slice(0, 3).join(' | ').slice(0, 600);
}

// ---------------------------------------------------------------- backend

/**
 * Start `name` through the engine's compute/backend.ts when it knows the name; for webgpu before the engine has it,
 * the same setup the issue describes (Dawn's create() as navigator.gpu, then tfjs-backend-webgpu), marked as such.
 */
async function startBackend(name: string): Promise<Json> {
  const be = await import('../main/engine/compute/backend');
  const known = (be.BACKEND_ORDER as string[]).includes(name);
  let via: string;
  let reason = '';
  let engineAdapter: unknown;
  if (known) {
    process.env.WINNOW_BACKEND = name; // a software adapter (SwiftShader) is used only when asked
    const info = await be.initBackend(name as never);
    via = 'engine initBackend';
    reason = info.reason;
    engineAdapter = (info as { adapter?: unknown }).adapter;
  } else if (name === 'webgpu') {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true });
    (g.navigator as { gpu?: unknown }).gpu = create([]);
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs-backend-webgpu did not start');
    await tf.ready();
    via = 'bench fallback (engine has no webgpu backend yet)';
  } else {
    throw new Error(`backend "${name}" is not one of the engine's (${be.BACKEND_ORDER.join(', ')})`);
  }
  const out: Json = { name: tf.getBackend(), via, reason };
  if (engineAdapter) out.engineAdapter = engineAdapter;
  if (tf.getBackend() === 'webgpu') {
    out.adapter = await adapterInfo();
    out.vulkanLibsMapped = mappedVulkanLibs();
  }
  return out;
}

/** The Vulkan loader and driver files this process has mapped (Linux): which ones really run. */
function mappedVulkanLibs(): string[] {
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    return [...new Set(maps.split('\n').map((l) => l.split(/\s+/)[5] ?? '').filter((f) => /vulkan|swiftshader|nvidia|lvp|radeon/i.test(f)))];
  } catch {
    return [];
  }
}

async function adapterInfo(): Promise<Json> {
  const gpu = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
  const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!a) return { error: 'requestAdapter returned null' };
  const info = (a as unknown as { info?: Record<string, unknown> }).info ?? {};
  const limits: Json = {};
  for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup']) {
    limits[k] = (a.limits as unknown as Record<string, number>)[k];
  }
  const be = tf.backend() as unknown as { device?: GPUDevice };
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    features: [...a.features].sort(),
    timestampQuery: be.device?.features.has('timestamp-query') ?? false,
    limits,
  };
}

// ---------------------------------------------------------------- measurements

async function timeAsync(fn: () => Promise<unknown>, reps: number, warm: number): Promise<{ median: number; all: number[] }> {
  for (let i = 0; i < warm; i++) await fn();
  const all: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    all.push((performance.now() - t0) / 1000);
  }
  const s = [...all].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, all };
}

/** −log p(x_t | x_<t) for t ≥ 1, [B, T−1]: what a scoring pass computes from the logits */
function tokenLosses(logits: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  const [B, T, V] = logits.shape;
  const z = logits.slice([0, 0, 0], [B, T - 1, V]).reshape([B * (T - 1), V]) as tf.Tensor2D;
  const N = B * (T - 1);
  const tgt = ids.slice([0, 1], [B, T - 1]).reshape([N]);
  // flat index n·V + target_n (a one-hot would be another [N, V] tensor)
  const flat = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), tgt);
  const lse = tf.logSumExp(z, 1);
  const picked = tf.gather(z.reshape([N * V]), flat);
  return tf.sub(lse, picked).reshape([B, T - 1]) as tf.Tensor2D;
}

/** One scoring forward: ids → logits → per-token losses, read back. Returns the mean loss. */
async function forwardOnce(m: LoadedModel, ids: Int32Array, B: number, T: number): Promise<number> {
  const cfg = m.config;
  const out = tf.tidy(() => {
    const x = tf.tensor2d(ids, [B, T], 'int32');
    const h = finalNorm(cfg, m.weights, runBlocks(cfg, m.weights, embed(cfg, m.weights, x), 0, cfg.numLayers));
    return tokenLosses(lmHead(cfg, m.weights, h), x);
  });
  const v = (await out.data()) as Float32Array;
  out.dispose();
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}

interface Trainer {
  step(): Promise<number>;
  dispose(): void;
}

/**
 * A training step as training/run.ts takes it: the last `blocks` blocks' tensors are variables, the blocks below run
 * once outside the tape, loss = mean token loss over every next-token (weightedLmLoss), gradients, AdamW (lr 1e-5).
 */
function makeTrainer(m: LoadedModel, ids: Int32Array, B: number, T: number, blocks: number): Trainer {
  const cfg = m.config;
  const low = cfg.numLayers - blocks;
  const names = m.tensors.filter((t) => t.block !== null && t.block >= low).map((t) => t.name);
  const vars = new Map<string, tf.Variable>();
  for (const name of names) {
    const t = m.weights[name]!;
    const v = tf.variable(t, true, `gpubench/${name}`);
    t.dispose();
    m.weights[name] = v;
    vars.set(name, v);
  }
  const varList = [...vars.values()];
  const opt = createOptimizer('adamw', { weightDecay: 0 });
  const ones = new Float32Array(B * T).fill(1);
  return {
    async step() {
      const idsT = tf.tensor2d(ids, [B, T], 'int32');
      const prefix = low > 0 ? tf.tidy(() => runBlocks(cfg, m.weights, embed(cfg, m.weights, idsT), 0, low)) : null;
      const { value, grads } = tf.variableGrads(() => {
        const h0 = prefix ?? embed(cfg, m.weights, idsT);
        const h = runBlocks(cfg, m.weights, h0, low, cfg.numLayers);
        return weightedLmLoss(lmHead(cfg, m.weights, finalNorm(cfg, m.weights, h)), ids, ones, B, T, { dft: false }).loss;
      }, varList);
      idsT.dispose();
      prefix?.dispose();
      const g = new Map([...vars].map(([name, v]) => [name, grads[v.name]!]));
      opt.apply(vars, g, 1e-5);
      for (const t of g.values()) t.dispose();
      const loss = (await value.data())[0]!; // after the update was queued: one wait per step
      value.dispose();
      return loss;
    },
    dispose() {
      opt.dispose();
    },
  };
}

/**
 * tf.profile over one call: peak tensor bytes, and per-kernel GPU time (timestamp queries, where the adapter has
 * them; each kernel then runs in its own pass, so the sum exceeds an unprofiled step). Top kernels by time.
 */
async function profileOnce(fn: () => Promise<unknown>): Promise<Json> {
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    await fn();
    return [];
  });
  const wall = (performance.now() - t0) / 1000;
  const by = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const ms = Number(k.kernelTimeMs) || 0;
    const key = k.name;
    const s = by.get(key) ?? { ms: 0, calls: 0 };
    s.ms += ms;
    s.calls += 1;
    by.set(key, s);
  }
  const total = [...by.values()].reduce((a, s) => a + s.ms, 0);
  const kernels = [...by.entries()]
    .sort((a, b) => b[1].ms - a[1].ms || b[1].calls - a[1].calls)
    .slice(0, 15)
    .map(([op, s]) => ({ op, ms: +s.ms.toFixed(3), pct: total ? +((100 * s.ms) / total).toFixed(1) : null, calls: s.calls }));
  return { peakBytes: info.peakBytes, kernelCount: info.kernels.length, kernelMsTotal: +total.toFixed(3), timed: total > 0, profiledWall_s: +wall.toFixed(3), kernels };
}

function memNow(): Json {
  const m = tf.memory() as unknown as Record<string, unknown>;
  const out: Json = { numTensors: m.numTensors, numBytes: m.numBytes };
  if ('numBytesInGPU' in m) out.numBytesInGPU = m.numBytesInGPU;
  if ('numBytesInGPUAllocated' in m) out.numBytesInGPUAllocated = m.numBytesInGPUAllocated;
  return out;
}

// ---------------------------------------------------------------- subcommands

function idsFile(dir: string, B: number, T: number): string {
  return path.join(dir, `ids-${B}x${T}.json`);
}

function genCmd(shape: BenchShape, dir: string, tokenizerFrom: string): Json {
  const t0 = performance.now();
  const r = writeRandomModel(shape, dir, tokenizerFrom);
  const vocab = (shape.config.vocab_size as number) ?? 0;
  // the ids files present are the sizes both sides run (gpu_torch.py reads every ids-BxT.json)
  for (const f of fs.readdirSync(dir)) if (/^ids-\d+x\d+\.json$/.test(f)) fs.rmSync(path.join(dir, f));
  for (const [B, T] of shape.sizes) {
    const ids = benchIds(vocab, B, T);
    const rows = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)));
    fs.writeFileSync(idsFile(dir, B, T), JSON.stringify(rows));
  }
  return { shape: shape.name, dir, files: r.files, params: r.params, written: r.written, seconds: +((performance.now() - t0) / 1000).toFixed(1) };
}

async function benchCmd(shape: BenchShape, dir: string, out: string, backend: string, reps: number, profile: boolean): Promise<void> {
  const result: Json = { shape: shape.name, config: shape.config, started: new Date().toISOString(), cases: [] as Json[] };
  const save = () => fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  const cases = result.cases as Json[];
  try {
    result.backend = await startBackend(backend);
  } catch (e) {
    result.error = `backend ${backend} did not start: ${errText(e)}`;
    save();
    throw e;
  }
  save();
  const log = (s: string) => console.log(`[${shape.name}] ${s}`);
  log(`backend ${JSON.stringify(result.backend)}`);
  let t0 = performance.now();
  let model: LoadedModel;
  try {
    model = await loadModel(dir);
  } catch (e) {
    result.error = `loadModel: ${errText(e)}`;
    save();
    throw e;
  }
  result.load_s = +((performance.now() - t0) / 1000).toFixed(2);
  result.params = model.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  result.memAfterLoad = memNow();
  log(`loaded in ${result.load_s} s, ${result.params} params`);
  save();

  // forward at every size first (the trainer turns weights into variables)
  for (const [B, T] of shape.sizes) {
    const c: Json = { kind: 'forward', B, T, tokens: B * T };
    cases.push(c);
    try {
      const ids = Int32Array.from((JSON.parse(fs.readFileSync(idsFile(dir, B, T), 'utf8')) as number[][]).flat());
      t0 = performance.now();
      c.loss = await forwardOnce(model, ids, B, T);
      c.first_s = +((performance.now() - t0) / 1000).toFixed(3); // includes shader compilation
      const t = await timeAsync(() => forwardOnce(model, ids, B, T), reps, 1);
      c.median_s = +t.median.toFixed(4);
      c.all_s = t.all.map((x) => +x.toFixed(4));
      c.tokens_per_s = Math.round((B * T) / t.median);
      if (profile) c.profile = await profileOnce(() => forwardOnce(model, ids, B, T));
      c.mem = memNow();
      log(`forward ${B}x${T}: ${c.tokens_per_s} tokens/s (median ${c.median_s} s), loss ${(c.loss as number).toFixed(4)}`);
    } catch (e) {
      c.error = errText(e);
      log(`forward ${B}x${T} failed: ${c.error}`);
    }
    save();
  }
  for (const [B, T] of shape.sizes) {
    const c: Json = { kind: 'train', B, T, tokens: B * T, trainBlocks: shape.trainBlocks };
    cases.push(c);
    let tr: Trainer | null = null;
    try {
      const ids = Int32Array.from((JSON.parse(fs.readFileSync(idsFile(dir, B, T), 'utf8')) as number[][]).flat());
      // fresh weights for every size, so each first-step loss matches PyTorch's on the same weights
      disposeModel(model);
      model = await loadModel(dir);
      tr = makeTrainer(model, ids, B, T, shape.trainBlocks);
      const trainer = tr;
      t0 = performance.now();
      c.loss_step1 = await trainer.step();
      c.first_s = +((performance.now() - t0) / 1000).toFixed(3);
      const t = await timeAsync(() => trainer.step(), reps, 1);
      c.median_s = +t.median.toFixed(4);
      c.all_s = t.all.map((x) => +x.toFixed(4));
      c.tokens_per_s = Math.round((B * T) / t.median);
      if (profile) c.profile = await profileOnce(() => trainer.step());
      c.mem = memNow();
      log(`train ${B}x${T}: ${c.tokens_per_s} tokens/s (median ${c.median_s} s), step-1 loss ${(c.loss_step1 as number).toFixed(4)}`);
    } catch (e) {
      c.error = errText(e);
      log(`train ${B}x${T} failed: ${c.error}`);
    } finally {
      tr?.dispose();
    }
    save();
  }
  disposeModel(model);
  result.finished = new Date().toISOString();
  save();
}

// ---------------------------------------------------------------- merge

function readJson(f: string): Json | null {
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8')) as Json;
  } catch {
    return null;
  }
}

/** Peak MiB over a baseline from `nvidia-smi --query-gpu=memory.used -lms` output (run.sh, one file per phase). */
function smiPeak(file: string): number | null {
  if (!fs.existsSync(file)) return null;
  const xs = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((x) => Number.isFinite(x) && x > 0);
  if (xs.length < 2) return null;
  return Math.max(...xs) - xs[0]!;
}

const fmt = (x: unknown, d = 0) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–');

function mergeCmd(inDir: string, out: string, tableOut: string | undefined): void {
  // run.sh's notes: pack manifest, node, host, Vulkan loader and ICD, nvidia-smi, torch
  const env = fs.existsSync(path.join(inDir, 'env.txt')) ? fs.readFileSync(path.join(inDir, 'env.txt'), 'utf8').trim().split('\n') : null;
  const shapes = new Set<string>();
  for (const f of fs.readdirSync(inDir)) {
    const m = /^(webgpu|torch)-(.+)\.json$/.exec(f);
    if (m) shapes.add(m[2]!);
  }
  const models: Json[] = [];
  const rows: string[][] = [];
  const head = ['model', 'B×T', 'kind', 'webgpu tok/s', 'torch fp32 tok/s', 'ratio', 'target', 'torch bf16 tok/s', 'ratio', 'loss webgpu / torch', 'webgpu peak MiB (tensors / smi)', 'torch peak MiB'];
  for (const s of [...shapes].sort()) {
    const w = readJson(path.join(inDir, `webgpu-${s}.json`));
    const t = readJson(path.join(inDir, `torch-${s}.json`));
    const entry: Json = {
      shape: s,
      webgpu: w,
      torch: t,
      smi_peak_mib: { webgpu: smiPeak(path.join(inDir, `smi-webgpu-${s}.txt`)), torch: smiPeak(path.join(inDir, `smi-torch-${s}.txt`)) },
      comparison: [] as Json[],
    };
    const cmp = entry.comparison as Json[];
    const wc = (w?.cases as Json[] | undefined) ?? [];
    const tc = (t?.cases as Json[] | undefined) ?? [];
    for (const c of wc) {
      const find = (mode: string) => tc.find((x) => x.kind === c.kind && x.B === c.B && x.T === c.T && x.mode === mode);
      const f32 = find('fp32');
      const b16 = find('bf16');
      const wt = c.tokens_per_s as number | undefined;
      const r32 = wt && f32?.tokens_per_s ? wt / (f32.tokens_per_s as number) : null;
      const r16 = wt && b16?.tokens_per_s ? wt / (b16.tokens_per_s as number) : null;
      const target = c.kind === 'forward' ? 0.25 : 0.15;
      const wl = (c.kind === 'forward' ? c.loss : c.loss_step1) as number | undefined;
      const tl = (c.kind === 'forward' ? f32?.loss : f32?.loss_step1) as number | undefined;
      cmp.push({
        kind: c.kind, B: c.B, T: c.T,
        webgpu_tokens_per_s: wt ?? null, webgpu_error: c.error ?? null,
        torch_fp32_tokens_per_s: f32?.tokens_per_s ?? null, torch_bf16_tokens_per_s: b16?.tokens_per_s ?? null,
        ratio_fp32: r32, ratio_bf16: r16, target, meets_target: r32 === null ? null : r32 >= target,
        loss_webgpu: wl ?? null, loss_torch_fp32: tl ?? null,
      });
      const prof = c.profile as Json | undefined;
      rows.push([
        s, `${c.B}×${c.T}`, c.kind as string,
        c.error ? `error: ${String(c.error).slice(0, 40)}` : fmt(wt),
        fmt(f32?.tokens_per_s), fmt(r32, 3), `≥ ${target}`, fmt(b16?.tokens_per_s), fmt(r16, 3),
        `${fmt(wl, 4)} / ${fmt(tl, 4)}`,
        `${prof ? fmt((prof.peakBytes as number) / 2 ** 20) : '–'} / ${fmt((entry.smi_peak_mib as Json).webgpu)}`,
        fmt(f32?.peak_mib),
      ]);
    }
    models.push(entry);
  }
  const all = { created: new Date().toISOString(), env, models };
  fs.writeFileSync(out, JSON.stringify(all, null, 2) + '\n');
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  const table = [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
  const adapters = models.map((m) => ((m.webgpu as Json | null)?.backend as Json | undefined)?.adapter).find(Boolean) as Json | undefined;
  const torchDev = models.map((m) => (m.torch as Json | null)?.device_name).find(Boolean);
  // where the time goes: the largest size's profiled step, top kernels by GPU time
  const prof: string[] = [];
  for (const m of models) {
    const cases = (((m.webgpu as Json | null)?.cases as Json[] | undefined) ?? []).filter((c) => c.profile);
    for (const kind of ['forward', 'train']) {
      const c = cases.filter((x) => x.kind === kind).sort((a, b) => (b.tokens as number) - (a.tokens as number))[0];
      if (!c) continue;
      const p = c.profile as Json;
      const ks = (p.kernels as Array<{ op: string; ms: number; pct: number | null; calls: number }>).slice(0, 6);
      const what = p.timed ? ks.map((k) => `${k.op} ${k.pct}% (${k.calls}×)`).join(', ') : 'no timestamp queries on this adapter';
      prof.push(`${m.shape} ${kind} ${c.B}×${c.T}: ${fmt(p.kernelMsTotal, 1)} ms GPU in ${p.kernelCount} kernels — ${what}`);
    }
  }
  const text = `webgpu adapter: ${adapters ? `${adapters.vendor} / ${adapters.architecture} / ${adapters.description}` : '–'}\ntorch device: ${torchDev ?? '–'}\n\n${table}\n\nper-kernel profile (tf.profile, one step each kernel timed alone):\n${prof.join('\n')}\n`;
  console.log(text);
  if (tableOut) fs.writeFileSync(tableOut, text);
}

// ---------------------------------------------------------------- main

/** --sizes 1x8,4x256: other batch × sequence sizes than the shape's (gen writes their ids; bench runs them) */
function withSizes(shape: BenchShape, sizes: string | undefined): BenchShape {
  if (!sizes) return shape;
  const list = sizes.split(',').map((x) => {
    const m = /^(\d+)x(\d+)$/.exec(x.trim());
    if (!m) throw new Error(`--sizes: "${x}" is not BxT`);
    return [Number(m[1]), Number(m[2])] as [number, number];
  });
  return { ...shape, sizes: list };
}

async function main(): Promise<void> {
  const { cmd, opt, flags } = args(process.argv.slice(2));
  const smoke = flags.has('smoke');
  if (cmd === 'gen') {
    const shape = withSizes(shapeByName(need(opt, 'shape'), smoke), opt.get('sizes'));
    console.log(JSON.stringify(genCmd(shape, need(opt, 'dir'), need(opt, 'tokenizer'))));
  } else if (cmd === 'bench') {
    const shape = withSizes(shapeByName(need(opt, 'shape'), smoke), opt.get('sizes'));
    const reps = Number(opt.get('reps') ?? (smoke ? 2 : 3));
    await benchCmd(shape, need(opt, 'dir'), need(opt, 'out'), opt.get('backend') ?? 'webgpu', reps, !flags.has('no-profile'));
  } else if (cmd === 'merge') {
    mergeCmd(need(opt, 'in'), need(opt, 'out'), opt.get('table'));
  } else if (cmd === 'info') {
    console.log(JSON.stringify(await startBackend(opt.get('backend') ?? 'webgpu'), null, 2));
  } else {
    throw new Error(`unknown command "${cmd}" (gen, bench, merge, info)`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
