import { WinnowError } from '../util/errors';
import type { ChatMessage, ToolCall } from '../models/types';
import { expandedList, expandRecord, getField, SELF } from './fields';
import { guessClassification, guessMapping, type Certainty } from './guess';
import { isMessageRow, isNestedTree } from './trees';
import type { Mapping } from './mapping';

export type RecordFormat = 'messages' | 'sharegpt' | 'alpaca' | 'prompt_completion' | 'question_answer' | 'text';

export type { Mapping } from './mapping';

/** A plain-text record: tokenized as-is, no chat template, every token (but BOS) trainable. */
export interface TextRecord { text: string }

/**
 * A mapped message. `weight: 0` (OpenAI fine-tuning files, ShareGPT exports with per-turn weights) marks a turn the
 * dataset's author left out of training: its tokens are never in the label mask.
 */
export interface DataMessage extends ChatMessage {
  weight?: 0;
  /** on a conversation's first message only: the record's `tools` list (function schemas), passed to the template as `tools` */
  tools?: unknown[];
}

/** A conversation's tool schemas (the record's `tools`), if it has any. */
export function chatTools(messages: DataMessage[]): unknown[] | undefined {
  return messages[0]?.tools;
}

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
const COMPLETION = ['completion', 'response', 'answer', 'output', 'solution', 'canonical_solution', 'code', 'chosen'];
/** classification records: a text and its label (SST-2, IMDB, AG News, TREC, emotion, CoLA...) */
const CLASS_TEXT = ['sentence', 'text', 'review', 'content', 'document', 'question', 'tweet', 'utterance'];
const CLASS_LABEL = ['label', 'labels', 'label_text', 'class', 'category', 'sentiment', 'gold_label', 'coarse_label', 'fine_label', 'intent', 'emotion'];
const isLabel = (v: unknown) => typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.trim() !== '' && v.length <= 40);
/** prompts are text, never an id or a path (HumanEval's "HumanEval/0", MBPP's "... .ipynb") */
const isPromptText = (v: unknown) => typeof v === 'string' && !/^(?:[\w-]+\/\d+|(?:(?!\. )[^\n?!]){1,200}\.[A-Za-z][A-Za-z0-9]{0,7})$/.test(v.trim());
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
  if (typeof r === 'string') return { format: 'text', field: SELF };
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
  const prompt = find(PROMPT, isPromptText);
  const completion = find(COMPLETION, isAnswer);
  if (prompt && completion) return { format: 'prompt_completion', prompt, completion, ...(system ? { system } : {}) };
  if (isMessageTreeRow(r)) return null;
  const classText = find(CLASS_TEXT, isPromptText);
  const label = find(CLASS_LABEL, isLabel);
  // the verbaliser is filled from the sampled labels by detectFormat
  if (classText && label) return { format: 'prompt_completion', prompt: classText, completion: label, labels: {} };
  const text = find(['text', 'content', 'document'], isStr);
  if (text) return { format: 'text', field: text };
  return null;
}

/** The mapping in words, for messages: `alpaca (instruction: "instruction", input: "context", output: "response")`. */
export function describeMapping(m: Mapping): string {
  const rec = m as unknown as Record<string, string | undefined>;
  const fields = ['field', 'instruction', 'input', 'prompt', 'question', 'output', 'completion', 'answer', 'system', 'list']
    .filter((k) => typeof rec[k] === 'string').map((k) => `${k}: "${rec[k]}"`);
  if (m.tree) fields.push(`tree: ${m.tree.policy}${m.tree.lang?.length ? ` (${m.tree.lang.join(', ')})` : ''}`);
  if (m.format === 'prompt_completion' && m.labels) fields.push(`labels: ${Object.entries(m.labels).map(([k, v]) => `${k} → ${v}`).join(', ')}`);
  return `${m.format} (${fields.join(', ')})`;
}

