/**
 * Re-opening edited export bundles. A real bundle is exported once (two datasets, a subset, token masks, a layer
 * mask, scores, configs); each case copies it and edits it: manifest.json fields replaced with hostile values or
 * removed, its text garbled, paths like `../x` or absolute ones listed, files truncated, rewritten, deleted, turned
 * into folders or links, or their JSON lines edited with the manifest hash updated so the edit reaches the parsers.
 * Opening it — in the exporting project (rows matched by hash) or in a fresh one (rows imported from subset.jsonl) —
 * must end in a result or a WinnowError naming the file or field, within a time limit, and a refused bundle must
 * leave the project database exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { openProjectDb, type Db } from '../../../main/engine/db';
import { openBundle } from '../../../main/engine/export/bundle';
import { cleanly, count, counts, dbSnapshot, fuzzParams, fuzzSeed, withinTime } from './fuzz';
import { serviceCalls } from '../../support/engine';

/** this run's fast-check seed (printed; WINNOW_FUZZ_SEED replays it) */
const SEED = fuzzSeed('bundle');

const DATA = resolve(__dirname, '../../fixtures/data');
const home = mkdtempSync(join(tmpdir(), 'winnow-fuzz-bundle-'));
const base = join(home, 'bundle');
const outside = join(home, 'outside.txt');
let service: EngineService;
let manifest: Record<string, unknown>;
let files: string[];

const { call } = serviceCalls(() => service);

beforeAll(async () => {
  service = new EngineService({ projectsDir: join(home, 'projects'), mode: 'browser', executor: new InProcessExecutor() });
  service.open('source');
  const modelId = (await call('project.open', {})).models[0]!.id;
  for (const f of ['gsm8k-50.jsonl', 'messages.jsonl']) await call('datasets.import', { path: join(DATA, f) });
  await service.whenIdle();
  const subset = await call('subsets.create', { name: 'picked', rule: { kind: 'random', count: 16, seed: 5 } });
  // make sure the subset spans both datasets
  const db = service.current().db;
  const chat = db.prepare('SELECT id FROM examples WHERE dataset_id = (SELECT MAX(id) FROM datasets) LIMIT 2').pluck().all() as number[];
  for (const id of chat) db.prepare('INSERT OR IGNORE INTO subset_members (subset_id, example_id) VALUES (?, ?)').run(subset.id, id);
  const layerMaskId = (await call('layerMasks.save', { name: 'last two', modelId, layers: 'last:2' })).id;
  const { jobId } = await call('export.start', { outDir: base, subsetId: subset.id, modelId, layerMaskId, what: ['subset', 'token_masks', 'layer_mask', 'scores', 'configs'] });
  await service.whenIdle();
  const job = (await call('jobs.list', {})).find((j) => j.jobId === jobId)!;
  expect(job.status, job.error?.message).toBe('done');
  manifest = JSON.parse(readFileSync(join(base, 'manifest.json'), 'utf8'));
  files = Object.keys(manifest.files as object);
  expect((manifest.datasets as unknown[]).length).toBe(2); // rows from both datasets
  writeFileSync(outside, 'not part of any bundle\n');
}, 300_000);

afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
  console.log('fuzz cases run:', JSON.stringify(counts));
});

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const HOSTILE_PATHS = ['../outside.txt', '../../etc/passwd', '/etc/hostname', outside, '..', '.', '', 'a/../../outside.txt', 'subset.jsonl/../../outside.txt', 'x\u0000y', 'C:\\Windows\\win.ini', '\\\\server\\share\\x', 'model/../../outside.txt', 'link.txt'];
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, -1, 0, 1e308, -1e308, 2 ** 53, 1.5, '', '../x', '/etc/passwd', [], {}, [[]], [[0, 0]], [[-1, 0, 1]], [[99, 0, 1]], [[0, 1e9, 1]], { name: 1 }, 'x'.repeat(5000), 'winnow-bundle/2', true),
);

/** Paths into the manifest that openBundle reads (and some it does not), to replace or remove. */
function manifestPaths(): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  const walk = (v: unknown, path: Array<string | number>, depth: number) => {
    out.push(path);
    if (depth === 0 || v === null || typeof v !== 'object') return;
    const entries = Array.isArray(v) ? v.slice(0, 3).map((x, i) => [i, x] as const) : Object.entries(v);
    for (const [k, x] of entries) walk(x, [...path, k], depth - 1);
  };
  for (const [k, v] of Object.entries(manifest)) walk(v, [k], 3);
  return out;
}

