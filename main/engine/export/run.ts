/**
 * Export job: writes one bundle folder — the subset (original rows and normalized messages, JSONL and Parquet), token
 * masks (per tokenizer and as character spans), the layer mask (exact tensor names and each trainer's form), tuned
 * weights, scores (CSV, Parquet, token signals JSONL), trainer configs, a README and a manifest with every file's
 * hash. It refuses a non-empty folder unless asked, and every path goes through `insideDir` (names from data are
 * sanitized), so nothing is written outside the chosen folder. Files are written into a sibling `.partial-<jobId>`
 * folder and moved into place when complete (partial.ts): a killed export never leaves a half bundle.
 *
 * runExportJob is the sequence: validate → partial folder → one writer per artifact (writers.ts) → README and
 * manifest → publish.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { messagesReader } from '../data/examples';
import { openProjectDb, type Db } from '../db';
import type { ExportRequest } from '../../../preload/contract';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import { WinnowError } from '../util/errors';
import { loadTokenizer } from '../models/tokenizer';
import type { Normalized } from '../data/formats';
import type { TokenPolicySpec } from '../selection/token-policy';
import type { LayerMaskForms } from './layer-formats';
import { getLayerMask } from '../db/layers';
import { findModelPath } from '../db/models';
import { scopeExampleIds, trainRunRow } from '../db/training';
import { exampleDatasetId, exportDatasetRow, exportExampleReader, exportModelRow, insertExport, subsetExists, subsetSummaryRow } from '../db/exports';
import { insideDir } from './names';
import { bundleReadme } from './readme';
import { scopeLabel } from '../db/names';
import { exportTarget, partialDirOf, publishExport } from './partial';
import { paramMaskIdOf } from './param-mask';
import { getParamMask } from '../selection/param-masks-store';
import { BUNDLE_FORMAT, EXPORT_FILES, WINNOW_VERSION, filesUnder, sha256File } from './files';
import {
  listExamples, writeConfigs, writeLayerMask, writeParamMask, writeScores, writeSubset, writeTokenMasks, writeWeights,
  type Bundle,
} from './writers';

export { BUNDLE_FORMAT, EXPORT_FILES, WINNOW_VERSION, filesUnder, sha256File };

/** Everything an export needs is checked before a single file is written. */
export function validateExport(db: Db, req: ExportRequest): void {
  const outDir = resolve(req.outDir);
  if (req.outDir.includes('\0')) throw new WinnowError('bad_input', 'export folder: the path contains a NUL byte');
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new WinnowError('conflict', `${outDir} is a file, not a folder`);
  if (existsSync(outDir) && readdirSync(outDir).length > 0 && !req.overwrite) {
    throw new WinnowError('conflict', `${outDir} is not empty; choose an empty folder or allow overwriting`);
  }
  const needsModel = req.what.includes('token_masks') || req.what.includes('configs');
  if (needsModel && !req.modelId) throw new WinnowError('bad_input', 'token masks and trainer configs need a model (its tokenizer defines input_ids)');
  if (req.modelId && findModelPath(db, req.modelId) === undefined) throw new WinnowError('not_found', `model ${req.modelId} not found`);
  if (req.what.includes('layer_mask') && !req.layerMaskId && !req.trainRunId) {
    throw new WinnowError('bad_input', 'layer mask export needs a layer mask or a training run');
  }
  if (req.layerMaskId) getLayerMask(db, req.layerMaskId);
  if (req.what.includes('param_mask')) {
    const pm = paramMaskIdOf(db, req);
    if (pm === null) throw new WinnowError('bad_input', 'parameter mask export needs a parameter mask or a training run that used one');
    getParamMask(db, pm);
  }
  if (req.wiseAlpha !== undefined && !req.what.includes('weights')) throw new WinnowError('bad_input', 'wiseAlpha (WiSE-FT) interpolates exported weights: add "weights" to what is exported');
  if (req.what.includes('weights')) {
    if (!req.trainRunId) throw new WinnowError('bad_input', 'tuned weights export needs a finished training run');
    const outModel = trainRunRow(db, req.trainRunId)?.out_dir;
    if (!outModel || !existsSync(outModel)) throw new WinnowError('not_found', `training run ${req.trainRunId} has no tuned model yet`);
  }
  if (req.subsetId !== null && !subsetExists(db, req.subsetId)) {
    throw new WinnowError('not_found', `subset ${req.subsetId} not found`);
  }
}

/** sha256 of the model's small files (config, tokenizer); weights only below 512 MB (hashing GBs on export is slow). */
function modelHashes(dir: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (!statSync(p).isFile()) continue;
    out[f] = statSync(p).size < 512 << 20 ? sha256File(p) : null;
  }
  return out;
}

/**
 * The parts an export writes: as asked, plus what the trainer configs read — train_trl.py and axolotl.yaml train on
 * token_masks.jsonl, llamafactory.yaml on subset.messages.jsonl — so a bundle never points at a file it lacks.
 */
export function exportParts(what: ExportRequest['what']): ExportRequest['what'] {
  if (!what.includes('configs')) return what;
  const out = [...what];
  for (const w of ['subset', 'token_masks'] as const) if (!out.includes(w)) out.unshift(w);
  return out;
}

