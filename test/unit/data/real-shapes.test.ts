/**
 * Public datasets as they are really shaped (field names, role names, nesting and file quirks checked against the
 * datasets' own cards and files), written small here: does detection pick the right mapping, does the import keep
 * every row it should and name the ones it skips, and does the demo model's chat template give the right roles and
 * label mask? Failures must name file, line and field, and leave the project as it was.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { statSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { listDatasets, listImportSkips } from '../../../main/engine/db/datasets';
import { getExampleByRow } from '../../../main/engine/data/examples';
import { importDataset, type ImportOptions } from '../../../main/engine/data/import';
import { previewImport } from '../../../main/engine/data/preview';
import { readJson } from '../../../main/engine/data/readers/json';
import { renderExample, type RenderedExample } from '../../../main/engine/data/render';
import { runImportJob } from '../../../main/engine/data/import-job';
import type { Normalized } from '../../../main/engine/data/formats';
import type { WinnowTokenizer } from '../../../main/engine/models/types';
import { dbSnapshot } from '../fuzz/fuzz';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { serviceCalls } from '../../support/engine';
import { fixture, maskedText, STORIES_DIR, projectPerTest, storiesTokenizer } from './helpers';

let tok: WinnowTokenizer;
let eos: string;
beforeAll(async () => {
  tok = await storiesTokenizer();
  eos = tok.eosToken!;
});

let db: Db;
let dir: string;
// a test reopens the db: the one open at the end is closed
const newProject = projectPerTest('winnow-shapes-', () => db.close());
function setup() {
  ({ db, dir } = newProject());
}

function write(name: string, body: string | Uint8Array | ArrayBuffer): string {
  const p = join(dir, name);
  writeFileSync(p, body instanceof ArrayBuffer ? Buffer.from(body) : body);
  return p;
}
const jsonl = (rows: unknown[]) => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;

async function imp(path: string, opts: Partial<ImportOptions> = {}) {
  const r = await importDataset(db, { path, ...opts });
  const ds = listDatasets(db).find((d) => d.id === r.datasetId)!;
  return { ...r, ds, row: (i: number) => getExampleByRow(db, r.datasetId, i) };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/**
 * The demo template's trained text: each trained assistant content (a token may carry the space before it) through its
 * end-of-turn eos; the newline the template writes after the eos is not trained (render.ts's label rule).
 */
const trainedPattern = (contents: string[]) => new RegExp(`^${contents.map((c) => ` ?${esc(c)}${esc(eos)}`).join('')}$`);
/** Text of the tokens carrying a role code (0 system/other, 1 user, 2 assistant). */
function roleText(r: RenderedExample, code: number): string {
  let s = '';
  for (let t = 0; t < r.roles.length; t++) if (r.roles[t] === code) s += r.text.slice(r.offsets[2 * t], r.offsets[2 * t + 1]);
  return s;
}
/** An example's messages (stored as `unknown`) rendered with the demo model's chat template. */
function render(messages: unknown): RenderedExample & { trained: string } {
  const r = renderExample(tok, messages as Normalized, { labelPolicy: 'assistant' });
  return { ...r, trained: maskedText(r.text, r.offsets, r.labelMask) };
}

