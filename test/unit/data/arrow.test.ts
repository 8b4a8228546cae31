/**
 * The Hugging Face `datasets` library's Arrow files, written here in the layouts it writes: a save_to_disk folder
 * (`data-0000i-of-0000N.arrow` in the Arrow IPC stream format, several record batches each, the schema's "huggingface"
 * metadata, `dataset_info.json`, `state.json` listing the shards), a DatasetDict folder of splits, the processed cache
 * (`org___name/<config>/<version>/<hash>/name-train.arrow`), and hub dataset snapshots (links into blobs/) listed by
 * split. Imported with exact counts and rendered.
 */
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Int64, List, Struct, Field, Table, Utf8, tableToIPC, vectorFromArray, type DataType } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { Db } from '../../../main/engine/db/open';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { importDataset } from '../../../main/engine/data/import';
import { previewImport } from '../../../main/engine/data/preview';
import { renderExample } from '../../../main/engine/data/render';
import { listCachedDatasets, splitOf } from '../../../main/engine/models/hub-cache';
import type { WinnowTokenizer } from '../../../main/engine/models/types';
import { dbSnapshot, withinTime } from '../fuzz/fuzz';
import { projectPerTest, storiesTokenizer } from './helpers';

let tok: WinnowTokenizer;
beforeAll(async () => {
  tok = await storiesTokenizer();
});
let db: Db;
let dir: string;
const newProject = projectPerTest('winnow-arrow-');
function setup() {
  ({ db, dir } = newProject());
}

const MESSAGES = new List(new Field('item', new Struct([new Field('content', new Utf8(), true), new Field('role', new Utf8(), true)]), true));
type Col = { name: string; type: DataType; values: unknown[] };
/** A table of `batch`-row record batches, with the schema metadata `datasets` writes. */
function arrowTable(cols: Col[], batch: number, features: Record<string, unknown>): Table {
  const n = cols[0].values.length;
  const parts: Table[] = [];
  for (let at = 0; at < n; at += batch) {
    parts.push(new Table(Object.fromEntries(cols.map((c) => [c.name, vectorFromArray(c.values.slice(at, at + batch), c.type)]))));
  }
  const t = parts.slice(1).reduce((a, b) => a.concat(b), parts[0]);
  t.schema.metadata.set('huggingface', JSON.stringify({ info: { features } }));
  return t;
}
const chat = (i: number) => [{ role: 'user', content: `Question ${i}?` }, { role: 'assistant', content: `Answer ${i}.` }];
const CHAT_FEATURES = { id: { dtype: 'int64', _type: 'Value' }, messages: [{ content: { dtype: 'string', _type: 'Value' }, role: { dtype: 'string', _type: 'Value' } }] };

/** save_to_disk: `shards` files of the rows, state.json and dataset_info.json as datasets 2.x/3.x write them */
function saveToDisk(folder: string, ids: number[], shards: number): void {
  mkdirSync(folder, { recursive: true });
  const per = Math.ceil(ids.length / shards);
  const files: Array<{ filename: string }> = [];
  for (let s = 0; s < shards; s++) {
    const part = ids.slice(s * per, (s + 1) * per);
    const name = `data-${String(s).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.arrow`;
    const t = arrowTable([{ name: 'id', type: new Int64(), values: part.map(BigInt) }, { name: 'messages', type: MESSAGES, values: part.map(chat) }], 2, CHAT_FEATURES);
    writeFileSync(join(folder, name), tableToIPC(t, 'stream'));
    files.push({ filename: name });
  }
  writeFileSync(join(folder, 'dataset_info.json'), JSON.stringify({ citation: '', description: '', features: CHAT_FEATURES, homepage: '', license: '' }, null, 2));
  writeFileSync(join(folder, 'state.json'), JSON.stringify({
    _data_files: files, _fingerprint: 'a1b2c3d4e5f60718', _format_columns: null, _format_kwargs: {}, _format_type: null, _output_all_columns: false, _split: null,
  }, null, 2));
}

