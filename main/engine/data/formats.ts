import { WinnowError } from '../util/errors';
import type { ChatMessage } from '../models/types';

export type RecordFormat = 'messages' | 'sharegpt' | 'alpaca' | 'prompt_completion' | 'question_answer' | 'text';

/** How a record's fields map to messages. Field names are the record's own keys. */
export type Mapping =
  | { format: 'messages'; field: string }
  | { format: 'sharegpt'; field: string }
  | { format: 'alpaca'; instruction: string; input?: string; output: string; system?: string }
  | { format: 'prompt_completion'; prompt: string; completion: string; system?: string }
  | { format: 'question_answer'; question: string; answer: string }
  | { format: 'text'; field: string };

/** A plain-text record: tokenized as-is, no chat template, every token (but BOS) trainable. */
export interface TextRecord { text: string }

/**
 * A mapped message. `weight: 0` (OpenAI fine-tuning files, ShareGPT exports with per-turn weights) marks a turn the
 * dataset's author left out of training: its tokens are never in the label mask.
 */
export interface DataMessage extends ChatMessage { weight?: 0 }

export type Normalized = DataMessage[] | TextRecord;

export function isTextRecord(n: Normalized): n is TextRecord {
  return !Array.isArray(n);
}

type Rec = Record<string, unknown>;
const isObj = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A list of turns, or the same list written as JSON text (CSV cells, Parquet exports that flatten nested columns). */
function turnArray(v: unknown): unknown {
  if (typeof v !== 'string' || !/^\s*\[/.test(v)) return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}
/** Content as chat files write it: text, a list of parts ({type: "text", text}), or null on a tool-call turn. */
const isContent = (v: unknown) => typeof v === 'string' || v === null || (Array.isArray(v) && v.every(isObj));
const isTurnList = (roleKey: string, contentKey: string, content: (v: unknown) => boolean) => (v: unknown) => {
  const list = turnArray(v);
  return Array.isArray(list) && list.length > 0 && list.every((m) => isObj(m) && typeof m[roleKey] === 'string' && content(m[contentKey]));
};

// Field names seen in public datasets, most usual first (Alpaca and Dolly; Orca, MetaMathQA, MATH; DPO files' chosen).
const INSTRUCTION = ['instruction'];
const OUTPUT = ['output', 'response', 'answer', 'completion'];
const INPUT = ['input', 'context'];
const SYSTEM = ['system', 'system_prompt'];
const PROMPT = ['prompt', 'question', 'query', 'problem', 'input'];
const COMPLETION = ['completion', 'response', 'answer', 'output', 'solution', 'chosen'];
const isStr = (v: unknown) => typeof v === 'string';
/** answers may be bare numbers (`"answer": 18`); they map as their text */
const isAnswer = (v: unknown) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

/**
 * An OpenAssistant message-tree row (oasst1/oasst2): one message per row with its parent's id, not a conversation.
 * Detected so it is not silently taken as plain text.
 */
function isMessageTreeRow(r: Rec): boolean {
  return typeof r.text === 'string' && typeof r.role === 'string' && ('parent_id' in r || 'message_tree_id' in r);
}

/** The mapping one record suggests, most specific first; null when nothing fits. Field names match in any case. */
function mappingFor(r: unknown): Mapping | null {
  if (!isObj(r)) return null;
  const byLower = new Map<string, string>();
  for (const k of Object.keys(r)) if (!byLower.has(k.toLowerCase())) byLower.set(k.toLowerCase(), k);
  const find = (names: string[], pred: (v: unknown) => boolean) => {
    for (const n of names) {
      const k = byLower.get(n);
      if (k !== undefined && pred(r[k])) return k;
    }
    return undefined;
  };
  const msgField = find(['messages', 'conversations', 'conversation', 'chat', 'dialog', 'dialogue'], isTurnList('role', 'content', isContent));
  if (msgField) return { format: 'messages', field: msgField };
  const sgField = find(['conversations', 'conversation', 'messages', 'items'], isTurnList('from', 'value', isStr));
  if (sgField) return { format: 'sharegpt', field: sgField };
  const system = find(SYSTEM, isStr);
  const instruction = find(INSTRUCTION, isStr);
  const output = find(OUTPUT, isAnswer);
  if (instruction && output) {
    const input = find(INPUT, () => true);
    return { format: 'alpaca', instruction, output, ...(input ? { input } : {}), ...(system ? { system } : {}) };
  }
  const question = find(['question'], isStr);
  const answer = find(['answer'], isAnswer);
  if (question && answer) return { format: 'question_answer', question, answer };
  const prompt = find(PROMPT, isStr);
  const completion = find(COMPLETION, isAnswer);
  if (prompt && completion) return { format: 'prompt_completion', prompt, completion, ...(system ? { system } : {}) };
  if (isMessageTreeRow(r)) return null;
  const text = find(['text', 'content', 'document'], isStr);
  if (text) return { format: 'text', field: text };
  return null;
}

/** The mapping in words, for messages: `alpaca (instruction: "instruction", input: "context", output: "response")`. */
export function describeMapping(m: Mapping): string {
  const rec = m as unknown as Record<string, string | undefined>;
  const fields = ['field', 'instruction', 'input', 'prompt', 'question', 'output', 'completion', 'answer', 'system']
    .filter((k) => typeof rec[k] === 'string').map((k) => `${k}: "${rec[k]}"`);
  return `${m.format} (${fields.join(', ')})`;
}

/**
 * Pick the record format most sample records fit. Confidence = share of samples that fit it.
 * Optional fields (alpaca input/system) are kept if any sample has them.
 */
export function detectFormat(samples: unknown[], source = 'data'): { format: RecordFormat; confidence: number; mapping: Mapping } {
  const valid = samples.filter((s) => s !== undefined);
  const votes = new Map<string, { n: number; mapping: Mapping }>();
  for (const s of valid) {
    const m = mappingFor(s);
    if (!m) continue;
    const key = JSON.stringify({ ...m, input: undefined, system: undefined });
    const v = votes.get(key);
    if (v) {
      v.n++;
      // widen optional fields seen on any sample
      if ('input' in m && m.input && v.mapping.format === 'alpaca') v.mapping.input = m.input;
      if ('system' in m && m.system && (v.mapping.format === 'alpaca' || v.mapping.format === 'prompt_completion')) v.mapping.system = m.system;
    } else votes.set(key, { n: 1, mapping: m });
  }
  const best = [...votes.values()].sort((a, b) => b.n - a.n)[0];
  if (!best && valid.some((s) => isObj(s) && isMessageTreeRow(s))) {
    throw new WinnowError('unsupported',
      `${source}: the rows look like an OpenAssistant message tree (one message per row, with "parent_id"/"message_tree_id" ` +
      'and "role"), not conversations; import a conversation export of it (messages or ShareGPT per row), or pass the mapping ' +
      '{"format": "text", "field": "text"} to train on each message as plain text');
  }
  if (!best || valid.length === 0) {
    const keys = new Set<string>();
    for (const s of valid.slice(0, 20)) if (isObj(s)) Object.keys(s).forEach((k) => keys.add(k));
    throw new WinnowError('unsupported',
      `${source}: cannot recognise the record format (fields seen: ${[...keys].map((k) => `"${k}"`).join(', ') || 'none'}); ` +
      'expected messages, ShareGPT conversations, Alpaca instruction/output, prompt/completion, question/answer or text; ' +
      'pick the fields in the mapping editor (or pass a mapping)');
  }
  return { format: best.mapping.format, confidence: best.n / valid.length, mapping: best.mapping };
}

/**
 * Speaker names as public chat dumps write them, lowercased: ShareGPT's human/gpt (and the chatgpt/bing/bard turns of
 * ShareGPT_Vicuna_unfiltered), OpenAssistant's prompter, Gemini's model. Other roles (system, tool, ...) are kept.
 */
const ROLE_ALIASES = new Map(Object.entries({
  human: 'user', user: 'user', prompter: 'user',
  gpt: 'assistant', assistant: 'assistant', bot: 'assistant', model: 'assistant', ai: 'assistant', chatgpt: 'assistant',
  bing: 'assistant', bard: 'assistant', system: 'system',
}));
/** (runs for every turn of every row: the usual lowercase names are looked up before anything is allocated) */
function roleName(r: string): string {
  const direct = ROLE_ALIASES.get(r);
  if (direct !== undefined) return direct;
  const k = r.trim().toLowerCase();
  return ROLE_ALIASES.get(k) ?? k;
}

/**
 * A field's text: numbers and booleans as text, anything else named as the wrong kind; missing or blank fields are
 * errors unless optional. (Module-level rather than a closure per call: the import runs this for every row.)
 */
function fieldText(record: Rec, field: string, where: string, optional = false): string | undefined {
  return fieldTextOr(record, field, where, optional, optional);
}

/**
 * A response field (answer, completion, output): it must be there, but it may be empty — real data has such rows
 * (two in 5,000 of the Alpaca release). The row is imported; rendering lists it with the rows that have no
 * trainable token, since an empty reply teaches nothing.
 */
function responseText(record: Rec, field: string, where: string): string {
  return fieldTextOr(record, field, where, false, true)!;
}

function fieldTextOr(record: Rec, field: string, where: string, optional: boolean, blankOk: boolean): string | undefined {
  const v = record[field];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new WinnowError('parse_error', `${where}: field "${field}" is missing`);
  }
  if (typeof v !== 'string') {
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new WinnowError('parse_error', `${where}: field "${field}" must be a string, found ${Array.isArray(v) ? 'an array' : typeof v}`);
  }
  if (!blankOk && v.trim() === '') throw new WinnowError('parse_error', `${where}: field "${field}" is empty`);
  return v;
}

