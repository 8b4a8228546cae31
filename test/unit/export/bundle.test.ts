/**
 * The export bundle end to end through the engine service, on the real stories260K model and real GSM8K rows:
 * every file, its manifest hash, Parquet read back with hyparquet, character spans against the rendered tokens, names
 * from data that try to escape the folder, and re-opening the bundle (same project: rows matched by dataset hash;
 * fresh project: rows imported from subset.jsonl; edited file: refused naming it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parquetReadObjects } from 'hyparquet';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { initBackend } from '../../../main/engine/compute/backend';
import { blobToInt32, blobToUint8, getRender, tokenMaskFor } from '../../../main/engine/db';
import { callOk as call, finishedJob as finished } from '../../support/engine';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');
const CHAT = resolve(__dirname, '../../fixtures/data/messages.jsonl');

let home: string;
let service: EngineService;
const HOSTILE_SUBSET = '../../etc/passwd';
const HOSTILE_DATASETS = ['../../../escape', '/etc/shadow', 'CON', 'x'.repeat(190), 'a\u0000b/..\\..\\c'];

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

beforeAll(async () => {
  await initBackend();
  home = mkdtempSync(join(tmpdir(), 'winnow-bundle-'));
  service = new EngineService({ projectsDir: join(home, 'projects'), mode: 'browser', executor: new InProcessExecutor() });
  service.open('export');
});

afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
});

describe('export bundle', () => {
  let modelId = 0;
  let subsetId = 0;
  let layerMaskId = 0;
  const datasetIds: number[] = [];
  const out = () => join(home, 'out', 'bundle');

  it('prepares a project: datasets with hostile names, scores, a subset across datasets, a layer mask', async () => {
    modelId = (await call(service, 'project.open', {})).models[0]!.id;
    for (const [i, name] of HOSTILE_DATASETS.entries()) {
      const { jobId } = await call(service, 'datasets.import', { path: i === 1 ? CHAT : FIXTURE, name });
      datasetIds.push(Number((await finished(service, jobId)).stats.datasetId));
    }
    const { jobId } = await call(service, 'scoring.start', { modelId, signals: ['token_loss', 'mean_loss'], batchSize: 16, maxTokens: 256 });
    await finished(service, jobId);
    subsetId = (await call(service, 'subsets.create', { name: HOSTILE_SUBSET, rule: { kind: 'random', count: 12, seed: 3 } })).id;
    // make sure the subset spans the chat dataset too
    const chatIds = service.current().db.prepare('SELECT id FROM examples WHERE dataset_id = ? LIMIT 2').pluck().all(datasetIds[1]) as number[];
    for (const id of chatIds) service.current().db.prepare('INSERT OR IGNORE INTO subset_members (subset_id, example_id) VALUES (?, ?)').run(subsetId, id);
    layerMaskId = (await call(service, 'layerMasks.save', { name: 'last two', modelId, layers: 'last:2' })).id;
  }, 300_000);

  it('writes every artifact inside the folder, with hashes in the manifest', async () => {
    const outside = join(home, 'out');
    const { jobId } = await call(service, 'export.start', {
      outDir: out(), subsetId, modelId, layerMaskId, what: ['subset', 'token_masks', 'layer_mask', 'scores', 'configs'],
    });
    await finished(service, jobId);
    expect(readdirSync(outside)).toEqual(['bundle']); // nothing next to the bundle
    expect(existsSync(join(home, 'etc'))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(out(), 'manifest.json'), 'utf8'));
    const listed = Object.keys(manifest.files).sort();
    for (const f of ['README.md', 'axolotl.yaml', 'dataset_info.json', 'layer_mask.forms.json', 'layer_mask.json', 'llamafactory.yaml', 'scores.csv',
      'scores.parquet', 'subset.jsonl', 'subset.messages.jsonl', 'subset.messages.parquet', 'token_masks.jsonl', 'token_masks.spans.jsonl',
      'token_scores.jsonl', 'train_trl.py', 'train_hf.py', 'winnow_train.json', 'accelerate_fsdp.yaml', 'accelerate_deepspeed.yaml', 'ds_zero2.json']) expect(listed).toContain(f);
    for (const [f, h] of Object.entries(manifest.files as Record<string, string>)) {
      expect(resolve(out(), f).startsWith(out() + '/')).toBe(true);
      expect(createHash('sha256').update(readFileSync(join(out(), f))).digest('hex'), f).toBe(h);
    }
    expect(manifest.model.tokenizer).toMatch(/.+/);
    expect(manifest.model.files['tokenizer.json']).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.datasets.map((d: { hash: string }) => d.hash).every((h: string) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
    expect(manifest.subset.name).toBe(HOSTILE_SUBSET);
    expect(manifest.examples).toHaveLength(14);
    // per-dataset Parquet files: sanitized names, all directly in subset_parquet/
    const raw = listed.filter((f) => f.startsWith('subset_parquet/'));
    expect(raw.length).toBe(new Set(manifest.examples.map((e: number[]) => e[0])).size);
    for (const f of raw) {
      const base = f.slice('subset_parquet/'.length);
      expect(base).toMatch(/^[\p{L}\p{N}_][\p{L}\p{N}._-]*\.parquet$/u);
      expect(base.startsWith('.')).toBe(false);
      expect(Buffer.byteLength(base)).toBeLessThanOrEqual(140);
      expect(base.toUpperCase()).not.toBe('CON.PARQUET');
    }
  }, 120_000);

  it('Parquet copies hold the same rows as the JSONL files', async () => {
    const msgs = lines(join(out(), 'subset.messages.jsonl')).map((l) => JSON.parse(l));
    const pq = await parquetReadObjects({ file: new Uint8Array(readFileSync(join(out(), 'subset.messages.parquet'))).buffer });
    expect(pq).toHaveLength(msgs.length);
    pq.forEach((r, i) => expect(r.messages).toEqual(msgs[i].messages));
    const raw = lines(join(out(), 'subset.jsonl')).map((l) => JSON.parse(l));
    const manifest = JSON.parse(readFileSync(join(out(), 'manifest.json'), 'utf8'));
    const files = manifest.artifacts.subsetParquet.files as Record<string, string>;
    for (const [di, d] of (manifest.datasets as Array<{ name: string }>).entries()) {
      const rows = await parquetReadObjects({ file: new Uint8Array(readFileSync(join(out(), files[d.name]!))).buffer });
      const expected = raw.filter((_, k) => manifest.examples[k][0] === di);
      expect(rows).toEqual(expected);
    }
    const csv = lines(join(out(), 'scores.csv'));
    const scores = await parquetReadObjects({ file: new Uint8Array(readFileSync(join(out(), 'scores.parquet'))).buffer });
    expect(scores).toHaveLength(csv.length - 1);
    const header = csv[0]!.split(',');
    csv.slice(1).forEach((l, i) => {
      const cells = l.split(',');
      expect(Number(cells[0])).toBe(scores[i]!.example_id);
      const ml = cells[header.indexOf('mean_loss')]!;
      expect(scores[i]!.mean_loss).toBeCloseTo(Number(ml), 10);
    });
    const tok = lines(join(out(), 'token_scores.jsonl')).map((l) => JSON.parse(l));
    expect(tok.length).toBeGreaterThan(0);
    expect(tok[0].token_loss[0]).toBeNull();
  });

  it('character spans say the same as the token mask, per message', async () => {
    const spans = lines(join(out(), 'token_masks.spans.jsonl')).map((l) => JSON.parse(l));
    const masks = lines(join(out(), 'token_masks.jsonl')).map((l) => JSON.parse(l));
    expect(spans.map((s) => s.example_id)).toEqual(masks.map((m) => m.example_id));
    // the render the masks were made on (the run scored at 256 tokens; the export renders at its own 512)
    const keyId = JSON.parse(readFileSync(join(out(), 'manifest.json'), 'utf8')).artifacts.tokenMasks.render.renderKeyId as number;
    for (const [k, s] of spans.entries()) {
      const d = await call(service, 'examples.get', { exampleId: s.example_id });
      const render = getRender(service.current().db, s.example_id, keyId)!;
      const tokens = Array.from(render.tokenIds, (_, t) => ({ start: render.offsets[2 * t]!, end: render.offsets[2 * t + 1]!, label: masks[k].labels[t] !== -100 }));
      expect(s.messages).not.toBeNull();
      // independent reading: find each content in the rendered text, mark the characters of label tokens
      let cursor = 0;
      for (const [i, m] of d.messages!.entries()) {
        const at = d.renderedText.indexOf(m.content, cursor);
        expect(at, `message ${i}`).toBeGreaterThanOrEqual(0);
        cursor = at + m.content.length;
        const trained = new Array<boolean>(m.content.length).fill(false);
        for (const t of tokens) {
          if (!t.label) continue;
          for (let c = Math.max(t.start, at); c < Math.min(t.end, at + m.content.length); c++) trained[c - at] = true;
        }
        const fromSpans = new Array<boolean>(m.content.length).fill(false);
        // gsm8k content is ASCII: code points = UTF-16 units
        for (const [a, b] of s.messages[i].trained) for (let c = a; c < b; c++) fromSpans[c] = true;
        expect(fromSpans, `example ${s.example_id} message ${i}`).toEqual(trained);
        expect(s.messages[i].role).toBe(m.role);
        if (m.role === 'user') expect(s.messages[i].trained).toEqual([]);
      }
      expect(s.messages.some((m: { role: string; trained: unknown[] }) => m.role === 'assistant' && m.trained.length > 0)).toBe(true);
    }
  }, 60_000);

  it('train_trl.py and train_hf.py are valid Python and the configs name the bundle files', () => {
    let python = true;
    try {
      for (const f of ['train_trl.py', 'train_hf.py']) execFileSync('python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read())', join(out(), f)]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') python = false;
      else throw err;
    }
    expect(python || process.platform === 'win32').toBe(true);
    expect(readFileSync(join(out(), 'axolotl.yaml'), 'utf8')).toContain('path: token_masks.jsonl');
    const lf = readFileSync(join(out(), 'llamafactory.yaml'), 'utf8');
    expect(lf).toContain('finetuning_type: freeze');
    expect(lf).toContain('freeze_trainable_layers: 2');
    const info = JSON.parse(readFileSync(join(out(), 'dataset_info.json'), 'utf8'));
    expect(info.winnow_subset.file_name).toBe('subset.messages.jsonl');
    expect(readFileSync(join(out(), 'README.md'), 'utf8')).toContain('PEFT LoRA');
    // no training run in this export: Winnow's training defaults, one pass over the exported rows
    const hf = JSON.parse(readFileSync(join(out(), 'winnow_train.json'), 'utf8'));
    expect(hf).toMatchObject({ format: 'winnow-train/1', token_masks: 'token_masks.jsonl', layer_mask: 'layer_mask.json', lora: null, train_run: null });
    expect(hf.hyper).toMatchObject({ batch_size: 4, grad_accum: 1, steps: Math.ceil(14 / 4), optimizer: 'adamw', schedule: 'cosine' });
    expect(hf.token_policy.kind).toBe('response');
  });

  it('re-opening in the same project matches rows by dataset hash and restores subset, layer mask and token masks', async () => {
    const before = (await call(service, 'project.open', {})).datasets.length;
    const res = await call(service, 'bundles.open', { dir: out() });
    expect(res.importedDatasets).toBe(0);
    expect((await call(service, 'project.open', {})).datasets.length).toBe(before);
    const subsets = await call(service, 'subsets.list', {});
    const restored = subsets.find((s) => s.id === res.subsetId)!;
    expect(restored.name).toBe(`${HOSTILE_SUBSET} (2)`);
    const db = service.current().db;
    const members = (id: number) => db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(id);
    expect(members(res.subsetId)).toEqual(members(subsetId));
    const masks = await call(service, 'layerMasks.list', {});
    expect(masks.find((m) => m.id === res.layerMaskId)!.tensors).toEqual(masks.find((m) => m.id === layerMaskId)!.tensors);
    expect(res.tokenMasks).toBe(14);
    // stored under the render key they were drawn on, and they apply to that render (its tokens)
    const keyId = JSON.parse(readFileSync(join(out(), 'manifest.json'), 'utf8')).artifacts.tokenMasks.render.renderKeyId as number;
    for (const id of members(subsetId) as number[]) {
      const render = getRender(db, id, keyId)!;
      const row = db.prepare('SELECT mask, token_ids FROM token_masks WHERE name = ? AND example_id = ? AND render_key_id = ?').get(restored.name, id, keyId) as { mask: Buffer; token_ids: Buffer };
      expect(Array.from(blobToUint8(row.mask))).toEqual(Array.from(render.labelMask));
      expect(Array.from(blobToInt32(row.token_ids))).toEqual(Array.from(render.tokenIds));
      expect(Array.from(tokenMaskFor(db, restored.name, render)!.mask)).toEqual(Array.from(render.labelMask));
    }
  });

  it('re-opening in a fresh project imports the rows from subset.jsonl', async () => {
    const other = new EngineService({ projectsDir: join(home, 'projects2'), mode: 'browser', executor: new InProcessExecutor() });
    try {
      other.open('fresh');
      const res = await call(other, 'bundles.open', { dir: out() });
      expect(res.importedDatasets).toBe(JSON.parse(readFileSync(join(out(), 'manifest.json'), 'utf8')).datasets.length);
      const db = other.current().db;
      const rows = db.prepare('SELECT e.raw_json FROM subset_members m JOIN examples e ON e.id = m.example_id WHERE m.subset_id = ? ORDER BY e.dataset_id, e.row_index').pluck().all(res.subsetId) as string[];
      expect(rows.sort()).toEqual(lines(join(out(), 'subset.jsonl')).sort());
      expect((await call(other, 'subsets.list', {}))[0]!.name).toBe(HOSTILE_SUBSET);
      expect(res.tokenMasks).toBe(14);
      expect(res.layerMaskId).not.toBeNull();
    } finally {
      other.close();
    }
  }, 60_000);

  it('an edited or missing file is refused, naming it', async () => {
    const copy = join(home, 'tampered');
    cpSync(out(), copy, { recursive: true });
    writeFileSync(join(copy, 'scores.csv'), readFileSync(join(copy, 'scores.csv'), 'utf8') + '999,1,1\n');
    const r = await service.call('bundles.open', { dir: copy });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('scores.csv');
    cpSync(join(out(), 'scores.csv'), join(copy, 'scores.csv'));
    unlinkSync(join(copy, 'layer_mask.json'));
    const r2 = await service.call('bundles.open', { dir: copy });
    expect(r2.ok).toBe(false);
    if (!r2.ok) expect(r2.error.message).toContain('layer_mask.json');
    // a manifest pointing outside the bundle is refused, not followed
    const m = JSON.parse(readFileSync(join(out(), 'manifest.json'), 'utf8'));
    m.files['../../outside.txt'] = '0'.repeat(64);
    cpSync(join(out(), 'layer_mask.json'), join(copy, 'layer_mask.json'));
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify(m));
    const r3 = await service.call('bundles.open', { dir: copy });
    expect(r3.ok).toBe(false);
    if (!r3.ok) expect(r3.error.message).toContain('outside');
  });

  it('an export into a file path, or with overwrite refused, writes nothing', async () => {
    const file = join(home, 'a-file');
    writeFileSync(file, 'x');
    const r = await service.call('export.start', { outDir: file, subsetId, what: ['subset'] });
    expect(r.ok).toBe(false);
    const again = await service.call('export.start', { outDir: out(), subsetId, what: ['subset'] });
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error.message).toContain('not empty');
  });
});
