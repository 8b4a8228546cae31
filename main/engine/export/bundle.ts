/**
 * Re-opening an export bundle: verify every file against manifest.json, find the subset's rows in the project (same
 * dataset hash + row index) or import them from the bundle's subset.jsonl, then recreate the subset, the layer mask
 * and the token masks under free names. The manifest is checked field by field and every file it uses is read and
 * checked before anything is written; rows imported for a bundle that is then refused are removed again, so a
 * refused bundle leaves the project as it was.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Db } from '../db';
import { deleteDataset, openProjectDb, renderKeyId, writeTokenMask } from '../db';
import {
  datasetIdsByHash, exampleIdByRowReader, insertBundleLayerMask, insertSubsetWithMembers, layerMaskNameTaken, modelIdByHashOrPath, subsetNameTaken,
} from '../db/bundles';
import type { BundleOpenResult } from '../../../preload/contract';
import { importDataset } from '../data/import';
import { WinnowError } from '../util/errors';
import { BUNDLE_FORMAT, EXPORT_FILES, sha256File } from './files';
import { freeName, insideDir } from './names';

const nat = z.number().int().nonnegative();
/** The fields of manifest.json that re-opening reads; others are informative and ignored. */
const ManifestSchema = z.object({
  format: z.string(),
  model: z.object({ path: z.string(), checkpointId: z.string(), tokenizer: z.string().nullable() }).nullable().optional(),
  datasets: z.array(z.object({ name: z.string().min(1), hash: z.string().min(1), rowCount: nat.optional() })),
  /** [index into datasets, row index, example id in the exporting project] */
  examples: z.array(z.tuple([nat, nat, z.number().int()])),
  subset: z.object({ name: z.string().min(1).max(200), rule: z.record(z.string(), z.unknown()).nullable() }).nullable().optional(),
  artifacts: z.object({
    tokenMasks: z.object({
      tokenizer: z.string().min(1),
      policy: z.string(),
      /** the render key the masks were drawn on; bundles from before render keys name only the label policy and max tokens */
      render: z.object({
        labelPolicy: z.string(),
        maxTokens: z.number().int().positive().nullable(),
        templateHash: z.string().optional(),
        renderer: z.number().int().positive().optional(),
      }).nullable().optional(),
    }).optional(),
  }).optional(),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 (64 hex digits)')),
});
type Manifest = z.infer<typeof ManifestSchema>;

const TokenMaskLine = z.object({ example_id: z.number().int(), input_ids: z.array(z.number().int()), labels: z.array(z.number().int()) });
const LayerMaskFile = z.object({ trainable_tensors: z.array(z.string()), provenance: z.record(z.string(), z.unknown()).optional() });

/** `examples[3][1]`-style name of a field, for messages. */
function fieldName(path: PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '') || '(the whole document)';
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new WinnowError('parse_error', `${where}: field "${fieldName(issue.path)}": ${issue.message}`);
}

function readJson(file: string, name: string): unknown {
  if (!statSync(file).isFile()) throw new WinnowError('parse_error', `${name} is not a file`);
  try {
    return JSON.parse(readFileSync(file, 'utf8').replace(/^\ufeff/, ''));
  } catch (err) {
    throw new WinnowError('parse_error', `${name}: not valid JSON (${(err as Error).message})`);
  }
}

function readManifest(dir: string): Manifest {
  const file = join(dir, EXPORT_FILES.manifest);
  if (!existsSync(file)) throw new WinnowError('not_found', `${file}: missing — not a Winnow export bundle`);
  const raw = readJson(file, file);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new WinnowError('parse_error', `${file}: expected a JSON object`);
  const format = (raw as { format?: unknown }).format;
  if (format !== BUNDLE_FORMAT) throw new WinnowError('unsupported', `${file}: field "format" is ${JSON.stringify(format) ?? 'missing'}, expected "${BUNDLE_FORMAT}"`);
  const m = parseWith(ManifestSchema, raw, file);
  m.examples.forEach((e, i) => {
    if (e[0] >= m.datasets.length) throw new WinnowError('parse_error', `${file}: field "examples[${i}][0]" is ${e[0]}, but "datasets" has ${m.datasets.length} entries`);
  });
  return m;
}

/** Every file the manifest lists must be there, unchanged. */
export function verifyBundle(dir: string): Manifest {
  const m = readManifest(dir);
  for (const [rel, hash] of Object.entries(m.files)) {
    let p: string;
    try {
      p = insideDir(dir, rel); // a manifest naming ../ paths or links is refused, not followed
    } catch (err) {
      throw new WinnowError('bad_input', `manifest.json lists ${JSON.stringify(rel)}, which is refused: ${(err as Error).message}`);
    }
    if (!existsSync(p) || !statSync(p).isFile()) throw new WinnowError('not_found', `bundle file ${rel} is missing (listed in manifest.json)`);
    if (sha256File(p) !== hash) throw new WinnowError('conflict', `bundle file ${rel} was changed after export: its sha256 differs from manifest.json`);
  }
  return m;
}