function withSystem(system: string | undefined, rest: ChatMessage[]): ChatMessage[] {
  return system && system.trim() !== '' ? [{ role: 'system', content: system }, ...rest] : rest;
}

/**
 * Normalize one record. `at` names the position for messages: `train.jsonl line 17`, or a bare line number.
 * Throws WinnowError naming the field at fault.
 */
export function toMessages(record: unknown, mapping: Mapping, at: string | number): Normalized {
  const where = typeof at === 'number' ? `line ${at}` : at;
  if (!isObj(record)) throw new WinnowError('parse_error', `${where}: expected an object, found ${record === null ? 'null' : Array.isArray(record) ? 'an array' : typeof record}`);

  switch (mapping.format) {
    case 'text':
      return { text: fieldText(record, mapping.field, where)! };
    case 'question_answer':
      return [{ role: 'user', content: fieldText(record, mapping.question, where)! }, { role: 'assistant', content: responseText(record, mapping.answer, where) }];
    case 'prompt_completion':
      return withSystem(mapping.system ? fieldText(record, mapping.system, where, true) : undefined,
        [{ role: 'user', content: fieldText(record, mapping.prompt, where)! }, { role: 'assistant', content: responseText(record, mapping.completion, where) }]);
    case 'alpaca': {
      const instruction = fieldText(record, mapping.instruction, where)!;
      const input = mapping.input ? fieldText(record, mapping.input, where, true) : undefined;
      const user = input && input.trim() !== '' ? `${instruction}\n\n${input}` : instruction;
      return withSystem(mapping.system ? fieldText(record, mapping.system, where, true) : undefined,
        [{ role: 'user', content: user }, { role: 'assistant', content: responseText(record, mapping.output, where) }]);
    }
    case 'messages':
    case 'sharegpt':
      return turns(record, mapping.field, mapping.format === 'sharegpt', where);
    default:
      throw new WinnowError('bad_input', `mapping: unknown record format "${(mapping as { format: unknown }).format}"`);
  }
}