type Edit =
  | { kind: 'field'; path: number; value: unknown; remove: boolean }
  | { kind: 'manifest-text'; how: 'truncate' | 'insert' | 'replace' | 'empty' | 'bom' | 'folder'; at: number; text: string }
  | { kind: 'hostile-path'; path: string; realHash: boolean; renameExisting: boolean; which: number }
  | { kind: 'file'; which: number; how: 'truncate' | 'append' | 'random' | 'delete' | 'folder' | 'link'; at: number; bytes: Uint8Array; rehash: boolean }
  | { kind: 'line'; file: 'subset.jsonl' | 'token_masks.jsonl' | 'layer_mask.json'; at: number; how: 'replace' | 'delete' | 'duplicate'; value: unknown; raw: boolean; text: string };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('field' as const), path: fc.nat(), value: hostileValue, remove: fc.boolean() }),
  fc.record({ kind: fc.constant('manifest-text' as const), how: fc.constantFrom('truncate', 'insert', 'replace', 'empty', 'bom', 'folder') as fc.Arbitrary<'truncate'>, at: fc.double({ min: 0, max: 1, noNaN: true }), text: fc.string({ maxLength: 20 }) }),
  fc.record({ kind: fc.constant('hostile-path' as const), path: fc.constantFrom(...HOSTILE_PATHS), realHash: fc.boolean(), renameExisting: fc.boolean(), which: fc.nat() }),
  fc.record({
    kind: fc.constant('file' as const), which: fc.nat(), how: fc.constantFrom('truncate', 'append', 'random', 'delete', 'folder', 'link') as fc.Arbitrary<'truncate'>,
    at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.uint8Array({ maxLength: 64 }), rehash: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('line' as const), file: fc.constantFrom('subset.jsonl', 'token_masks.jsonl', 'layer_mask.json') as fc.Arbitrary<'subset.jsonl'>,
    at: fc.double({ min: 0, max: 1, noNaN: true }), how: fc.constantFrom('replace', 'delete', 'duplicate') as fc.Arbitrary<'replace'>,
    value: fc.oneof(hostileValue, fc.record({ example_id: hostileValue, labels: hostileValue }), fc.record({ trainable_tensors: hostileValue })), raw: fc.boolean(), text: fc.string({ maxLength: 12 }),
  }),
);

function setPath(obj: unknown, path: Array<string | number>, value: unknown, remove: boolean): void {
  let o = obj as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) {
    if (o[k] === null || typeof o[k] !== 'object') return; // an earlier edit replaced the parent
    o = o[k] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (remove && Array.isArray(o)) o.splice(Number(last), 1);
  else if (remove) delete o[last];
  else o[last] = value;
}