export async function runExportJob(ctx: JobContext): Promise<JobOutcome> {
  const asked = jobParams('export', ctx);
  const req: ExportRequest = { ...asked, what: exportParts(asked.what) };
  const outDir = resolve(req.outDir);
  const db = openProjectDb(ctx.dbPath);
  try {
    validateExport(db, req);
  } catch (err) {
    db.close();
    throw err;
  }
  const dest = exportTarget(outDir);
  const partial = partialDirOf(outDir, ctx.jobId);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const at = (rel: string) => insideDir(partial, rel);
  let published = false;
  const artifacts: Record<string, Record<string, unknown>> = {};
  const described: Array<{ file: string; what: string }> = [];
  const notes: string[] = [];
  try {
    const ids = scopeExampleIds(db, req.subsetId, req.datasetId);
    const perExample = ['subset', 'token_masks', 'scores'].filter((w) => req.what.includes(w as never)).length;
    const total = ids.length * perExample + 1;
    let done = 0;
    const tick = (msg: string) => ctx.progress({ current: ++done, total, message: msg });
    const check = () => {
      if (ctx.isCancelled()) throw new WinnowError('cancelled', 'export cancelled');
    };

    // provenance: which dataset rows are exported, in file order
    const exRow = exportExampleReader(db);
    // messages are stored, or derived from the row and its dataset's mapping (imports since schema 8)
    const messagesOf = messagesReader(db);
    const normOf = (id: number): Normalized => {
      const r = exRow(id);
      return messagesOf({ datasetId: r.dataset_id, rowIndex: r.row_index, rawJson: r.raw_json, messagesJson: r.messages_json });
    };
    const dsIds = [...new Set(ids.map((id) => exampleDatasetId(db, id)))].sort((a, b) => a - b);
    const datasets = dsIds.map((d) => exportDatasetRow(db, d));
    const dsIndex = new Map(datasets.map((d, i) => [d.id, i]));
    const subset = req.subsetId !== null
      ? (() => {
          const s = subsetSummaryRow(db, req.subsetId!);
          return { name: s.name, rule: JSON.parse(s.rule_json) as unknown, size: s.size };
        })()
      : null;
    const model = req.modelId ? exportModelRow(db, req.modelId) : null;
    const tok = model ? await loadTokenizer(model.path) : null;
    const b: Bundle = { db, req, ids, at, check, tick, artifacts, described, notes, exRow, normOf, dsIds, datasets, dsIndex, subset, model, tok };

    const { examples, allChat } = req.what.includes('subset') ? await writeSubset(b) : listExamples(b);
    let tokenPolicySpec: TokenPolicySpec | null = null;
    if (req.what.includes('token_masks') && tok) tokenPolicySpec = await writeTokenMasks(b, tok);
    const tokenPolicyName: string | null = tokenPolicySpec?.kind ?? null;
    let forms: LayerMaskForms | null = null;
    let maskSize: number | null = null;
    if (req.what.includes('layer_mask')) ({ forms, maskSize } = writeLayerMask(b));
    if (req.what.includes('param_mask')) writeParamMask(b);
    if (req.what.includes('weights')) await writeWeights(b);
    if (req.what.includes('scores')) await writeScores(b);
    if (req.what.includes('configs') && model) writeConfigs(b, model, { forms, allChat, tokenPolicySpec });

    writeFileSync(at(EXPORT_FILES.readme), bundleReadme({
      files: described, subset, model: model ? { name: model.name, path: model.path } : null, tokenizerId: tok?.id ?? null,
      tokenPolicy: tokenPolicyName, forms, layerMaskSize: maskSize, notes, trainers: req.what.includes('configs') && model !== null,
    }));

    const manifest = {
      format: BUNDLE_FORMAT,
      winnow: WINNOW_VERSION,
      createdAt: new Date().toISOString(),
      request: req,
      model: model ? { name: model.name, path: model.path, architecture: model.architecture, checkpointId: model.hash, files: modelHashes(model.path), tokenizer: tok!.id } : null,
      datasets: datasets.map((d) => ({ name: d.name, hash: d.hash, format: d.format, rowCount: d.row_count, sourcePath: d.source_path })),
      /** [index into datasets, row index, example id in the exporting project] of each exported example, in file order */
      examples,
      subset,
      artifacts,
      notes,
      files: {} as Record<string, string>,
    };
    for (const f of filesUnder(partial)) {
      const rel = relative(partial, f).split('\\').join('/');
      if (rel !== EXPORT_FILES.manifest) manifest.files[rel] = sha256File(f);
    }
    writeFileSync(at(EXPORT_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
    publishExport(partial, dest);
    published = true;
    insertExport(db, req.what.join(','), outDir, JSON.stringify({ ...manifest, examples: examples.length }));
    const nArtifacts = Object.keys(artifacts).length;
    const nFiles = Object.keys(manifest.files).length;
    return {
      message: `exported ${nArtifacts} ${nArtifacts === 1 ? 'artifact' : 'artifacts'} of ${scopeLabel(db, req)} to ${outDir} (${nFiles} files with the README and manifest)`,
      stats: { outDir, files: nFiles },
    };
  } finally {
    if (!published) rmSync(partial, { recursive: true, force: true });
    db.close();
  }
}