describe('instruction datasets', () => {
  it('tatsu-lab/alpaca and yahma/alpaca-cleaned (JSON array, pretty-printed; empty input; alpaca\'s own "text" column)', async () => {
    setup();
    const rows = [
      { instruction: 'Give three tips for staying healthy.', input: '', output: '1. Eat a balanced diet.\n2. Exercise.\n3. Sleep.', text: 'Below is an instruction...' },
      { instruction: 'Identify the odd one out.', input: 'Twitter, Instagram, Telegram', output: 'Telegram', text: 'Below is an instruction...' },
    ];
    const r = await imp(write('alpaca_data.json', JSON.stringify(rows, null, 4)));
    expect(r.ds.format).toBe('json:alpaca');
    expect(r.mapping).toEqual({ format: 'alpaca', instruction: 'instruction', input: 'input', output: 'output' });
    expect(r.row(0).messages).toEqual([{ role: 'user', content: rows[0].instruction }, { role: 'assistant', content: rows[0].output }]);
    expect(r.row(1).messages).toEqual([{ role: 'user', content: 'Identify the odd one out.\n\nTwitter, Instagram, Telegram' }, { role: 'assistant', content: 'Telegram' }]);
    const out = render(r.row(1).messages);
    expect(out.trained).toMatch(trainedPattern(['Telegram']));
    expect(roleText(out, 1).trim()).toBe('Identify the odd one out.\n\nTwitter, Instagram, Telegram');
  });

  it('databricks-dolly-15k: instruction/context/response/category map as Alpaca with context as the input', async () => {
    setup();
    const p = write('databricks-dolly-15k.jsonl', jsonl([
      { instruction: 'When did Virgin Australia start operating?', context: 'Virgin Australia commenced services on 31 August 2000.', response: 'On 31 August 2000.', category: 'closed_qa' },
      { instruction: 'Which is a species of fish? Tope or Rope', context: '', response: 'Tope', category: 'classification' },
    ]));
    const r = await imp(p);
    expect(r.ds.format).toBe('jsonl:alpaca');
    expect(r.mapping).toEqual({ format: 'alpaca', instruction: 'instruction', input: 'context', output: 'response' });
    expect(r.row(0).messages).toEqual([
      { role: 'user', content: 'When did Virgin Australia start operating?\n\nVirgin Australia commenced services on 31 August 2000.' },
      { role: 'assistant', content: 'On 31 August 2000.' },
    ]);
    expect(r.row(1).messages).toEqual([{ role: 'user', content: 'Which is a species of fish? Tope or Rope' }, { role: 'assistant', content: 'Tope' }]);
    expect(render(r.row(0).messages).trained).toMatch(trainedPattern(['On 31 August 2000.']));
  });

  it('Open-Orca (Parquet export with __index_level_0__): system_prompt/question/response, the system prompt as a system turn', async () => {
    setup();
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: ['niv.242684', 't0.1225', 'cot.86217'] },
        { name: 'system_prompt', data: ['You are an AI assistant. Be thorough.', '', 'Think step by step.'] },
        { name: 'question', data: ['Translate "Hello" to French.', 'Is the sky blue?', 'What is 6 * 7?'] },
        { name: 'response', data: ['Bonjour.', 'Yes.', '6 * 7 = 42.'] },
        { name: '__index_level_0__', data: [17n, 4n, 99n], type: 'INT64' },
      ],
    });
    const r = await imp(write('train-00000-of-00001.parquet', buf));
    expect(r.ds.format).toBe('parquet:prompt_completion');
    expect(r.mapping).toEqual({ format: 'prompt_completion', prompt: 'question', completion: 'response', system: 'system_prompt' });
    expect(r.rows).toBe(3);
    expect(r.row(0).messages).toEqual([
      { role: 'system', content: 'You are an AI assistant. Be thorough.' }, { role: 'user', content: 'Translate "Hello" to French.' },
      { role: 'assistant', content: 'Bonjour.' },
    ]);
    // an empty system prompt adds no turn
    expect(r.row(1).messages).toEqual([{ role: 'user', content: 'Is the sky blue?' }, { role: 'assistant', content: 'Yes.' }]);
    expect(r.row(2).raw).toMatchObject({ __index_level_0__: 99 });
    const out = render(r.row(0).messages);
    expect(out.trained).toMatch(trainedPattern(['Bonjour.']));
    expect(roleText(out, 0)).toContain('You are an AI assistant. Be thorough.');
  });

  it('MetaMathQA (query/response) and MATH (problem/solution) map as prompt/completion; GSM8K, numeric answers and Question/Answer headers as question/answer', async () => {
    setup();
    const meta = await imp(write('MetaMathQA-395K.json', JSON.stringify([{ query: 'What is 2+3?', response: '2+3 = 5. The answer is: 5', type: 'GSM_Rephrased', original_question: 'What is 2+3?' }])));
    expect(meta.mapping).toEqual({ format: 'prompt_completion', prompt: 'query', completion: 'response' });
    const math = await imp(write('math.jsonl', jsonl([{ problem: 'Compute $1+1$.', level: 'Level 1', type: 'Algebra', solution: '$1+1=\\boxed{2}$.' }])));
    expect(math.mapping).toEqual({ format: 'prompt_completion', prompt: 'problem', completion: 'solution' });
    // numeric answers map as their text; spreadsheet-style capitalised headers match too
    const num = await imp(write('numeric.json', JSON.stringify([{ id: 'chal-1', question: 'Jack has 8 pens and loses 3. How many are left?', answer: 5 }])));
    expect(num.mapping).toEqual({ format: 'question_answer', question: 'question', answer: 'answer' });
    expect(num.row(0).messages).toEqual([{ role: 'user', content: 'Jack has 8 pens and loses 3. How many are left?' }, { role: 'assistant', content: '5' }]);
    const caps = await imp(write('faq.csv', 'ID,Question,Answer\n1,What is Winnow?,A data picker.\n'));
    expect(caps.mapping).toEqual({ format: 'question_answer', question: 'Question', answer: 'Answer' });
    const gsm = await imp(fixture('gsm8k-50.jsonl'));
    expect(gsm.mapping).toEqual({ format: 'question_answer', question: 'question', answer: 'answer' });
  });

  it('a text-only pretraining JSONL ({"text", "meta"}) trains on every token but BOS', async () => {
    setup();
    const r = await imp(write('pile-sample.jsonl', jsonl([
      { text: 'Once upon a time there was a little cat.', meta: { pile_set_name: 'Pile-CC' } },
      { text: 'The dog ran to the park.', meta: { pile_set_name: 'Wikipedia' } },
    ])));
    expect(r.mapping).toEqual({ format: 'text', field: 'text' });
    const out = render(r.row(1).messages);
    expect(out.labelMask[0]).toBe(0);
    expect(out.trained).toBe('The dog ran to the park.');
  });
});