/** Applies the edits to a copy of the bundle; the manifest is kept as an object until the end unless its text is garbled. */
function applyEdits(dir: string, edits: Edit[]): void {
  const mpath = join(dir, 'manifest.json');
  const m = structuredClone(manifest) as Record<string, unknown> & { files: Record<string, unknown> };
  let text: string | null = null;
  const paths = manifestPaths();
  const filesOf = () => (m.files !== null && typeof m.files === 'object' ? m.files : {});
  const rehash = (rel: string) => {
    const p = join(dir, rel);
    if (existsSync(p) && statSync(p).isFile()) (filesOf() as Record<string, unknown>)[rel] = sha(readFileSync(p));
  };
  for (const e of edits) {
    if (e.kind === 'field') setPath(m, paths[e.path % paths.length]!, e.value, e.remove);
    else if (e.kind === 'manifest-text') {
      const t: string = text ?? JSON.stringify(m, null, 2);
      const at = Math.floor(e.at * t.length);
      text = e.how === 'truncate' ? t.slice(0, at) : e.how === 'insert' ? t.slice(0, at) + e.text + t.slice(at) : e.how === 'replace' ? e.text : e.how === 'empty' ? '' : e.how === 'bom' ? '\ufeff' + t : t;
      if (e.how === 'folder') text = '<folder>';
    } else if (e.kind === 'hostile-path') {
      if (e.path === 'link.txt' && !existsSync(join(dir, 'link.txt'))) symlinkSync(outside, join(dir, 'link.txt'));
      const hash = e.realHash ? sha(readFileSync(outside)) : '0'.repeat(64);
      const f = filesOf() as Record<string, unknown>;
      if (e.renameExisting && files.length) delete f[files[e.which % files.length]!];
      f[e.path] = hash;
    } else if (e.kind === 'file') {
      const rel = files[e.which % files.length]!;
      const p = join(dir, rel);
      if (!existsSync(p) || !statSync(p).isFile()) continue;
      const b = readFileSync(p);
      rmSync(p, { recursive: true, force: true });
      if (e.how === 'truncate') writeFileSync(p, b.subarray(0, Math.floor(e.at * b.length)));
      else if (e.how === 'append') writeFileSync(p, Buffer.concat([b, e.bytes]));
      else if (e.how === 'random') writeFileSync(p, e.bytes);
      else if (e.how === 'folder') mkdirSync(p);
      else if (e.how === 'link') symlinkSync(outside, p);
      if (e.rehash) rehash(rel);
    } else {
      const p = join(dir, e.file);
      // lstat: a file an earlier edit of this case turned into a link to `outside` is not edited through the link
      if (!existsSync(p) || !lstatSync(p).isFile()) continue;
      const lines = readFileSync(p, 'utf8').split('\n');
      const at = Math.floor(e.at * Math.max(1, lines.length - 1));
      const value = e.raw ? e.text : JSON.stringify(e.value);
      if (e.how === 'replace') lines[at] = value;
      else if (e.how === 'delete') lines.splice(at, 1);
      else lines.splice(at, 0, lines[at] ?? value);
      writeFileSync(p, lines.join('\n'));
      rehash(e.file); // the edit reaches the parser instead of stopping at the hash check
    }
  }
  rmSync(mpath, { force: true });
  if (text === '<folder>') mkdirSync(mpath);
  else writeFileSync(mpath, text ?? JSON.stringify(m, null, 2));
}

const NAMED = /manifest\.json|subset\.jsonl|token_masks\.jsonl|layer_mask\.json|bundle file|\.csv|\.parquet|\.py|\.ya?ml|README\.md|dataset_info\.json/;

let n = 0;
async function openCase(edits: Edit[], target: 'same' | 'fresh'): Promise<'ok' | 'error'> {
  const dir = join(home, `case${n++}`);
  cpSync(base, dir, { recursive: true });
  applyEdits(dir, edits);
  expect(readFileSync(outside, 'utf8'), 'the edits themselves left the file outside the bundle alone').toBe('not part of any bundle\n');
  const freshPath = join(home, `fresh${n}.winnow`);
  const db: Db = target === 'same' ? service.current().db : openProjectDb(freshPath);
  try {
    const before = dbSnapshot(db);
    let message = '';
    const r = await withinTime(15_000, dir, () =>
      cleanly(async () => {
        try {
          await openBundle(db, dir);
        } catch (err) {
          message = (err as Error).message;
          throw err;
        }
      }),
    );
    if (process.env.WINNOW_FUZZ_VERBOSE) console.log(r, target, message.slice(0, 240));
    if (r === 'error') {
      expect(message).toMatch(NAMED);
      expect(dbSnapshot(db)).toEqual(before);
    }
    expect(readFileSync(outside, 'utf8')).toBe('not part of any bundle\n');
    return r;
  } finally {
    if (target === 'fresh') {
      db.close();
      rmSync(freshPath, { force: true });
      for (const s of ['-wal', '-shm']) if (existsSync(freshPath + s)) unlinkSync(freshPath + s);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('bundles.open on edited bundles', () => {
  it('the untouched bundle opens in both projects (the cases below start from a good bundle)', async () => {
    expect(await openCase([], 'same')).toBe('ok');
    expect(await openCase([], 'fresh')).toBe('ok');
  }, 60_000);

  it('edited manifest fields, garbled manifest text, hostile paths, edited and missing files', async () => {
    let ok = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.constantFrom('same' as const, 'fresh' as const), async (edits, target) => {
        count('bundle/edited');
        if ((await openCase(edits, target)) === 'ok') ok++;
      }),
      fuzzParams(SEED, 300),
    );
    expect(ok).toBeGreaterThan(0); // harmless edits (e.g. createdAt, notes) still open
  }, 600_000);

  it('a manifest listing paths outside the bundle is refused even with their true hash', async () => {
    for (const p of HOSTILE_PATHS) {
      count('bundle/hostile-path');
      expect(await openCase([{ kind: 'hostile-path', path: p, realHash: true, renameExisting: false, which: 0 }], 'same')).toBe('error');
    }
  }, 120_000);
});