/** Non-blank lines with their 1-based line numbers. */
function jsonLines(file: string): Array<{ line: number; text: string }> {
  return readFileSync(file, 'utf8').split('\n').map((text, i) => ({ line: i + 1, text })).filter((l) => l.text.trim() !== '');
}

function parseLine(name: string, line: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WinnowError('parse_error', `${name} line ${line}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Each exported example's id in this project, where its dataset is here (same hash, every row index present; the
 * dataset of the same name first), and the datasets that are not and must be imported (with their examples' positions).
 */
function findBundleRows(db: Db, m: Manifest, rowId: (datasetId: number, rowIndex: number) => number | undefined): { newIds: number[]; datasetIds: number[]; toImport: Array<{ di: number; positions: number[] }> } {
  const newIds = new Array<number>(m.examples.length);
  const datasetIds: number[] = [];
  const toImport: Array<{ di: number; positions: number[] }> = [];
  for (let di = 0; di < m.datasets.length; di++) {
    const d = m.datasets[di]!;
    const positions = m.examples.map((e, k) => (e[0] === di ? k : -1)).filter((k) => k >= 0);
    // the same file imported twice has one hash: prefer the dataset of the same name
    const candidates = datasetIdsByHash(db, d.hash, d.name);
    const found = candidates.find((cid) => positions.every((k) => rowId(cid, m.examples[k]![1]) !== undefined));
    if (found === undefined) {
      toImport.push({ di, positions });
      continue;
    }
    for (const k of positions) newIds[k] = rowId(found, m.examples[k]![1]) as number;
    datasetIds.push(found);
  }
  return { newIds, datasetIds, toImport };
}

/** The bundle's subset, layer mask and token masks, recreated under free names (the caller runs it in one transaction). */
function recreateInProject(
  db: Db, dir: string, m: Manifest,
  o: { lm: z.infer<typeof LayerMaskFile> | null; maskRows: Array<z.infer<typeof TokenMaskLine>>; newIds: number[]; datasetIds: number[]; importedDatasets: number },
): BundleOpenResult {
  const { lm, maskRows, newIds, datasetIds } = o;
  const tm = m.artifacts?.tokenMasks;
  const name = freeName(m.subset?.name ?? `bundle ${basename(dir)}`, (n) => subsetNameTaken(db, n));
  const rule = { ...(m.subset?.rule ?? { kind: 'all' }), bundle: dir };
  const members = [...new Set(newIds)];
  const subsetId = insertSubsetWithMembers(db, name, JSON.stringify(rule), members);

  let layerMaskId: number | null = null;
  if (lm) {
    const modelId = m.model ? modelIdByHashOrPath(db, m.model.checkpointId, m.model.path) : null;
    const lmName = freeName(name, (n) => layerMaskNameTaken(db, n));
    layerMaskId = insertBundleLayerMask(db, lmName, modelId, JSON.stringify(lm.trainable_tensors), JSON.stringify({ ...(lm.provenance ?? {}), bundle: dir }));
  }

  let tokenMasks = 0;
  if (tm && maskRows.length) {
    const byOldId = new Map(m.examples.map((e, k) => [e[2], newIds[k]!]));
    // stored under the render key they were drawn on, with their input_ids: they apply to the same tokens only
    const r = tm.render;
    const keyId = renderKeyId(db, {
      tokenizerId: tm.tokenizer, templateHash: r?.templateHash ?? '', labelPolicy: r?.labelPolicy ?? 'assistant',
      maxTokens: r ? r.maxTokens : 512, renderer: r?.renderer ?? 1,
    });
    const provenance = { source: 'bundle', bundle: dir, policy: tm.policy };
    for (const row of maskRows) {
      writeTokenMask(db, {
        name, exampleId: byOldId.get(row.example_id)!, renderKeyId: keyId, tokenIds: Int32Array.from(row.input_ids),
        mask: Uint8Array.from(row.labels, (l) => (l === -100 ? 0 : 1)), provenance,
      });
      tokenMasks++;
    }
  }
  return { subsetId, layerMaskId, datasetId: datasetIds[0] ?? 0, datasetIds, importedDatasets: o.importedDatasets, tokenMasks };
}

export async function openBundle(db: Db, dirIn: string): Promise<BundleOpenResult> {
  const dir = resolve(dirIn);
  const m = verifyBundle(dir);
  const has = (f: string) => Object.hasOwn(m.files, f);

  // 1. read and check every file used, before anything is written
  const lm = has(EXPORT_FILES.layerMask) ? parseWith(LayerMaskFile, readJson(join(dir, EXPORT_FILES.layerMask), EXPORT_FILES.layerMask), EXPORT_FILES.layerMask) : null;
  const tm = m.artifacts?.tokenMasks;
  const oldIds = new Set(m.examples.map((e) => e[2]));
  const maskRows = has(EXPORT_FILES.tokenMasks) && tm
    ? jsonLines(join(dir, EXPORT_FILES.tokenMasks)).map(({ line, text }) => {
        const where = `${EXPORT_FILES.tokenMasks} line ${line}`;
        const row = parseWith(TokenMaskLine, parseLine(EXPORT_FILES.tokenMasks, line, text), where);
        if (!oldIds.has(row.example_id)) throw new WinnowError('parse_error', `${where}: example ${row.example_id} is not in manifest.json`);
        if (row.labels.length !== row.input_ids.length) {
          throw new WinnowError('parse_error', `${where}: "labels" has ${row.labels.length} entries but "input_ids" has ${row.input_ids.length}`);
        }
        return row;
      })
    : [];

  // 2. each exported example → an example id in this project: found by dataset hash and row index, else imported
  const rowId = exampleIdByRowReader(db);
  const { newIds, datasetIds, toImport } = findBundleRows(db, m, rowId);
  let lines: string[] = [];
  if (toImport.length) {
    const d = m.datasets[toImport[0]!.di]!;
    if (!has(EXPORT_FILES.subset)) {
      throw new WinnowError('not_found', `dataset "${d.name}" (sha256 ${d.hash.slice(0, 12)}…) is not in this project and the bundle has no ${EXPORT_FILES.subset} to import it from`);
    }
    const rows = jsonLines(join(dir, EXPORT_FILES.subset));
    if (rows.length !== m.examples.length) throw new WinnowError('parse_error', `${EXPORT_FILES.subset}: ${rows.length} rows, manifest.json lists ${m.examples.length}`);
    for (const r of rows) parseLine(EXPORT_FILES.subset, r.line, r.text);
    lines = rows.map((r) => r.text);
  }

  const importedIds: number[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'winnow-bundle-'));
  try {
    const files = toImport.map(({ di, positions }, i) => {
      const file = join(tmp, String(i), EXPORT_FILES.subset);
      mkdirSync(join(tmp, String(i)));
      writeFileSync(file, positions.map((k) => lines[k]).join('\n') + '\n');
      return { d: m.datasets[di]!, positions, file };
    });
    // a dry run into a scratch project first: rows that would not import refuse the bundle before this project is
    // touched (an import commits, and removing it again would still leave traces in the search index)
    if (files.length) {
      const scratch = openProjectDb(join(tmp, 'check.winnow'));
      try {
        for (const { d, positions, file } of files) {
          let rows: number;
          try {
            rows = (await importDataset(scratch, { path: file, name: d.name, format: 'jsonl', textIndex: false })).rows;
          } catch (err) {
            // the importer names its own line numbers, counted among this dataset's rows only
            if (!(err instanceof WinnowError)) throw err;
            throw new WinnowError(err.code, `${EXPORT_FILES.subset}: the rows of dataset "${d.name}" do not import (line numbers count only its rows): ${err.message}`);
          }
          if (rows !== positions.length) throw new WinnowError('parse_error', `${EXPORT_FILES.subset}: only ${rows} of ${positions.length} rows of dataset "${d.name}" would import`);
        }
      } finally {
        scratch.close();
      }
    }
    for (const { d, positions, file } of files) {
      const res = await importDataset(db, { path: file, name: d.name, format: 'jsonl' });
      importedIds.push(res.datasetId);
      if (res.rows !== positions.length) throw new WinnowError('parse_error', `${EXPORT_FILES.subset}: only ${res.rows} of ${positions.length} rows of dataset "${d.name}" imported`);
      positions.forEach((k, j) => (newIds[k] = rowId(res.datasetId, j) as number));
      datasetIds.push(res.datasetId);
    }

    // 3. subset, layer mask and token masks, all or nothing
    return db.transaction(() => recreateInProject(db, dir, m, { lm, maskRows, newIds, datasetIds, importedDatasets: importedIds.length }))();
  } catch (err) {
    // should the final transaction still fail, rows imported for the bundle go again
    for (const id of importedIds) deleteDataset(db, id);
    throw err;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