describe('chat datasets', () => {
  it('ShareGPT_Vicuna_unfiltered (JSON array): human/gpt plus the chatgpt, bing, bard, user and system speakers, and an "id"', async () => {
    setup();
    const convs = [
      { id: 'QWJhYvA_0', conversations: [{ from: 'human', value: 'Summarize the plot.' }, { from: 'gpt', value: 'A boy finds a dog.' }, { from: 'human', value: 'Shorter?' }, { from: 'gpt', value: 'Boy, dog.' }] },
      { id: 'i6IyJda_0', conversations: [{ from: 'system', value: 'Be kind.' }, { from: 'user', value: 'Hi' }, { from: 'chatgpt', value: 'Hello!' }] },
      { id: 'bing_1', conversations: [{ from: 'human', value: 'Weather?' }, { from: 'bing', value: 'Sunny.' }, { from: 'human', value: 'Poem?' }, { from: 'bard', value: 'Roses.' }] },
    ];
    const r = await imp(write('ShareGPT_V3_unfiltered_cleaned_split.json', JSON.stringify(convs)));
    expect(r.ds.format).toBe('json:sharegpt');
    expect(r.mapping).toEqual({ format: 'sharegpt', field: 'conversations' });
    expect(r.row(1).messages).toEqual([{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }]);
    expect(r.row(2).messages).toEqual([
      { role: 'user', content: 'Weather?' }, { role: 'assistant', content: 'Sunny.' }, { role: 'user', content: 'Poem?' }, { role: 'assistant', content: 'Roses.' },
    ]);
    const out = render(r.row(0).messages);
    expect(out.trained).toMatch(trainedPattern(['A boy finds a dog.', 'Boy, dog.']));
    expect(roleText(out, 1)).toMatch(/^ ?Summarize the plot\. ?Shorter\?$/);
    expect(render(r.row(2).messages).trained).toMatch(trainedPattern(['Sunny.', 'Roses.']));
  });

  it('SlimOrca-style ShareGPT with per-turn weights: a gpt turn of weight 0 is not trained on', async () => {
    setup();
    const r = await imp(write('slimorca.jsonl', jsonl([{
      conversations: [
        { from: 'system', value: 'You are helpful.', weight: null }, { from: 'human', value: 'One?', weight: 0 },
        { from: 'gpt', value: 'Two.', weight: 0 }, { from: 'human', value: 'Three?', weight: 0 }, { from: 'gpt', value: 'Four.', weight: 1 },
      ],
    }])));
    expect(r.mapping).toEqual({ format: 'sharegpt', field: 'conversations' });
    const msgs = r.row(0).messages as Array<{ role: string; weight?: number }>;
    expect(msgs.map((m) => [m.role, m.weight])).toEqual([['system', undefined], ['user', 0], ['assistant', 0], ['user', 0], ['assistant', undefined]]);
    expect(render(r.row(0).messages).trained).toMatch(trainedPattern(['Four.']));
  });

  it('OpenAI fine-tuning chat JSONL: "name", "weight": 0, and tool-call turns kept (a malformed call refused by file, line and field)', async () => {
    setup();
    const p = write('openai-ft.jsonl', jsonl([
      { messages: [
        { role: 'system', content: 'Marv is a sarcastic bot.', name: 'marv' }, { role: 'user', content: 'Capital of France?' },
        { role: 'assistant', content: 'Paris, obviously.', weight: 0 }, { role: 'user', content: 'Sure?' }, { role: 'assistant', content: 'Yes, Paris.', weight: 1 },
      ] },
      { messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '21C' }, { role: 'assistant', content: 'It is 21C.' },
      ], tools: [{ type: 'function', function: { name: 'get_weather' } }] },
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: null, tool_calls: [{ id: 'call_2', type: 'function', function: {} }] }] },
      { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.' }] },
    ]));
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: p })).rejects.toThrow(
      'openai-ft.jsonl line 3: field "messages[1].tool_calls[0]" must be a call with a function name ({"type": "function", "function": {"name": ..., "arguments": ...}})');
    expect(dbSnapshot(db)).toEqual(before);
    const r = await imp(p, { skipMalformed: true });
    expect(r.mapping).toEqual({ format: 'messages', field: 'messages' });
    expect(r.rows).toBe(3);
    const skips = listImportSkips(db, r.datasetId);
    expect(skips.map((s) => s.line)).toEqual([3]);
    expect(r.row(1).messages).toEqual([
      { role: 'user', content: 'Weather in Paris?', tools: [{ type: 'function', function: { name: 'get_weather' } }] },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: '21C', tool_call_id: 'call_1' }, { role: 'assistant', content: 'It is 21C.' },
    ]);
    expect(render(r.row(0).messages).trained).toMatch(trainedPattern(['Yes, Paris.']));
    // the demo model's template drops tool calls: that row is refused when rendered, naming the template
    expect(() => render(r.row(1).messages)).toThrow('the chat template of stories260K does not render tool calls (message 1 calls "get_weather"');
    expect(render(r.row(2).messages).trained).toMatch(trainedPattern(['Hello.']));
  });

  it('content as a list of text parts is joined; an image part is refused naming the part', async () => {
    setup();
    const p = write('parts.jsonl', jsonl([
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe' }, { type: 'text', text: 'briefly.' }] }, { role: 'assistant', content: [{ type: 'text', text: 'A cat.' }] }] },
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x.png' } }, { type: 'text', text: 'What is it?' }] }, { role: 'assistant', content: 'A cat.' }] },
    ]));
    const r = await imp(p, { skipMalformed: true });
    expect(r.row(0).messages).toEqual([{ role: 'user', content: 'Describe\nbriefly.' }, { role: 'assistant', content: 'A cat.' }]);
    expect(r.errors).toEqual([{ line: 2, reason: 'parts.jsonl line 2: field "messages[0].content[0]" is a "image_url" part; only text parts ({"type": "text", "text": ...}) can be trained on' }]);
    expect(render(r.row(0).messages).trained).toMatch(trainedPattern(['A cat.']));
  });

  it('ultrachat_200k / smoltalk: messages win over the "prompt" column beside them; roles in any case', async () => {
    setup();
    const r = await imp(write('ultrachat.jsonl', jsonl([
      { prompt: 'How do plants grow?', prompt_id: 'a1b2', messages: [{ content: 'How do plants grow?', role: 'user' }, { content: 'With light and water.', role: 'assistant' }] },
      { messages: [{ role: 'System', content: 'Answer in one word.' }, { role: 'User', content: 'Sky colour?' }, { role: 'Assistant', content: 'Blue.' }], source: 'smol-magpie-ultra' },
    ])));
    expect(r.mapping).toEqual({ format: 'messages', field: 'messages' });
    expect(r.row(1).messages).toEqual([{ role: 'system', content: 'Answer in one word.' }, { role: 'user', content: 'Sky colour?' }, { role: 'assistant', content: 'Blue.' }]);
    expect(render(r.row(0).messages).trained).toMatch(trainedPattern(['With light and water.']));
    expect(render(r.row(1).messages).trained).toMatch(trainedPattern(['Blue.']));
  });

  it('nested Parquet messages (the Hugging Face chat layout) and messages written as JSON text (CSV cells, flattened Parquet)', async () => {
    setup();
    const nested = await imp(fixture('chat.parquet'));
    expect(nested.mapping).toEqual({ format: 'messages', field: 'messages' });
    expect(render(nested.row(4).messages).trained).toMatch(trainedPattern(['Two.', 'Four.']));
    const chat = [{ role: 'user', content: 'Hi, "you"' }, { role: 'assistant', content: 'Hello, me.' }];
    const csv = await imp(write('chat.csv', `id,messages\n1,"${JSON.stringify(chat).replace(/"/g, '""')}"\n`));
    expect(csv.mapping).toEqual({ format: 'messages', field: 'messages' });
    expect(csv.row(0).messages).toEqual(chat);
    const flat = await imp(write('flat.parquet', parquetWriteBuffer({ columnData: [{ name: 'messages', data: [JSON.stringify(chat)] }] })));
    expect(flat.row(0).messages).toEqual(chat);
  });

  it('OpenAssistant message trees (oasst1) become conversations, not plain text; as text only when asked', async () => {
    setup();
    const p = write('oasst1.jsonl', jsonl([
      { message_id: 'm1', parent_id: null, user_id: 'u', text: 'What is a monad?', role: 'prompter', lang: 'en', message_tree_id: 'm1' },
      { message_id: 'm2', parent_id: 'm1', user_id: 'v', text: 'A monoid in the category of endofunctors.', role: 'assistant', lang: 'en', message_tree_id: 'm1' },
    ]));
    const r = await imp(p);
    expect(r.rows).toBe(1);
    expect(r.row(0).messages).toEqual([{ role: 'user', content: 'What is a monad?' }, { role: 'assistant', content: 'A monoid in the category of endofunctors.' }]);
    const pv = await previewImport(p, {}, tok);
    expect(pv).toMatchObject({ guessed: false, mapping: { format: 'messages', field: 'messages', tree: { policy: 'top1' } }, basis: expect.stringMatching(/OpenAssistant message trees/) });
    const asText = await imp(p, { mapping: { format: 'text', field: 'text' } });
    expect(asText.rows).toBe(2);
  });
});

