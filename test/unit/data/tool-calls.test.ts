/**
 * Tool calls (OpenAI / Hugging Face chat format): an assistant turn's `tool_calls` and the `tool` messages that answer
 * them are rendered through the model's chat template, with the record's `tools` as the template's `tools`. The call
 * turn is learned like any assistant turn, tool results never are; a template that drops the calls is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';
import { getExample } from '../../../main/engine/data/examples';
import { listRenderErrors } from '../../../main/engine/db/renders';
import { importDataset } from '../../../main/engine/data/import';
import { renderDataset } from '../../../main/engine/data/renderDataset';
import { renderExample } from '../../../main/engine/data/render';
import { toMessages, type DataMessage } from '../../../main/engine/data/formats';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';
import { runExportJob } from '../../../main/engine/export/run';
import type { JobContext } from '../../../main/engine/jobs/types';
import type { WinnowTokenizer } from '../../../main/engine/models/types';
import { writeRealFolder } from '../models/real-shapes';
import { fixture, maskedText, STORIES_DIR, tempDir } from './helpers';

const FILE = fixture('tool-calls.jsonl');
const RECORDS = readFileSync(FILE, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const MAPPING = { format: 'messages', field: 'messages' } as const;
const chat = (i: number) => toMessages(RECORDS[i], MAPPING, i + 1) as DataMessage[];

let qwen: WinnowTokenizer;
let gpt2: WinnowTokenizer;
let stories: WinnowTokenizer;
beforeAll(async () => {
  qwen = await loadTokenizer(writeRealFolder({ name: 'qwen2.5-0.5b-instruct', tokenizer: 'qwen2', storage: { dtype: 'F32' } }));
  gpt2 = await loadTokenizer(writeRealFolder({ name: 'gpt2', tokenizer: 'gpt2', storage: { dtype: 'F32' } }));
  stories = await loadTokenizer(STORIES_DIR);
}, 60_000);

describe('tool-call turns', () => {
  it('keep their calls (JSON arguments as a mapping, other text as written), tool results and the record\'s tools', () => {
    const a = chat(0);
    expect(a.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(a[1]).toEqual({ role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] });
    expect(a[2]).toEqual({ role: 'tool', content: 'sunny, 21 degrees', tool_call_id: 'call_1', name: 'get_weather' });
    expect(a[0].tools).toEqual(RECORDS[0].tools);
    const b = chat(1);
    expect(b[1].tool_calls!.map((c) => c.function.arguments)).toEqual([{ city: 'Oslo' }, 'Rome, not JSON']);
    const d = chat(3);
    expect(d[1].tool_calls).toEqual([{ type: 'function', function: { name: 'get_time', arguments: {} } }]);
    expect(d[2]).toEqual({ role: 'function', content: '12:00', name: 'get_time' });
  });

  it('Qwen2.5\'s template renders the calls and the tools; the mask learns the call turn and the answer, not the tool result', () => {
    const r = renderExample(qwen, chat(0), { labelPolicy: 'assistant' });
    expect(r.text).toContain('<tools>\n{"type": "function", "function": {"name": "get_weather"');
    const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>';
    expect(r.text).toContain(`<|im_start|>assistant\n${call}`);
    expect(r.text).toContain('<|im_start|>user\n<tool_response>\nsunny, 21 degrees\n</tool_response><|im_end|>');
    expect(maskedText(r.text, r.offsets, r.labelMask)).toBe(`${call}It is sunny and 21 degrees in Paris.<|im_end|>`);
    // tool results are other speakers' text, never learned
    const sunny = r.text.indexOf('sunny');
    for (let t = 0; t < r.labelMask.length; t++) {
      if (r.offsets[2 * t] <= sunny && r.offsets[2 * t + 1] > sunny) expect(r.labelMask[t]).toBe(0);
    }
    const two = renderExample(qwen, chat(1), { labelPolicy: 'assistant' });
    expect(maskedText(two.text, two.offsets, two.labelMask)).toBe('Checking both.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>' +
      '\n<tool_call>\n{"name": "get_weather", "arguments": "Rome, not JSON"}\n</tool_call><|im_end|>Snow in Oslo, rain in Rome.<|im_end|>');
  });

  it('Winnow\'s default template renders the calls after the content as <tool_call>{name, arguments}</tool_call>', () => {
    expect(gpt2.chatTemplateIsDefault).toBe(true);
    const r = renderExample(gpt2, chat(0), { labelPolicy: 'assistant' });
    const call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call><|endoftext|>';
    expect(r.text).toBe('<|endoftext|><|user|>\nWeather in Paris?<|endoftext|>\n<|assistant|>\n' + call + '\n<|tool|>\nsunny, 21 degrees<|endoftext|>\n' +
      '<|assistant|>\nIt is sunny and 21 degrees in Paris.<|endoftext|>\n');
    expect(maskedText(r.text, r.offsets, r.labelMask)).toBe(`${call}It is sunny and 21 degrees in Paris.<|endoftext|>`);
    const two = renderExample(gpt2, chat(1), { labelPolicy: 'assistant' });
    expect(two.text).toContain('<|assistant|>\nChecking both.<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>' +
      '<tool_call>{"name": "get_weather", "arguments": "Rome, not JSON"}</tool_call><|endoftext|>\n');
  });

  it('a template that drops the calls (the demo model\'s) is refused, and a render names the row', async () => {
    expect(() => renderExample(stories, chat(0), { labelPolicy: 'assistant' })).toThrow(
      'the chat template of stories260K does not render tool calls (message 1 calls "get_weather", which the rendered text leaves out)');
    // a conversation without calls still renders
    expect(renderExample(stories, chat(2), { labelPolicy: 'assistant' }).text).toContain('Hello.');
    const t = tempDir();
    const db = openProjectDb(join(t.dir, 'p.winnow'));
    try {
      const { datasetId } = await importDataset(db, { path: FILE });
      const res = await renderDataset(db, datasetId, stories, { labelPolicy: 'assistant' });
      expect([res.rendered, res.errors]).toEqual([1, 3]);
      expect(listRenderErrors(db, datasetId, res.renderKeyId)).toEqual([
        { rowIndex: 0, reason: 'the chat template of stories260K does not render tool calls (message 1 calls "get_weather", which the rendered text leaves out)' },
        { rowIndex: 1, reason: 'the chat template of stories260K does not render tool calls (message 1 calls "get_weather", which the rendered text leaves out)' },
        { rowIndex: 3, reason: 'the chat template of stories260K does not render tool calls (message 1 calls "get_time", which the rendered text leaves out)' },
      ]);
    } finally {
      db.close();
      t.cleanup();
    }
  });
});

describe('importing tool-call rows', () => {
  let dir: string;
  let cleanup: () => void;
  let src: Db;
  beforeAll(() => {
    ({ dir, cleanup } = tempDir());
    src = openProjectDb(join(dir, 'src.winnow'));
  });
  afterAll(() => {
    src.close();
    cleanup();
  });

  async function rowsOf(path: string): Promise<Array<{ raw: unknown; messages: unknown }>> {
    const t = tempDir();
    const db = openProjectDb(join(t.dir, 'p.winnow'));
    try {
      const { datasetId } = await importDataset(db, { path });
      const ids = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index').pluck().all(datasetId) as number[];
      return ids.map((id) => { const e = getExample(db, id); return { raw: e.raw, messages: e.messages }; });
    } finally {
      db.close();
      t.cleanup();
    }
  }

  it('keeps every row, and re-import of an exported subset gives the same rows', async () => {
    const r = await importDataset(src, { path: FILE });
    expect(r.mapping).toEqual(MAPPING);
    const ids = src.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index').pluck().all(r.datasetId) as number[];
    expect(ids).toHaveLength(RECORDS.length);
    const stored = ids.map((id) => getExample(src, id));
    expect(stored.map((e) => e.raw)).toEqual(RECORDS);
    expect(stored.map((e) => e.messages)).toEqual(RECORDS.map((_, i) => chat(i)));

    const subset = [ids[0], ids[1], ids[3]];
    const subsetId = Number(src.prepare("INSERT INTO subsets (name, rule_json, size, created_at) VALUES ('calls', '{}', 3, 't')").run().lastInsertRowid);
    for (const id of subset) src.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (?, ?)').run(subsetId, id);
    const out = join(dir, 'bundle');
    const ctx: JobContext = {
      jobId: 'export-calls', dbPath: join(dir, 'src.winnow'), projectDir: dir, params: { outDir: out, subsetId, what: ['subset'], overwrite: false, weightsForm: 'full' },
      progress: () => undefined, isCancelled: () => false, log: () => undefined,
    };
    await runExportJob(ctx);
    const original = subset.map((id) => { const e = getExample(src, id); return { raw: e.raw, messages: e.messages }; });
    expect(await rowsOf(join(out, 'subset.jsonl'))).toEqual(original);
    expect((await rowsOf(join(out, 'subset.messages.jsonl'))).map((x) => x.messages)).toEqual(original.map((x) => x.messages));
  }, 60_000);
});