export interface Detected {
  format: RecordFormat;
  /** share of the sampled records the mapping fits (each tested) */
  confidence: number;
  mapping: Mapping;
  /** how sure the choice of fields is: high for a known format's field names, lower for a guess from contents */
  certainty: Certainty;
  /** why these fields, in words */
  basis: string;
}

/** The classification records' verbaliser: each sampled label as itself, for the user to edit (0 → "negative"). */
function labelTable(samples: unknown[], field: string): Record<string, string> | null {
  const labels = new Set<string>();
  for (const s of samples) {
    const v = isObj(s) ? s[field] : undefined;
    if (v !== undefined && v !== null) labels.add(String(v));
  }
  if (labels.size > 50) return null;
  const sorted = [...labels].sort((a, b) => (Number.isFinite(Number(a)) && Number.isFinite(Number(b)) ? Number(a) - Number(b) : a.localeCompare(b)));
  return Object.fromEntries(sorted.map((l) => [l, l]));
}

/**
 * Pick the record format most sample records fit; the confidence is the share of samples it fits. Optional fields
 * (alpaca input/system) are kept if any sample has them. Records that only fit as plain text but hold a prompt and a
 * response by their contents (MBPP's `text` + `code`) take the pair. Nothing known fits: an error naming the fields
 * seen and the best guess as a mapping to pass.
 */
export function detectFormat(samples: unknown[], source = 'data'): Detected {
  const valid = samples.filter((s) => s !== undefined);
  const trees = valid.filter((s) => isMessageRow(s) || isNestedTree(s)).length;
  if (valid.length && trees / valid.length >= 0.5) {
    const nested = valid.some(isNestedTree);
    return {
      format: 'messages', confidence: trees / valid.length, mapping: { format: 'messages', field: 'messages', tree: { policy: 'top1' } }, certainty: 'high',
      basis: `OpenAssistant message trees (${nested ? 'nested exports: "prompt" with "replies"' : 'one message per row: "message_id", "parent_id", "role"'}), ` +
        'made into conversations: the best-ranked reply at each step ("top1"; "all_paths" makes one per leaf); deleted and synthetic messages left out',
    };
  }
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
  let best = [...votes.values()].sort((a, b) => b.n - a.n)[0];
  if ((!best || (best.mapping.format === 'text' && best.mapping.field !== SELF)) && !valid.some((s) => isObj(s) && isMessageTreeRow(s))) {
    // a text and a few short labels, whatever their names (a headerless TSV): classification
    const c = guessClassification(valid);
    if (c) best = { n: 0, mapping: { format: 'prompt_completion', prompt: c.prompt, completion: c.label, labels: {} } };
  }
  if (best && best.mapping.format === 'text' && best.mapping.field !== SELF) {
    const guess = guessMapping(valid);
    if (guess && guess.certainty !== 'low') return { ...tested(guess.mapping, valid), certainty: guess.certainty, basis: guess.basis };
  }
  if (!best && valid.some((s) => isObj(s) && isMessageTreeRow(s))) {
    throw new WinnowError('unsupported',
      `${source}: the rows look like an OpenAssistant message tree (one message per row, with "parent_id"/"message_tree_id" ` +
      'and "role"), not conversations; import a conversation export of it (messages or ShareGPT per row), or pass the mapping ' +
      '{"format": "text", "field": "text"} to train on each message as plain text');
  }
  if (!best || valid.length === 0) {
    const keys = new Set<string>();
    for (const s of valid.slice(0, 20)) if (isObj(s)) Object.keys(s).forEach((k) => keys.add(k));
    const guess = guessMapping(valid);
    throw new WinnowError('unsupported',
      `${source}: cannot recognise the record format (fields seen: ${[...keys].map((k) => `"${k}"`).join(', ') || 'none'}); ` +
      'expected messages, ShareGPT conversations, Alpaca instruction/output, prompt/completion, question/answer or text; ' +
      'pick the fields in the mapping editor (or pass a mapping)' +
      (guess ? `; a guess (${guess.certainty} certainty), to check in the preview: ${JSON.stringify(guess.mapping)}` : ''));
  }
  let mapping = best.mapping;
  if (mapping.format === 'prompt_completion' && mapping.labels && mapping.completion) {
    const labels = labelTable(valid, mapping.completion);
    mapping = labels ? { ...mapping, labels } : { format: 'prompt_completion', prompt: mapping.prompt, completion: mapping.completion };
    const basis = labels
      ? `classification records: "${mapping.prompt}" as the prompt and the label "${mapping.completion}" as the completion, through a label table ` +
        `(${Object.keys(labels).length} labels seen) to edit so each label reads as the words the model should learn`
      : `"${mapping.prompt}" as the prompt and "${mapping.completion}" as the completion`;
    return { ...tested(mapping, valid), certainty: labels ? 'medium' : 'low', basis };
  }
  const confidence = best.n / valid.length;
  return {
    format: mapping.format, confidence, mapping, certainty: confidence >= 0.9 ? 'high' : 'medium',
    basis: mapping.format === 'text' && mapping.field === SELF ? 'each line is a bare JSON string: imported as plain text'
      : `field names of a known format: ${describeMapping(mapping)}`,
  };
}