describe('file quirks', () => {
  it('JSONL with a BOM, CRLF, blank lines and no final newline keeps every record; non-object lines are named and skipped', async () => {
    setup();
    const lines = [
      '{"question": "One?", "answer": "1"}', '', '{"question": "Two?", "answer": "2"}', '   ', '[1, 2]',
      '{"question": "Three?", "answer": "3"}', '"just a string"', 'null', '{"question": "Four?", "answer": "4"}',
    ];
    const p = write('quirks.jsonl', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.join('\r\n'))]));
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: p })).rejects.toThrow('quirks.jsonl line 5: expected an object, found an array');
    expect(dbSnapshot(db)).toEqual(before);
    const r = await imp(p, { skipMalformed: true });
    expect(r.rows).toBe(4);
    expect(r.errors).toEqual([
      { line: 5, reason: 'quirks.jsonl line 5: expected an object, found an array' },
      { line: 7, reason: 'quirks.jsonl line 7: expected an object, found string (a bare string: map it with the field "$")' },
      { line: 8, reason: 'quirks.jsonl line 8: expected an object, found null' },
    ]);
    expect(r.row(0).messages).toEqual([{ role: 'user', content: 'One?' }, { role: 'assistant', content: '1' }]);
    expect(r.row(3).messages).toEqual([{ role: 'user', content: 'Four?' }, { role: 'assistant', content: '4' }]);
    // no \r left on any stored row
    expect([0, 1, 2, 3].map((i) => JSON.stringify(r.row(i).raw)).join('')).not.toContain('\\r');
  });

  it('a JSON object holding the list under "data" or "train", or one conversation object; two lists are named', async () => {
    setup();
    const qa = [{ question: 'A?', answer: 'a' }, { question: 'B?', answer: 'b' }];
    expect((await imp(write('data.json', JSON.stringify({ version: '1.0', data: qa })))).rows).toBe(2);
    expect((await imp(write('train.json', `\uFEFF${JSON.stringify({ train: qa }, null, 2)}\r\n`))).rows).toBe(2);
    const one = await imp(write('one-chat.json', JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] })));
    expect(one.rows).toBe(1);
    expect(one.row(0).messages).toEqual([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }]);
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: write('splits.json', JSON.stringify({ train: qa, test: qa })) }))
      .rejects.toThrow('splits.json: the object holds several lists ("train", "test"); pick one with the mapping\'s "list" (e.g. {"list": "train"})');
    expect(dbSnapshot(db)).toEqual(before);
  });

  it('JSON is read item by item: cut into chunks of 1-7 bytes it gives what JSON.parse gives, for arrays and wrapped lists', async () => {
    const records = [
      { instruction: 'Quote "this" \\ and [that] {too}', input: '', output: 'ünïcödé ☃ 𝄞 — ok' },
      { messages: [{ role: 'user', content: 'a, b ] }' }, { role: 'assistant', content: '[1, {"x": 2}]' }], n: [1, [2, [3]]], f: null },
      'a string item', 42,
    ];
    const docs: Array<[string, unknown]> = [
      [`\uFEFF${JSON.stringify(records, null, 2)}`, records],
      [JSON.stringify({ version: '1.0', meta: { splits: ['x'] }, data: records, count: 4 }), records],
      [JSON.stringify({ id: 7, messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] }), [{ id: 7, messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }] }]],
    ];
    for (const [doc, want] of docs) {
      const bytes = Buffer.from(doc);
      const chunks: Buffer[] = [];
      for (let i = 0, k = 0; i < bytes.length; k++) { const n = 1 + (k * 5) % 7; chunks.push(bytes.subarray(i, i + n)); i += n; }
      const got: unknown[] = [];
      for await (const batch of readJson(Readable.from(chunks))) got.push(...batch.map((x) => x.record));
      expect(got).toEqual(want);
    }
  });

  it('a .json file that is really JSON Lines (as hubs often name them) is read as JSONL, lines named as lines', async () => {
    setup();
    const rows = [{ instruction: 'A?', input: '', output: 'a' }, { instruction: 'B?', input: '', output: 'b' }];
    const r = await imp(write('alpaca_gpt4_data.json', `\uFEFF${rows.map((x) => JSON.stringify(x)).join('\r\n')}\r\n{"instruction": "C?"}\n`), { skipMalformed: true });
    expect(r.ds.format).toBe('jsonl:alpaca');
    expect(r.rows).toBe(2);
    expect(r.errors).toEqual([{ line: 3, reason: 'alpaca_gpt4_data.json line 3: field "output" is missing' }]);
    // a first line too long to tell (over 64 KB) says what to do
    const long = [{ text: 'x'.repeat(70_000) }, { text: 'y' }].map((x) => JSON.stringify(x)).join('\n');
    await expect(importDataset(db, { path: write('long.json', long) }))
      .rejects.toThrow('long.json: text after the end of the JSON document, on line 2; if the file is JSON Lines (one record per line), name it .jsonl');
  });

  it('a JSON array saved as .jsonl is named as such on its first line', async () => {
    setup();
    const rows = [{ question: 'A?', answer: 'a' }, { question: 'B?', answer: 'b' }];
    await expect(importDataset(db, { path: write('pretty.jsonl', JSON.stringify(rows, null, 2)) }))
      .rejects.toThrow(/^pretty\.jsonl line 1: invalid JSON \(.*\); the file looks like one JSON array, not JSON Lines \(one object per line\): name it \.json$/);
    await expect(importDataset(db, { path: write('oneline.jsonl', JSON.stringify(rows)) }))
      .rejects.toThrow('oneline.jsonl line 1: a list of 2 records on one line; the file looks like one JSON array, not JSON Lines (one object per line): name it .json');
    expect(listDatasets(db)).toEqual([]);
  });

  it('a JSON item that is not valid JSON is skipped alone, naming its line; a cut-short file is named', async () => {
    setup();
    const text = '[\n  {"question": "A?", "answer": "a"},\n  {"question": "B?", "answer": b},\n  {"question": "C?", "answer": "c"}\n]\n';
    const r = await imp(write('items.json', text), { skipMalformed: true });
    expect(r.rows).toBe(2);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].line).toBe(2);
    expect(r.errors[0].reason).toMatch(/^items\.json item 2: invalid JSON in the item starting on line 3 of the file/);
    const before = dbSnapshot(db);
    await expect(importDataset(db, { path: write('cut.json', text.slice(0, 60)) }))
      .rejects.toThrow('cut.json: the file ends inside the JSON document (cut short?) after 1 complete items');
    await expect(importDataset(db, { path: write('nolist.json', '{"a": 1}') }))
      .rejects.toThrow('nolist.json: expected an array of records or an object with exactly one list field, found no list');
    expect(dbSnapshot(db)).toEqual(before);
  });

  it('a 100 MB ShareGPT-style JSON array imports through the worker (it was read as one string and ran out of memory)', async () => {
    setup();
    const conv = (i: number) => ({ id: `c${i}`, conversations: [{ from: 'human', value: `Question ${i} ${'lorem ipsum '.repeat(20)}` }, { from: 'gpt', value: `Answer ${i} ${'dolor sit amet '.repeat(25)}` }] });
    const n = 135_000;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(JSON.stringify(conv(i)));
    const p = write('ShareGPT_V3_big.json', `[${parts.join(',')}]`);
    parts.length = 0;
    expect(statSync(p).size).toBeGreaterThan(95e6);
    const r = await imp(p, { worker: true, textIndex: false });
    expect(r.rows).toBe(n);
    expect(r.row(n - 1).messages).toEqual([{ role: 'user', content: conv(n - 1).conversations[0].value }, { role: 'assistant', content: conv(n - 1).conversations[1].value }]);
  }, 120_000);

  it('CSV with a BOM, CRLF and quoted multi-line fields: rows keep their text and later rows their real line numbers', async () => {
    setup();
    const csv = '\uFEFFinstruction,input,output\r\n' +
      '"Write a haiku, please",,"Old pond\r\nfrog jumps in\r\nsplash"\r\n' +
      'Say hi,"to ""Bob""",Hi Bob\r\n' +
      'Broken,row\r\n' +
      'Last,,Done\r\n';
    const r = await imp(write('alpaca.csv', csv), { skipMalformed: true });
    expect(r.mapping).toEqual({ format: 'alpaca', instruction: 'instruction', input: 'input', output: 'output' });
    expect(r.rows).toBe(3);
    expect(r.row(0).messages).toEqual([{ role: 'user', content: 'Write a haiku, please' }, { role: 'assistant', content: 'Old pond\r\nfrog jumps in\r\nsplash' }]);
    expect(r.row(1).messages).toEqual([{ role: 'user', content: 'Say hi\n\nto "Bob"' }, { role: 'assistant', content: 'Hi Bob' }]);
    expect(r.errors).toEqual([{ line: 6, reason: 'alpaca.csv line 6: expected 3 fields (as in the header), found 2' }]);
  });

  it('TSV, quoted or not: a field that only starts with a quote is kept as written', async () => {
    setup();
    const tsv = 'prompt\tcompletion\n' +
      '"Hello" she said\tand left.\n' +
      '"Tab\tinside"\tquoted\n' +
      'plain\t"" is an empty quote\n';
    const r = await imp(write('pairs.tsv', tsv));
    expect(r.rows).toBe(3);
    expect(r.row(0).messages).toEqual([{ role: 'user', content: '"Hello" she said' }, { role: 'assistant', content: 'and left.' }]);
    expect(r.row(1).messages).toEqual([{ role: 'user', content: 'Tab\tinside' }, { role: 'assistant', content: 'quoted' }]);
    expect(r.row(2).messages).toEqual([{ role: 'user', content: 'plain' }, { role: 'assistant', content: '"" is an empty quote' }]);
  });

  it('.jsonl.gz with CRLF, and a gzip file that is not gzip, named', async () => {
    setup();
    const rows = [{ prompt: 'P1', completion: 'C1' }, { prompt: 'P2', completion: 'C2' }];
    const r = await imp(write('pc.jsonl.gz', gzipSync(rows.map((x) => JSON.stringify(x)).join('\r\n'))));
    expect(r.ds.format).toBe('jsonl:prompt_completion');
    expect(r.rows).toBe(2);
    await expect(importDataset(db, { path: write('fake.jsonl.gz', jsonl(rows)) })).rejects.toThrow(/^fake\.jsonl\.gz: not a valid gzip file/);
  });

  it('a 10 MB record imports whole between small ones, through the worker path too', async () => {
    setup();
    const big = 'word '.repeat(2 << 20); // 10 MiB of text
    const body = jsonl([{ question: 'small?', answer: 'yes' }, { question: 'big?', answer: big }, { question: 'after?', answer: 'yes' }]);
    const p = write('big.jsonl', body);
    for (const worker of [false, { workers: 2, pieceBytes: 1 << 20 }] as const) {
      const r = await imp(p, { worker });
      expect(r.rows).toBe(3);
      expect((r.row(1).raw as { answer: string }).answer.length).toBe(big.length);
      expect((r.row(2).raw as { question: string }).question).toBe('after?');
    }
  });

  it('invalid UTF-8 bytes become U+FFFD in that row only; a UTF-16 file is named as such', async () => {
    setup();
    const bad = Buffer.concat([Buffer.from('{"text": "caf'), Buffer.from([0xe9]), Buffer.from('"}\n{"text": "ünïcödé ☃"}\n')]);
    const r = await imp(write('latin1.jsonl', bad));
    expect(r.rows).toBe(2);
    expect(r.row(0).messages).toEqual({ text: 'caf\uFFFD' });
    expect(r.row(1).messages).toEqual({ text: 'ünïcödé ☃' });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"text": "hi"}\n', 'utf16le')]);
    for (const name of ['utf16.jsonl', 'utf16.json', 'utf16.csv']) {
      await expect(importDataset(db, { path: write(name, utf16) })).rejects.toThrow(`${name}: the file is UTF-16 encoded; save it as UTF-8`);
    }
    expect(listDatasets(db).length).toBe(1);
  });
});