describe('datasets save_to_disk folders', () => {
  it('a Dataset folder of two shards, several record batches each: every row, in order, as messages', async () => {
    setup();
    const folder = join(dir, 'chat_saved');
    saveToDisk(folder, [0, 1, 2, 3, 4, 5, 6], 2);
    const pv = await previewImport(folder, {}, tok);
    expect(pv).toMatchObject({ fileFormat: 'arrow', mapping: { format: 'messages', field: 'messages' }, confidence: 1 });
    expect(pv.rows).toHaveLength(7);
    const r = await importDataset(db, { path: folder });
    expect(r.rows).toBe(7);
    const rows = Array.from({ length: 7 }, (_, i) => getExampleByRow(db, r.datasetId, i));
    expect(rows.map((x) => x.messages)).toEqual([0, 1, 2, 3, 4, 5, 6].map(chat));
    expect(rows[6].raw).toEqual({ id: 6, messages: chat(6) });
    expect(renderExample(tok, rows[3].messages as never, { labelPolicy: 'assistant' }).text).toContain('Question: Question 3?\nAnswer: Answer 3.');
  });

  it('a DatasetDict folder names its splits; a split folder imports; a shard missing from state.json is named', async () => {
    setup();
    const root = join(dir, 'dict');
    saveToDisk(join(root, 'train'), [0, 1, 2], 1);
    saveToDisk(join(root, 'test'), [10, 11], 1);
    writeFileSync(join(root, 'dataset_dict.json'), JSON.stringify({ splits: ['train', 'test'] }));
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: root })).rejects.toThrow(/dict: a DatasetDict saved with save_to_disk, holding the splits "train", "test"; import one split's folder/);
    expect(dbSnapshot(db)).toEqual(before);
    const test = await importDataset(db, { path: join(root, 'test') });
    expect(test.rows).toBe(2);
    expect(getExampleByRow(db, test.datasetId, 1).messages).toEqual(chat(11));
    const state = JSON.parse(readFileSync(join(root, 'train', 'state.json'), 'utf8')) as { _data_files: Array<{ filename: string }> };
    state._data_files.push({ filename: 'data-00001-of-00002.arrow' });
    writeFileSync(join(root, 'train', 'state.json'), JSON.stringify(state));
    await expect(importDataset(db, { path: join(root, 'train') })).rejects.toThrow('train/state.json lists data-00001-of-00002.arrow, which is missing from the folder');
  });

  it('a cut-short shard is named with its file, and nothing is kept', async () => {
    setup();
    const folder = join(dir, 'cut');
    saveToDisk(folder, [0, 1, 2, 3, 4, 5], 1);
    const f = join(folder, 'data-00000-of-00001.arrow');
    const bytes = readFileSync(f);
    writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: folder })).rejects.toThrow(/data-00000-of-00001\.arrow/);
    expect(dbSnapshot(db)).toEqual(before);
  });
});