/** A mapping's fit on the sample: the share of records it maps without an error. */
function tested(mapping: Mapping, samples: unknown[]): { format: RecordFormat; confidence: number; mapping: Mapping } {
  let ok = 0;
  const list = expandedList(mapping);
  for (const s of samples) {
    try {
      for (const row of list ? expandRecord(s, list, 'sample') : [s]) toMessages(row, mapping, 'sample');
      ok++;
    } catch {
      // counted as not fitting
    }
  }
  return { format: mapping.format, confidence: samples.length ? ok / samples.length : 0, mapping };
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
function fieldText(record: unknown, field: string, where: string, optional = false): string | undefined {
  return fieldTextOr(record, field, where, optional, optional);
}

/**
 * A response field (answer, completion, output): it must be there, but it may be empty — real data has such rows
 * (two in 5,000 of the Alpaca release). The row is imported; rendering lists it with the rows that have no
 * trainable token, since an empty reply teaches nothing.
 */
function responseText(record: unknown, field: string, where: string): string {
  return fieldTextOr(record, field, where, false, true)!;
}

function fieldTextOr(record: unknown, field: string, where: string, optional: boolean, blankOk: boolean): string | undefined {
  const v = getField(record, field, where);
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
  if (!isObj(record) && !usesSelf(mapping)) {
    const kind = record === null ? 'null' : Array.isArray(record) ? 'an array' : typeof record;
    throw new WinnowError('parse_error', `${where}: expected an object, found ${kind}${typeof record === 'string' ? ' (a bare string: map it with the field "$")' : ''}`);
  }

  switch (mapping.format) {
    case 'text':
      return { text: fieldText(record, mapping.field, where)! };
    case 'question_answer':
      return [{ role: 'user', content: fieldText(record, mapping.question, where)! }, { role: 'assistant', content: responseText(record, mapping.answer, where) }];
    case 'prompt_completion': {
      const user: ChatMessage = { role: 'user', content: fieldText(record, mapping.prompt, where)! };
      const system = mapping.system ? fieldText(record, mapping.system, where, true) : undefined;
      if (mapping.completion === undefined) return withSystem(system, [user]);
      let completion = responseText(record, mapping.completion, where);
      if (mapping.labels) {
        const said = mapping.labels[completion];
        if (said === undefined) {
          throw new WinnowError('parse_error', `${where}: field "${mapping.completion}" is ${JSON.stringify(completion)}, which the mapping's labels do not name ` +
            `(they name ${Object.keys(mapping.labels).map((k) => JSON.stringify(k)).join(', ')})`);
        }
        completion = said;
      }
      return withSystem(system, [user, { role: 'assistant', content: completion }]);
    }
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

/** Whether a mapping reads the record itself (`$`): then the record need not be an object. */
function usesSelf(m: Mapping): boolean {
  return Object.values(m).includes(SELF);
}

/** The turns of a messages or ShareGPT record, each fault named by its field path (`messages[2].content`). */
function turns(record: unknown, field: string, sharegpt: boolean, where: string): DataMessage[] {
  const roleKey = sharegpt ? 'from' : 'role';
  const contentKey = sharegpt ? 'value' : 'content';
  const list = turnArray(getField(record, field, where));
  if (list === undefined || list === null) throw new WinnowError('parse_error', `${where}: field "${field}" is missing`);
  if (!Array.isArray(list) || list.length === 0) throw new WinnowError('parse_error', `${where}: field "${field}" must be a non-empty list of turns`);
  const out: DataMessage[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const m: unknown = list[i];
    const at = `${field}[${i}]`;
    if (!isObj(m)) throw new WinnowError('parse_error', `${where}: field "${at}" must be an object`);
    const role = m[roleKey];
    if (typeof role !== 'string') throw new WinnowError('parse_error', `${where}: field "${at}.${roleKey}" is missing`);
    const calls = toolCalls(m, at, where);
    const rawContent = m[contentKey];
    const msg: DataMessage = {
      role: roleName(role),
      content: calls && (rawContent === null || rawContent === undefined) ? '' : turnText(rawContent, `${at}.${contentKey}`, where),
    };
    if (calls) msg.tool_calls = calls;
    if (msg.role === 'tool' || msg.role === 'function') {
      if (typeof m.tool_call_id === 'string') msg.tool_call_id = m.tool_call_id;
      if (typeof m.name === 'string') msg.name = m.name;
    }
    const weight = m.weight;
    if (weight !== undefined && weight !== null && weight !== 0 && weight !== 1) {
      throw new WinnowError('parse_error', `${where}: field "${at}.weight" must be 0 or 1, found ${JSON.stringify(weight)}`);
    }
    if (weight === 0) msg.weight = 0;
    out[i] = msg;
  }
  if (isObj(record) && Array.isArray(record.tools) && record.tools.length > 0) out[0].tools = record.tools;
  return out;
}

/**
 * A turn's tool calls in the OpenAI / Hugging Face shape (`tool_calls`, or the older single `function_call`), with each
 * call's `arguments` as a mapping when it is a JSON object string — chat templates (Qwen2.5, Llama 3.1) read it as
 * transformers passes it — and kept as the string otherwise. Undefined when the turn calls nothing.
 */
function toolCalls(m: Record<string, unknown>, at: string, where: string): ToolCall[] | undefined {
  const raw = m.tool_calls ?? (m.function_call !== undefined && m.function_call !== null ? [{ type: 'function', function: m.function_call }] : undefined);
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) return undefined;
  const key = m.tool_calls !== undefined && m.tool_calls !== null ? 'tool_calls' : 'function_call';
  if (!Array.isArray(raw)) throw new WinnowError('parse_error', `${where}: field "${at}.${key}" must be a list of calls`);
  return raw.map((c: unknown, j) => {
    const path = key === 'tool_calls' ? `${at}.tool_calls[${j}]` : `${at}.function_call`;
    const fn = isObj(c) ? (isObj(c.function) ? c.function : c) : undefined;
    if (!fn || typeof fn.name !== 'string' || fn.name === '') {
      throw new WinnowError('parse_error', `${where}: field "${path}" must be a call with a function name ({"type": "function", "function": {"name": ..., "arguments": ...}})`);
    }
    let args: unknown = fn.arguments ?? {};
    if (typeof args === 'string') {
      try {
        const parsed: unknown = JSON.parse(args);
        if (isObj(parsed)) args = parsed;
      } catch { /* not JSON: the template gets the string as written */ }
    }
    const call: ToolCall = { type: 'function', function: { name: fn.name, arguments: args } };
    if (isObj(c) && typeof c.id === 'string') call.id = c.id;
    return call;
  });
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
