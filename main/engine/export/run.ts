/**
 * Export job: writes the hand-off files into one folder — subset rows, token masks (`labels` = −100 convention), the
 * layer mask with exact HF tensor names, the tuned weights as an HF folder, per-example scores — plus a manifest with
 * file hashes. It never overwrites a non-empty folder unless asked, and writes only the fixed file names below.
 */
import { createHash } from 'node:crypto';
import { cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { openProjectDb, getRender, listSignalColumns, type Db } from '../db';
import type { ExportRequest } from '../../../preload/contract';
import type { JobContext, JobOutcome } from '../jobs/types';
import { WinnowError } from '../util/errors';
import { loadTokenizer } from '../models/tokenizer';
import { renderDataset } from '../data/renderDataset';
import { DEFAULT_RENDER } from '../api/examples';
import { checkpointTensors, getLayerMask } from '../api/layers';
import { resolveLayerSpec } from '../selection/layers';

export const EXPORT_FILES = {
  subset: 'subset.jsonl',
  subsetMessages: 'subset.messages.jsonl',
  tokenMasks: 'token_masks.jsonl',
  layerMask: 'layer_mask.json',
  weights: 'model',
  scores: 'scores.csv',
  manifest: 'manifest.json',
} as const;

function write(stream: WriteStream, line: string): Promise<void> {
  return new Promise((res) => (stream.write(line) ? res() : stream.once('drain', () => res())));
}
function end(stream: WriteStream): Promise<void> {
  return new Promise((res, rej) => {
    stream.on('error', rej);
    stream.end(() => res());
  });
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function exampleIds(db: Db, req: ExportRequest): number[] {
  if (req.subsetId !== null) return db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(req.subsetId) as number[];
  if (req.datasetId !== undefined) return db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(req.datasetId) as number[];
  return db.prepare('SELECT id FROM examples ORDER BY id').pluck().all() as number[];
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Everything an export needs is checked before a single file is written. */
export function validateExport(db: Db, req: ExportRequest): void {
  const outDir = resolve(req.outDir);
  if (existsSync(outDir) && readdirSync(outDir).length > 0 && !req.overwrite) {
    throw new WinnowError('conflict', `${outDir} is not empty; choose an empty folder or allow overwriting`);
  }
  if (req.what.includes('token_masks') && !req.modelId) throw new WinnowError('bad_input', 'token masks need a model (its tokenizer defines input_ids)');
  if (req.what.includes('layer_mask') && !req.layerMaskId && !req.trainRunId) {
    throw new WinnowError('bad_input', 'layer mask export needs a layer mask or a training run');
  }
  if (req.what.includes('weights')) {
    if (!req.trainRunId) throw new WinnowError('bad_input', 'tuned weights export needs a finished training run');
    const outModel = db.prepare('SELECT out_dir FROM train_runs WHERE id = ?').pluck().get(req.trainRunId) as string | null | undefined;
    if (!outModel || !existsSync(outModel)) throw new WinnowError('not_found', `training run ${req.trainRunId} has no tuned model yet`);
  }
  if (req.subsetId !== null && !db.prepare('SELECT 1 FROM subsets WHERE id = ?').get(req.subsetId)) {
    throw new WinnowError('not_found', `subset ${req.subsetId} not found`);
  }
}

export async function runExportJob(ctx: JobContext): Promise<JobOutcome> {
  const req = ctx.params as unknown as ExportRequest;
  const outDir = resolve(req.outDir);
  const db = openProjectDb(ctx.dbPath);
  try {
    validateExport(db, req);
  } catch (err) {
    db.close();
    throw err;
  }
  mkdirSync(outDir, { recursive: true });
  const manifest: Record<string, unknown> = { winnow: '0.1.0', createdAt: new Date().toISOString(), request: req, artifacts: {} };
  const artifacts = manifest.artifacts as Record<string, unknown>;
  try {
    const ids = exampleIds(db, req);
    const total = ids.length * req.what.filter((w) => w === 'subset' || w === 'token_masks' || w === 'scores').length + 1;
    let done = 0;
    const tick = (msg: string) => ctx.progress({ current: ++done, total, message: msg });
    const check = () => {
      if (ctx.isCancelled()) throw new WinnowError('cancelled', 'export cancelled');
    };
    if (req.subsetId !== null) {
      manifest.subset = db.prepare('SELECT id, name, rule_json AS rule, size FROM subsets WHERE id = ?').get(req.subsetId);
    }

    if (req.what.includes('subset')) {
      const raw = createWriteStream(join(outDir, EXPORT_FILES.subset));
      const msgs = createWriteStream(join(outDir, EXPORT_FILES.subsetMessages));
      const get = db.prepare('SELECT raw_json, messages_json FROM examples WHERE id = ?');
      for (const id of ids) {
        check();
        const r = get.get(id) as { raw_json: string; messages_json: string };
        await write(raw, r.raw_json + '\n');
        const m = JSON.parse(r.messages_json);
        await write(msgs, JSON.stringify(Array.isArray(m) ? { messages: m } : m) + '\n');
        tick('subset');
      }
      await end(raw);
      await end(msgs);
      artifacts.subset = { file: EXPORT_FILES.subset, rows: ids.length, form: 'original rows, untouched' };
      artifacts.subsetMessages = { file: EXPORT_FILES.subsetMessages, rows: ids.length, form: 'normalized chat messages' };
    }

    if (req.what.includes('token_masks')) {
      if (!req.modelId) throw new WinnowError('bad_input', 'token masks need a model (its tokenizer defines input_ids)');
      const modelDir = db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(req.modelId) as string;
      const tok = await loadTokenizer(modelDir);
      const datasets = db.prepare(`SELECT DISTINCT dataset_id FROM examples WHERE id IN (${ids.map(() => '?').join(',') || 'NULL'})`).pluck().all(...ids) as number[];
      for (const d of datasets) await renderDataset(db, d, tok, DEFAULT_RENDER);
      const out = createWriteStream(join(outDir, EXPORT_FILES.tokenMasks));
      let rows = 0;
      let skipped = 0;
      for (const id of ids) {
        check();
        const r = getRender(db, id, tok.id);
        if (!r) {
          skipped++;
          tick('token masks');
          continue;
        }
        const input_ids = Array.from(r.tokenIds);
        const labels = input_ids.map((t, i) => (r.labelMask[i] === 1 ? t : -100));
        await write(out, JSON.stringify({ example_id: id, input_ids, attention_mask: input_ids.map(() => 1), labels }) + '\n');
        rows++;
        tick('token masks');
      }
      await end(out);
      artifacts.tokenMasks = { file: EXPORT_FILES.tokenMasks, rows, skipped, tokenizer: tok.id, convention: 'labels = -100 where the loss is masked' };
    }

    if (req.what.includes('layer_mask')) {
      let tensors: string[];
      let provenance: Record<string, unknown>;
      if (req.layerMaskId) {
        const mask = getLayerMask(db, req.layerMaskId);
        tensors = mask.tensors;
        provenance = { layerMask: mask.name, ...mask.provenance };
      } else if (req.trainRunId) {
        const run = db.prepare('SELECT config_json, model_id FROM train_runs WHERE id = ?').get(req.trainRunId) as { config_json: string; model_id: number } | undefined;
        if (!run) throw new WinnowError('not_found', `train run ${req.trainRunId} not found`);
        const spec = JSON.parse(run.config_json).layers as string;
        const dir = db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(run.model_id) as string;
        tensors = resolveLayerSpec(spec, checkpointTensors(dir));
        provenance = { trainRun: req.trainRunId, spec };
      } else throw new WinnowError('bad_input', 'layer mask export needs a layer mask or a train run');
      const file = join(outDir, EXPORT_FILES.layerMask);
      writeFileSync(file, JSON.stringify({ trainable_tensors: tensors, provenance }, null, 2) + '\n');
      artifacts.layerMask = { file: EXPORT_FILES.layerMask, tensors: tensors.length };
      tick('layer mask');
    }

    if (req.what.includes('weights')) {
      if (!req.trainRunId) throw new WinnowError('bad_input', 'weights export needs a finished train run');
      const outModel = db.prepare('SELECT out_dir FROM train_runs WHERE id = ?').pluck().get(req.trainRunId) as string | null;
      if (!outModel || !existsSync(outModel)) throw new WinnowError('not_found', `train run ${req.trainRunId} has no tuned model yet`);
      cpSync(outModel, join(outDir, EXPORT_FILES.weights), { recursive: true });
      artifacts.weights = { dir: EXPORT_FILES.weights, from: outModel };
      tick('weights');
    }

    if (req.what.includes('scores')) {
      const cols = listSignalColumns(db);
      const out = createWriteStream(join(outDir, EXPORT_FILES.scores));
      await write(out, ['example_id', 'dataset_id', 'row_index', ...cols].join(',') + '\n');
      const get = db.prepare(`SELECT e.id, e.dataset_id, e.row_index${cols.map((c) => `, s."${c}"`).join('')} FROM examples e LEFT JOIN example_signals s ON s.example_id = e.id WHERE e.id = ?`);
      for (const id of ids) {
        check();
        const r = get.get(id) as Record<string, unknown>;
        await write(out, [r.id, r.dataset_id, r.row_index, ...cols.map((c) => r[c])].map(csvCell).join(',') + '\n');
        tick('scores');
      }
      await end(out);
      artifacts.scores = { file: EXPORT_FILES.scores, rows: ids.length, columns: cols };
    }

    const hashes: Record<string, string> = {};
    for (const f of filesUnder(outDir)) {
      const rel = relative(outDir, f);
      if (rel !== EXPORT_FILES.manifest) hashes[rel] = sha256File(f);
    }
    manifest.files = hashes;
    writeFileSync(join(outDir, EXPORT_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
    db.prepare(`INSERT INTO exports (kind, out_path, manifest_json, created_at) VALUES (?, ?, ?, datetime('now'))`).run(req.what.join(','), outDir, JSON.stringify(manifest));
    return { message: `exported ${Object.keys(artifacts).length} artifact(s) to ${outDir}`, stats: { outDir, files: Object.keys(hashes).length } };
  } finally {
    db.close();
  }
}
