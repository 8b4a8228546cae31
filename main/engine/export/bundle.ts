/**
 * Re-opening an export bundle: verify every file against manifest.json, find the subset's rows in the project (same
 * dataset hash + row index) or import them from the bundle's subset.jsonl, then recreate the subset, the layer mask
 * and the token masks under free names.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Db } from '../db';
import { toBlob } from '../db';
import type { BundleOpenResult } from '../../../preload/contract';
import { importDataset } from '../data/import';
import { WinnowError } from '../util/errors';
import { BUNDLE_FORMAT, EXPORT_FILES, sha256File } from './run';
import { freeName, insideDir } from './names';

interface Manifest {
  format: string;
  model: { path: string; checkpointId: string; tokenizer: string } | null;
  datasets: Array<{ name: string; hash: string; rowCount: number }>;
  examples: Array<[number, number, number]>;
  subset: { name: string; rule: unknown } | null;
  artifacts: { tokenMasks?: { tokenizer: string; policy: string }; layerMask?: { provenance: Record<string, unknown> } };
  files: Record<string, string>;
}

function readManifest(dir: string): Manifest {
  const file = join(dir, EXPORT_FILES.manifest);
  if (!existsSync(file)) throw new WinnowError('not_found', `${file}: missing — not a Winnow export bundle`);
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (err) {
    throw new WinnowError('parse_error', `${file}: not valid JSON (${(err as Error).message})`);
  }
  if (m.format !== BUNDLE_FORMAT) throw new WinnowError('unsupported', `${file}: field "format" is ${JSON.stringify(m.format)}, expected "${BUNDLE_FORMAT}"`);
  if (!m.files || typeof m.files !== 'object' || !Array.isArray(m.examples) || !Array.isArray(m.datasets)) {
    throw new WinnowError('parse_error', `${file}: fields "files", "examples" and "datasets" are required`);
  }
  return m;
}

/** Every file the manifest lists must be there, unchanged. */
export function verifyBundle(dir: string): Manifest {
  const m = readManifest(dir);
  for (const [rel, hash] of Object.entries(m.files)) {
    const p = insideDir(dir, rel); // a manifest naming ../ paths is refused, not followed
    if (!existsSync(p) || !statSync(p).isFile()) throw new WinnowError('not_found', `bundle file ${rel} is missing (listed in manifest.json)`);
    if (sha256File(p) !== hash) throw new WinnowError('conflict', `bundle file ${rel} was changed after export: its sha256 differs from manifest.json`);
  }
  return m;
}

function jsonLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
}

