/**
 * Detection that does not lie, and the shapes it used to refuse, as the public datasets really ship them (fields and
 * nesting from their cards and files, written small): code sets (MBPP, HumanEval), nested instruction files
 * (self-instruct), bare-string JSONL, classification records (SST-2/GLUE TSV with and without a header), a JSON object
 * holding several lists. Each is imported with exact counts and checked as the demo model renders it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Db } from '../../../main/engine/db/open';
import { listDatasets } from '../../../main/engine/db/datasets';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { importDataset, type ImportOptions } from '../../../main/engine/data/import';
import { previewImport } from '../../../main/engine/data/preview';
import { detectFormat, toMessages, type Mapping } from '../../../main/engine/data/formats';
import { renderExample } from '../../../main/engine/data/render';
import type { WinnowTokenizer } from '../../../main/engine/models/types';
import { dbSnapshot } from '../fuzz/fuzz';
import { projectPerTest, storiesTokenizer } from './helpers';

let tok: WinnowTokenizer;
beforeAll(async () => {
  tok = await storiesTokenizer();
});

let db: Db;
let dir: string;
const newProject = projectPerTest('winnow-detect-');
function setup() {
  ({ db, dir } = newProject());
}

function write(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
}
const jsonl = (rows: unknown[]) => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
async function imp(path: string, opts: Partial<ImportOptions> = {}) {
  const r = await importDataset(db, { path, ...opts });
  return { ...r, row: (i: number) => getExampleByRow(db, r.datasetId, i) };
}

// google-research-datasets/mbpp "sanitized" (source_file first) and "full" (text + code)
const MBPP_SANITIZED = [1, 2, 3].map((i) => ({
  source_file: 'Benchmark Questions Verification V2.ipynb', task_id: 600 + i,
  prompt: `Write a python function to check whether the given number ${i} is even or not.`,
  code: `def is_Even(n) :\n    return n % 2 == ${i % 2}`, test_imports: [], test_list: [`assert is_Even(${i}) == False`],
}));
const MBPP_FULL = [1, 2, 3].map((i) => ({
  task_id: i, text: `Write a function to find the minimum cost path to reach (m, n) from (0, 0), case ${i}.`,
  code: `R = 3\nC = 3\ndef min_cost(cost, m, n):\n    return ${i}`, test_list: ['assert min_cost([[1]], 0, 0) == 1'], test_setup_code: '', challenge_test_list: [],
}));
// openai/openai_humaneval
const HUMANEVAL = [0, 1, 2].map((i) => ({
  task_id: `HumanEval/${i}`, prompt: `from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n    """ Check case ${i}. """\n`,
  canonical_solution: `    for idx, elem in enumerate(numbers):\n        return ${i > 0}\n`, test: '\n\nMETADATA = {}\n\ndef check(candidate):\n    pass\n', entry_point: 'has_close_elements',
}));
// yizhongw/self-instruct (finetuning data) and Super-NaturalInstructions-like records
const SELF_INSTRUCT = [
  { id: 'seed_task_0', name: 'breakfast_suggestion', motivation_app: null, instruction: 'Is there anything I can eat for a breakfast that doesn\'t include eggs?',
    instances: [{ input: '', output: 'Yes, you can have 1 oatmeal banana protein shake.' }], is_classification: false },
  { id: 'seed_task_1', name: 'antonym_relation', motivation_app: 'Grammarly', instruction: 'What is the relation between the given pairs?',
    instances: [{ input: 'Night : Day :: Right : Left', output: 'The relation is antonym.' }, { input: 'Up : Down :: Hot : Cold', output: 'They are antonyms too.' }],
    is_classification: false },
  { id: 'seed_task_2', name: 'one_sentence_description', motivation_app: null, instruction: 'Generate a one-sentence description for each of the following people.',
    instances: [{ input: 'Barack Obama', output: 'A former US president.' }, { input: 'Elon Musk', output: 'An entrepreneur.' }, { input: 'Ada Lovelace', output: 'A mathematician.' }],
    is_classification: false },
];

describe('detection prefers text that reads as a prompt and a response, and says how sure it is', () => {
  it('MBPP (sanitized): prompt → code, never the source_file; switching format keeps the same two fields', async () => {
    setup();
    const pv = await previewImport(write('mbpp.jsonl', jsonl(MBPP_SANITIZED)), {}, tok);
    expect(pv.mapping).toEqual({ format: 'prompt_completion', prompt: 'prompt', completion: 'code' });
    expect(pv).toMatchObject({ guessed: false, certainty: 'high', confidence: 1 });
    expect(pv.suggested.question_answer).toEqual({ format: 'question_answer', question: 'prompt', answer: 'code' });
    expect(pv.suggested.alpaca).toEqual({ format: 'alpaca', instruction: 'prompt', output: 'code' });
    expect(pv.rows[0].rendered).toContain('Question: Write a python function');
    expect(pv.rows[0].rendered).toContain('Answer: def is_Even(n)');
  });

  it('MBPP (full): "text" is the prompt and "code" the response, not plain text; a guess from contents, said so', async () => {
    const d = detectFormat(MBPP_FULL, 'mbpp.jsonl');
    expect(d.mapping).toEqual({ format: 'prompt_completion', prompt: 'text', completion: 'code' });
    expect(d.certainty).toBe('medium');
    expect(d.basis).toMatch(/"text" as the prompt .*"code" as the response/);
    expect(d.confidence).toBe(1);
  });

  it('HumanEval: prompt → canonical_solution, not task_id', async () => {
    setup();
    const p = write('humaneval.jsonl', jsonl(HUMANEVAL));
    const pv = await previewImport(p, {}, tok);
    expect(pv.mapping).toEqual({ format: 'prompt_completion', prompt: 'prompt', completion: 'canonical_solution' });
    const r = await imp(p);
    expect(r.rows).toBe(3);
    expect(r.row(2).messages).toEqual([{ role: 'user', content: HUMANEVAL[2].prompt }, { role: 'assistant', content: HUMANEVAL[2].canonical_solution }]);
  });

  it('a file no known format fits: the preview guesses from contents (ids passed over) and says it is a guess; the import refuses with the guess', async () => {
    setup();
    const rows = [1, 2, 3].map((i) => ({ uid: `a1b2c3d4e5f6a7b${i}`, src: `Translate into French: the cat number ${i} sleeps.`, tgt: `Le chat numéro ${i} dort.` }));
    const p = write('pairs.jsonl', jsonl(rows));
    const pv = await previewImport(p, {}, tok);
    expect(pv).toMatchObject({ guessed: true, certainty: 'medium', mapping: { format: 'prompt_completion', prompt: 'src', completion: 'tgt' } });
    expect(pv.basis).toContain('ids, paths and labels were passed over');
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: p })).rejects.toThrow(/pairs\.jsonl: cannot recognise the record format .*a guess \(medium certainty\), to check in the preview: \{"format":"prompt_completion","prompt":"src","completion":"tgt"\}/);
    expect(dbSnapshot(db)).toEqual(before);
  });
});

describe('nested records', () => {
  it('self-instruct: instruction + instances[*].input/output, one row per instance with the parent\'s instruction', async () => {
    setup();
    const p = write('self-instruct.jsonl', jsonl(SELF_INSTRUCT));
    const pv = await previewImport(p, {}, tok);
    expect(pv.mapping).toEqual({ format: 'alpaca', instruction: 'instruction', input: 'instances[*].input', output: 'instances[*].output' });
    expect(pv.guessed).toBe(true);
    expect(pv.fields).toEqual(expect.arrayContaining(['instruction', 'instances[*].input', 'instances[*].output']));
    expect(pv.rows.map((r) => r.line)).toEqual([1, 2, 2, 3, 3, 3]);
    expect(pv.confidence).toBe(1);
    const r = await imp(p, { mapping: pv.mapping });
    expect(r.rows).toBe(6);
    expect(r.row(0).messages).toEqual([{ role: 'user', content: SELF_INSTRUCT[0].instruction }, { role: 'assistant', content: 'Yes, you can have 1 oatmeal banana protein shake.' }]);
    expect(r.row(2).messages).toEqual([
      { role: 'user', content: 'What is the relation between the given pairs?\n\nUp : Down :: Hot : Cold' }, { role: 'assistant', content: 'They are antonyms too.' },
    ]);
    // each stored row is the parent with its one instance: re-imported as a file it gives the same rows
    const stored = [0, 1, 2, 3, 4, 5].map((i) => r.row(i).raw as { instances: unknown[]; id: string });
    expect(stored.map((s) => s.instances.length)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(stored[5].id).toBe('seed_task_2');
    const again = await imp(write('subset.jsonl', jsonl(stored)), { mapping: pv.mapping });
    expect([0, 1, 2, 3, 4, 5].map((i) => again.row(i).messages)).toEqual([0, 1, 2, 3, 4, 5].map((i) => r.row(i).messages));
    const rendered = renderExample(tok, r.row(4).messages as never, { labelPolicy: 'assistant' });
    expect(rendered.text).toContain('Question: Generate a one-sentence description for each of the following people.\n\nElon Musk');
  });

  it('a mapping names nested fields (instances[0].input, meta.src); an empty list or a bad path is named', async () => {
    setup();
    const p = write('nested.jsonl', jsonl([
      { meta: { src: 'What is 2+2?' }, instances: [{ output: 'Four.' }, { output: 'ignored' }] },
      { meta: { src: 'What is 3+3?' }, instances: [] },
    ]));
    const m: Mapping = { format: 'prompt_completion', prompt: 'meta.src', completion: 'instances[0].output' };
    const r = await imp(p, { mapping: m, skipMalformed: true });
    expect(r.rows).toBe(1);
    expect(r.row(0).messages).toEqual([{ role: 'user', content: 'What is 2+2?' }, { role: 'assistant', content: 'Four.' }]);
    expect(r.errors).toEqual([{ line: 2, reason: 'nested.jsonl line 2: field "instances[0].output" is missing' }]);
    const each = await imp(p, { mapping: { ...m, completion: 'instances[*].output' }, skipMalformed: true });
    expect(each.rows).toBe(2);
    expect(each.errors).toEqual([{ line: 2, reason: 'nested.jsonl line 2: field "instances" is an empty list: no rows to make' }]);
    expect(() => toMessages({ meta: { src: 'x' }, instances: [{ output: 'a' }, { output: 'b' }] }, { ...m, completion: 'instances[*].output' }, 'row 3'))
      .toThrow('row 3: field "instances" holds 2 items; "instances[*]" is expanded into one row per item when a file is imported');
  });
});

describe('bare strings, classification records, several lists', () => {
  it('JSONL lines that are bare strings import as text, or as prompts when the mapping says so', async () => {
    setup();
    const p = write('strings.jsonl', jsonl(['Once upon a time there was a cat.', 'The dog ran home.', 'It rained all day.']));
    const pv = await previewImport(p, {}, tok);
    expect(pv).toMatchObject({ mapping: { format: 'text', field: '$' }, confidence: 1, guessed: false, basis: 'each line is a bare JSON string: imported as plain text' });
    const r = await imp(p);
    expect(r.rows).toBe(3);
    expect(r.row(1).messages).toEqual({ text: 'The dog ran home.' });
    const asPrompts = await imp(p, { mapping: { format: 'prompt_completion', prompt: '$' } });
    expect(asPrompts.row(2).messages).toEqual([{ role: 'user', content: 'It rained all day.' }]);
    expect(renderExample(tok, asPrompts.row(2).messages as never, { labelPolicy: 'assistant' }).text).toContain('Question: It rained all day.');
  });

  it('SST-2 style records (sentence + label): prompt/completion through an editable label table, shown in the preview', async () => {
    setup();
    const rows = [
      { idx: 0, sentence: 'hide new secretions from the parental units ', label: 0 },
      { idx: 1, sentence: 'contains no wit , only labored gags ', label: 0 },
      { idx: 2, sentence: 'that loves its characters and communicates something rather beautiful ', label: 1 },
    ];
    const p = write('sst2.jsonl', jsonl(rows));
    const pv = await previewImport(p, {}, tok);
    expect(pv.mapping).toEqual({ format: 'prompt_completion', prompt: 'sentence', completion: 'label', labels: { 0: '0', 1: '1' } });
    expect(pv.certainty).toBe('medium');
    expect(pv.basis).toMatch(/classification records.*label table/);
    const labels = { 0: 'negative', 1: 'positive' };
    const edited = await previewImport(p, { mapping: { ...pv.mapping, labels } as Mapping }, tok);
    expect(edited.rows[2].rendered).toContain('Answer: positive');
    const r = await imp(p, { mapping: { ...pv.mapping, labels } as Mapping });
    expect(r.rows).toBe(3);
    expect(r.row(1).messages).toEqual([{ role: 'user', content: rows[1].sentence }, { role: 'assistant', content: 'negative' }]);
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: p, mapping: { format: 'prompt_completion', prompt: 'sentence', completion: 'label', labels: { 0: 'negative' } } }))
      .rejects.toThrow('sst2.jsonl line 3: field "label" is "1", which the mapping\'s labels do not name (they name "0")');
    expect(dbSnapshot(db)).toEqual(before);
  });

  it('a classification TSV, sentence<TAB>label with a header and without one', async () => {
    setup();
    const body = 'it \'s a charming and often affecting journey . \t1\nunflinchingly bleak and desperate \t0\nallows us to hope that nolan is poised to embark a major career \t1\n';
    const withHeader = await previewImport(write('train.tsv', `sentence\tlabel\n${body}`), {}, tok);
    expect(withHeader.mapping).toEqual({ format: 'prompt_completion', prompt: 'sentence', completion: 'label', labels: { 0: '0', 1: '1' } });
    const p = write('alps_dev.tsv', body);
    const bare = await previewImport(p, {}, tok);
    expect(bare.mapping).toEqual({ format: 'prompt_completion', prompt: 'column_1', completion: 'column_2', labels: { 0: '0', 1: '1' } });
    const r = await imp(p, { mapping: { ...bare.mapping, labels: { 0: 'negative', 1: 'positive' } } as Mapping });
    expect(r.rows).toBe(3);
    expect(r.row(0).messages).toEqual([{ role: 'user', content: 'it \'s a charming and often affecting journey . ' }, { role: 'assistant', content: 'positive' }]);
  });

  it('a JSON object holding train and test lists: the preview lists them, the mapping picks one', async () => {
    setup();
    const qa = (s: string, n: number) => Array.from({ length: n }, (_, i) => ({ question: `${s} ${i}?`, answer: `${s} answer ${i}.` }));
    const p = write('splits.json', JSON.stringify({ version: 2, train: qa('train', 3), test: qa('test', 2) }));
    const pv = await previewImport(p, {}, tok);
    expect(pv.lists).toEqual(['train', 'test']);
    expect(pv.mapping).toEqual({ format: 'question_answer', question: 'question', answer: 'answer', list: 'train' });
    expect(pv.rows).toHaveLength(3);
    const test = await imp(p, { mapping: { ...pv.mapping, list: 'test' } });
    expect(test.rows).toBe(2);
    expect(test.row(1).messages).toEqual([{ role: 'user', content: 'test 1?' }, { role: 'assistant', content: 'test answer 1.' }]);
    expect((await previewImport(p, { mapping: { ...pv.mapping, list: 'test' } }, tok)).rows).toHaveLength(2);
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: p, mapping: { ...pv.mapping, list: 'dev' } })).rejects.toThrow('splits.json: the object holds no list "dev" (its lists: "train", "test")');
    expect(dbSnapshot(db)).toEqual(before);
    expect(listDatasets(db)).toHaveLength(1);
  });
});

describe('winnow import explains render errors', () => {
  it('prints the count and the first 20 reasons, as for skipped lines', () => {
    setup();
    const ROOT = resolve(__dirname, '../../..');
    const file = write('prompts.jsonl', jsonl(Array.from({ length: 23 }, (_, i) => `Prompt number ${i}`)));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'main/cli/index.ts'), 'import', file, '--project', join(dir, 'cli'),
      '--mapping', '{"format":"prompt_completion","prompt":"$"}'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, WINNOW_HOME: join(dir, 'home') } });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: number; renderErrors: number; renderErrorReasons: Array<{ row: number; reason: string }> };
    expect(out.rows).toBe(23);
    expect(out.renderErrors).toBe(23);
    expect(out.renderErrorReasons).toHaveLength(20);
    expect(out.renderErrorReasons[0]).toEqual({ row: 0, reason: 'no trainable tokens' });
    expect(r.stderr).toContain('23 rows could not be rendered (the first 20):\n  row 0: no trainable tokens\n');
  }, 150_000);
});

describe('upload in browser mode', () => {
  it('a staged upload keeps its own name and goes through the same preview and mapping as a path', async () => {
    const { TestProject } = await import('../scoring/helpers');
    const p = new TestProject('upload');
    try {
      const content = 'a gripping , well-acted thriller with real wit .\t1\nthe plot is dull and the acting is worse .\t0\n';
      const up = await p.call('datasets.upload', { fileName: 'C:\\Users\\me\\alps_dev.tsv', content, stage: true });
      expect(up.jobId).toBeNull();
      expect(up.name).toBe('alps_dev.tsv');
      expect(up.path.endsWith(`${'alps_dev.tsv'}`)).toBe(true);
      expect(await p.call('jobs.list', {})).toEqual([]);
      const pv = await p.call('datasets.preview', { path: up.path });
      expect(pv.mapping).toEqual({ format: 'prompt_completion', prompt: 'column_1', completion: 'column_2', labels: { 0: '0', 1: '1' } });
      const bad = await p.call('datasets.preview', { path: up.path, mapping: { format: 'question_answer', question: 'column_1', answer: 'nope' } });
      expect(bad.rows[0].error).toBe('alps_dev.tsv line 1: field "nope" is missing');
      const { jobId } = await p.call('datasets.import', { path: up.path, name: up.name, mapping: { ...pv.mapping, labels: { 0: 'negative', 1: 'positive' } } as never });
      await p.finished(jobId);
      const ds = (await p.call('project.open', {})).datasets;
      expect(ds.map((d) => [d.name, d.rowCount])).toEqual([['alps_dev.tsv', 2]]);
    } finally {
      p.service.close();
      rmSync(p.home, { recursive: true, force: true });
    }
  });
});