/** The turns of a messages or ShareGPT record, each fault named by its field path (`messages[2].content`). */
function turns(record: Rec, field: string, sharegpt: boolean, where: string): DataMessage[] {
  const roleKey = sharegpt ? 'from' : 'role';
  const contentKey = sharegpt ? 'value' : 'content';
  const list = turnArray(record[field]);
  if (list === undefined || list === null) throw new WinnowError('parse_error', `${where}: field "${field}" is missing`);
  if (!Array.isArray(list) || list.length === 0) throw new WinnowError('parse_error', `${where}: field "${field}" must be a non-empty list of turns`);
  const out: DataMessage[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const m: unknown = list[i];
    const at = `${field}[${i}]`;
    if (!isObj(m)) throw new WinnowError('parse_error', `${where}: field "${at}" must be an object`);
    const role = m[roleKey];
    if (typeof role !== 'string') throw new WinnowError('parse_error', `${where}: field "${at}.${roleKey}" is missing`);
    // a tool call's text would not be what the model is trained to emit (chat templates render calls their own way)
    const calls = m.tool_calls ?? m.function_call;
    if (calls !== undefined && calls !== null && !(Array.isArray(calls) && calls.length === 0)) {
      throw new WinnowError('parse_error', `${where}: field "${at}" is a tool call ("${m.tool_calls !== undefined ? 'tool_calls' : 'function_call'}"); ` +
        'tool-call turns are not supported: skip malformed lines to import the other rows');
    }
    const msg: DataMessage = { role: roleName(role), content: turnText(m[contentKey], `${at}.${contentKey}`, where) };
    const weight = m.weight;
    if (weight !== undefined && weight !== null && weight !== 0 && weight !== 1) {
      throw new WinnowError('parse_error', `${where}: field "${at}.weight" must be 0 or 1, found ${JSON.stringify(weight)}`);
    }
    if (weight === 0) msg.weight = 0;
    out[i] = msg;
  }
  return out;
}

/** A turn's text: a string, or the text parts of a content list joined; other parts (images, audio) are refused. */
function turnText(v: unknown, path: string, where: string): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const texts: string[] = [];
    for (let j = 0; j < v.length; j++) {
      const part: unknown = v[j];
      if (isObj(part) && part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      else {
        const kind = isObj(part) && typeof part.type === 'string' ? `a "${part.type}" part` : 'not a text part';
        throw new WinnowError('parse_error', `${where}: field "${path}[${j}]" is ${kind}; only text parts ({"type": "text", "text": ...}) can be trained on`);
      }
    }
    return texts.join('\n');
  }
  throw new WinnowError('parse_error', `${where}: field "${path}" is missing or not a string`);
}