export async function openBundle(db: Db, dirIn: string): Promise<BundleOpenResult> {
  const dir = resolve(dirIn);
  const m = verifyBundle(dir);
  const has = (f: string) => f in m.files;

  // 1. each exported example → an example id in this project
  const newIds = new Array<number>(m.examples.length);
  const datasetIds: number[] = [];
  let imported = 0;
  const rowId = db.prepare('SELECT id FROM examples WHERE dataset_id = ? AND row_index = ?').pluck();
  for (let di = 0; di < m.datasets.length; di++) {
    const d = m.datasets[di];
    const positions = m.examples.map((e, k) => (e[0] === di ? k : -1)).filter((k) => k >= 0);
    // the same file imported twice has one hash: prefer the dataset of the same name
    const candidates = db.prepare('SELECT id FROM datasets WHERE hash = ? ORDER BY name = ? DESC, id').pluck().all(d.hash, d.name) as number[];
    const found = candidates.find((cid) => positions.every((k) => rowId.get(cid, m.examples[k][1]) !== undefined));
    if (found !== undefined) {
      for (const k of positions) newIds[k] = rowId.get(found, m.examples[k][1]) as number;
      datasetIds.push(found);
      continue;
    }
    if (!has(EXPORT_FILES.subset)) {
      throw new WinnowError('not_found', `dataset "${d.name}" (sha256 ${d.hash.slice(0, 12)}…) is not in this project and the bundle has no ${EXPORT_FILES.subset} to import it from`);
    }
    const lines = jsonLines(join(dir, EXPORT_FILES.subset));
    if (lines.length !== m.examples.length) throw new WinnowError('parse_error', `${EXPORT_FILES.subset}: ${lines.length} rows, manifest.json lists ${m.examples.length}`);
    const tmp = mkdtempSync(join(tmpdir(), 'winnow-bundle-'));
    try {
      const file = join(tmp, 'subset.jsonl');
      writeFileSync(file, positions.map((k) => lines[k]).join('\n') + '\n');
      const res = await importDataset(db, { path: file, name: d.name, format: 'jsonl' });
      if (res.rows !== positions.length) throw new WinnowError('parse_error', `${EXPORT_FILES.subset}: only ${res.rows} of ${positions.length} rows of dataset "${d.name}" imported`);
      positions.forEach((k, j) => (newIds[k] = rowId.get(res.datasetId, j) as number));
      datasetIds.push(res.datasetId);
      imported++;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  // 2. subset, layer mask and token masks, all or nothing
  return db.transaction((): BundleOpenResult => {
    const name = freeName(m.subset?.name ?? `bundle ${basename(dir)}`, (n) => !!db.prepare('SELECT 1 FROM subsets WHERE name = ?').get(n));
    const rule = { ...((m.subset?.rule as object | undefined) ?? { kind: 'all' }), bundle: dir };
    const members = [...new Set(newIds)];
    const subsetId = Number(
      db.prepare(`INSERT INTO subsets (name, rule_json, size, created_at) VALUES (?, ?, ?, datetime('now'))`).run(name, JSON.stringify(rule), members.length).lastInsertRowid,
    );
    const addMember = db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (?, ?)');
    for (const id of members) addMember.run(subsetId, id);

    let layerMaskId: number | null = null;
    if (has(EXPORT_FILES.layerMask)) {
      const lm = JSON.parse(readFileSync(join(dir, EXPORT_FILES.layerMask), 'utf8')) as { trainable_tensors: string[]; provenance?: Record<string, unknown> };
      if (!Array.isArray(lm.trainable_tensors)) throw new WinnowError('parse_error', `${EXPORT_FILES.layerMask}: field "trainable_tensors" must be a list of tensor names`);
      const modelId = m.model
        ? ((db.prepare('SELECT id FROM models WHERE hash = ? ORDER BY id').pluck().get(m.model.checkpointId) as number | undefined) ??
          (db.prepare('SELECT id FROM models WHERE path = ? ORDER BY id').pluck().get(m.model.path) as number | undefined) ?? null)
        : null;
      const lmName = freeName(name, (n) => !!db.prepare('SELECT 1 FROM layer_masks WHERE name = ?').get(n));
      layerMaskId = Number(
        db.prepare(`INSERT INTO layer_masks (name, model_id, tensors_json, provenance_json, created_at) VALUES (?, ?, ?, ?, datetime('now'))`)
          .run(lmName, modelId, JSON.stringify(lm.trainable_tensors), JSON.stringify({ ...(lm.provenance ?? {}), bundle: dir })).lastInsertRowid,
      );
    }

    let tokenMasks = 0;
    const tm = m.artifacts.tokenMasks;
    if (has(EXPORT_FILES.tokenMasks) && tm) {
      const byOldId = new Map(m.examples.map((e, k) => [e[2], newIds[k]]));
      const put = db.prepare(`INSERT INTO token_masks (name, example_id, tokenizer_id, mask, provenance_json) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(name, example_id, tokenizer_id) DO UPDATE SET mask = excluded.mask, provenance_json = excluded.provenance_json`);
      const prov = JSON.stringify({ source: 'bundle', bundle: dir, policy: tm.policy });
      for (const [i, line] of jsonLines(join(dir, EXPORT_FILES.tokenMasks)).entries()) {
        const row = JSON.parse(line) as { example_id: number; labels: number[] };
        const id = byOldId.get(row.example_id);
        if (id === undefined || !Array.isArray(row.labels)) throw new WinnowError('parse_error', `${EXPORT_FILES.tokenMasks} line ${i + 1}: example ${row.example_id} is not in manifest.json`);
        put.run(name, id, tm.tokenizer, toBlob(Uint8Array.from(row.labels, (l) => (l === -100 ? 0 : 1))), prov);
        tokenMasks++;
      }
    }
    return { subsetId, layerMaskId, datasetId: datasetIds[0] ?? 0, datasetIds, importedDatasets: imported, tokenMasks };
  })();
}