describe('what detection tells the user', () => {
  it('the engine lists the records an import skipped, with their lines and reasons (datasets.importSkips)', async () => {
    setup();
    const service = new EngineService({ projectsDir: join(dir, 'projects'), mode: 'browser', executor: new InProcessExecutor() });
    try {
      service.open('skips');
      const { call } = serviceCalls(() => service);
      const p = write('mixed.jsonl', '{"question": "A?", "answer": "a"}\n{"question": "B?"\n[3]\n{"question": "D?", "answer": "d"}\n{"question": "E?"}\n');
      await call('datasets.import', { path: p, skipMalformed: true });
      await service.whenIdle();
      const [ds] = (await call('project.open', {})).datasets;
      expect(ds).toMatchObject({ rowCount: 2, skipped: 3 });
      const skips = await call('datasets.importSkips', { datasetId: ds!.id, offset: 0, limit: 2 });
      expect(skips.total).toBe(3);
      expect(skips.rows.map((r) => r.line)).toEqual([2, 3]);
      expect(skips.rows[0]!.reason).toMatch(/^mixed\.jsonl line 2: invalid JSON/);
      expect(skips.rows[1]!.reason).toBe('mixed.jsonl line 3: expected an object, found an array');
      const rest = await call('datasets.importSkips', { datasetId: ds!.id, offset: 2, limit: 2 });
      expect(rest.rows).toEqual([{ line: 5, reason: 'mixed.jsonl line 5: field "answer" is missing' }]);
    } finally {
      service.close();
    }
  });


  it('the preview and the import job name the format and the fields used', async () => {
    setup();
    const p = write('dolly.jsonl', jsonl([{ instruction: 'Name a fish.', context: '', response: 'Tope.', category: 'open_qa' }]));
    const pv = await previewImport(p, {}, tok);
    expect(pv).toMatchObject({ format: 'alpaca', confidence: 1, guessed: false, mapping: { instruction: 'instruction', input: 'context', output: 'response' } });
    expect(pv.fields).toEqual(['instruction', 'context', 'response', 'category']);
    expect(pv.rows[0].nLabel).toBeGreaterThan(0);
    db.prepare(`INSERT INTO models (id, name, path, architecture, config_json, hash, created_at) VALUES (1, 'stories260K', ?, 'llama', '{}', 'h', 't')`).run(STORIES_DIR);
    db.close();
    const out = await runImportJob({
      jobId: 'j', dbPath: join(dir, 'p.winnow'), projectDir: dir, params: { path: p },
      progress: () => undefined, isCancelled: () => false, log: () => undefined,
    });
    db = openProjectDb(join(dir, 'p.winnow'));
    expect(out.message).toContain('imported 1 row as alpaca (instruction: "instruction", input: "context", output: "response")');
    expect(out.stats).toMatchObject({ rows: 1, renderErrors: 0, format: 'alpaca' });
  });

  it('when nothing is recognised the preview guesses from the string-valued fields (not ids or numbers), and says it is unsure', async () => {
    setup();
    const pv = await previewImport(write('odd.jsonl', jsonl([{ n: 1, body: 'hello there', title: 'greeting' }])), {}, tok);
    expect(pv.guessed).toBe(true);
    expect(pv.mapping).toEqual({ format: 'prompt_completion', prompt: 'body', completion: 'title' });
    expect(pv.certainty).toBe('low');
  });
});