describe('Arrow IPC file format (ARROW1 magic and footer)', () => {
  it('a corrupt footer is an error naming the file, not the process running out of memory (apache-arrow trusts its lengths)', async () => {
    setup();
    const t = arrowTable([{ name: 'text', type: new Utf8(), values: ['x y', 'y z', 'z w', 'w v'] }], 2, {});
    const good = Buffer.from(tableToIPC(t, 'file'));
    const ok = await importDataset(db, { path: join(dir, 'good.arrow'), ...(writeFileSync(join(dir, 'good.arrow'), good), {}) });
    expect(ok.rows).toBe(4);
    // a flipped byte in the footer's schema: apache-arrow builds objects until the heap is gone
    const bad = Buffer.from(good);
    bad[bad.length - 20] ^= 0xff;
    writeFileSync(join(dir, 'footer.arrow'), bad);
    const before = dbSnapshot(db);
    const heap = process.env.WINNOW_ARROW_HEAP_MB;
    process.env.WINNOW_ARROW_HEAP_MB = '64'; // the runaway stops sooner
    onTestFinished(() => {
      if (heap === undefined) delete process.env.WINNOW_ARROW_HEAP_MB;
      else process.env.WINNOW_ARROW_HEAP_MB = heap;
    });
    await expect(withinTime(60_000, 'footer.arrow', () => importDataset(db, { path: join(dir, 'footer.arrow') })))
      .rejects.toThrow(/footer\.arrow: not a valid Arrow file \(decoding record batch 1 ran out of memory: corrupt lengths\? A batch that really needs more than 64 MB/);
    expect(dbSnapshot(db)).toEqual(before);
  }, 90_000);
});

describe('the datasets processed cache', () => {
  it('org___name/<config>/<version>/<hash>/name-train.arrow: the file, or the folder when it holds one split', async () => {
    setup();
    const hashDir = join(dir, 'datasets', 'tatsu-lab___alpaca', 'default', '0.0.0', 'dce01c9b08f87459cf36a430d809084718273017');
    mkdirSync(hashDir, { recursive: true });
    const rows = [0, 1, 2, 3, 4].map((i) => ({ instruction: `Give tip ${i}.`, input: i % 2 ? `context ${i}` : '', output: `Tip ${i}.` }));
    const cols = ['instruction', 'input', 'output'].map((name) => ({ name, type: new Utf8(), values: rows.map((r) => r[name as keyof typeof r]) }));
    const features = Object.fromEntries(['instruction', 'input', 'output'].map((k) => [k, { dtype: 'string', _type: 'Value' }]));
    writeFileSync(join(hashDir, 'alpaca-train.arrow'), tableToIPC(arrowTable(cols, 2, features), 'stream'));
    writeFileSync(join(hashDir, 'dataset_info.json'), JSON.stringify({ builder_name: 'parquet', config_name: 'default', dataset_name: 'alpaca', splits: { train: { name: 'train', num_examples: 5 } } }));
    const file = await importDataset(db, { path: join(hashDir, 'alpaca-train.arrow') });
    expect(file).toMatchObject({ rows: 5, mapping: { format: 'alpaca', instruction: 'instruction', input: 'input', output: 'output' } });
    expect(getExampleByRow(db, file.datasetId, 1).messages).toEqual([{ role: 'user', content: 'Give tip 1.\n\ncontext 1' }, { role: 'assistant', content: 'Tip 1.' }]);
    expect((await importDataset(db, { path: hashDir })).rows).toBe(5);
    writeFileSync(join(hashDir, 'alpaca-test.arrow'), tableToIPC(arrowTable(cols, 2, features), 'stream'));
    await expect(importDataset(db, { path: hashDir })).rejects.toThrow(/the folder holds several splits \("test": alpaca-test\.arrow; "train": alpaca-train\.arrow\)/);
  });
});

describe('hub dataset snapshots', () => {
  it('lists a snapshot\'s Parquet/JSONL/CSV files by split, through the links into blobs/, and a file imports', async () => {
    setup();
    const cache = join(dir, 'hub');
    const root = join(cache, 'datasets--openai--gsm8k');
    const commit = 'e53f048856ff4f594e959d75785d2c2d37b678ee';
    const qa = (s: string) => Buffer.from(parquetWriteBuffer({ columnData: [
      { name: 'question', data: [`${s} one?`, `${s} two?`], type: 'STRING' }, { name: 'answer', data: ['#### 1', '#### 2'], type: 'STRING' },
    ] }));
    const files: Record<string, Buffer> = {
      'main/train-00000-of-00001.parquet': qa('train'), 'main/test-00000-of-00001.parquet': qa('test'),
      'socratic/train-00000-of-00001.parquet': qa('socratic'), 'README.md': Buffer.from('# gsm8k'), 'extra/dev.jsonl': Buffer.from('{"question":"q","answer":"a"}\n'),
    };
    for (const [rel, body] of Object.entries(files)) {
      const blob = join(root, 'blobs', createHash('sha256').update(body).digest('hex'));
      mkdirSync(dirname(blob), { recursive: true });
      writeFileSync(blob, body);
      const link = join(root, 'snapshots', commit, rel);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(relative(dirname(link), blob), link);
    }
    mkdirSync(join(root, 'refs'), { recursive: true });
    writeFileSync(join(root, 'refs', 'main'), commit);
    const list = listCachedDatasets(cache);
    expect(list).toEqual([{
      repo: 'openai/gsm8k', refs: ['main'], commit, dir: join(root, 'snapshots', commit),
      splits: { dev: ['extra/dev.jsonl'], test: ['main/test-00000-of-00001.parquet'], train: ['main/train-00000-of-00001.parquet', 'socratic/train-00000-of-00001.parquet'] },
    }]);
    expect(splitOf('data/validation-00000-of-00002.parquet')).toBe('validation');
    expect(splitOf('plain_text/train.jsonl.gz')).toBe('train');
    const r = await importDataset(db, { path: join(list[0].dir, list[0].splits.test[0]) });
    expect(r.rows).toBe(2);
    expect(getExampleByRow(db, r.datasetId, 0).messages).toEqual([{ role: 'user', content: 'test one?' }, { role: 'assistant', content: '#### 1' }]);
  });
});
