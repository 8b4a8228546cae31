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

export type Normalized = ChatMessage[] | TextRecord;

export function isTextRecord(n: Normalized): n is TextRecord {
  return !Array.isArray(n);
}

type Rec = Record<string, unknown>;
const isObj = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);
const has = (r: Rec, k: string) => typeof r[k] === 'string';

function firstKey(r: Rec, keys: string[], pred: (v: unknown) => boolean): string | undefined {
  return keys.find((k) => pred(r[k]));
}
const isTurnList = (roleKey: string, contentKey: string) => (v: unknown) =>
  Array.isArray(v) && v.length > 0 && v.every((m) => isObj(m) && typeof m[roleKey] === 'string' && typeof m[contentKey] === 'string');

/** The mapping one record suggests, most specific first; null when nothing fits. */
function mappingFor(r: unknown): Mapping | null {
  if (!isObj(r)) return null;
  const msgField = firstKey(r, ['messages', 'conversations', 'conversation', 'chat', 'dialog'], isTurnList('role', 'content'));
  if (msgField) return { format: 'messages', field: msgField };
  const sgField = firstKey(r, ['conversations', 'conversation', 'messages', 'items'], isTurnList('from', 'value'));
  if (sgField) return { format: 'sharegpt', field: sgField };
  if (has(r, 'instruction') && has(r, 'output')) {
    return {
      format: 'alpaca', instruction: 'instruction', output: 'output',
      ...('input' in r ? { input: 'input' } : {}), ...(has(r, 'system') ? { system: 'system' } : {}),
    };
  }
  const prompt = firstKey(r, ['prompt'], (v) => typeof v === 'string');
  const completion = firstKey(r, ['completion', 'response', 'chosen'], (v) => typeof v === 'string');
  if (prompt && completion) return { format: 'prompt_completion', prompt, completion, ...(has(r, 'system') ? { system: 'system' } : {}) };
  if (has(r, 'question') && has(r, 'answer')) return { format: 'question_answer', question: 'question', answer: 'answer' };
  const text = firstKey(r, ['text', 'content', 'document'], (v) => typeof v === 'string');
  if (text) return { format: 'text', field: text };
  return null;
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
  if (!best || valid.length === 0) {
    const keys = new Set<string>();
    for (const s of valid.slice(0, 20)) if (isObj(s)) Object.keys(s).forEach((k) => keys.add(k));
    throw new WinnowError('unsupported',
      `${source}: cannot recognise the record format (fields seen: ${[...keys].map((k) => `"${k}"`).join(', ') || 'none'}); ` +
      'expected messages, ShareGPT conversations, Alpaca instruction/output, prompt/completion, question/answer or text; pass a mapping');
  }
  return { format: best.mapping.format, confidence: best.n / valid.length, mapping: best.mapping };
}

const SHAREGPT_ROLES: Record<string, string> = {
  human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', bot: 'assistant', model: 'assistant',
  chatgpt: 'assistant', system: 'system',
};

/**
 * A field's text: numbers and booleans as text, anything else named as the wrong kind; missing or blank fields are
 * errors unless optional. (Module-level rather than a closure per call: the import runs this for every row.)
 */
function fieldText(record: Rec, field: string, where: string, optional = false): string | undefined {
  const v = record[field];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new WinnowError('parse_error', `${where}: field "${field}" is missing`);
  }
  if (typeof v !== 'string') {
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new WinnowError('parse_error', `${where}: field "${field}" must be a string, found ${Array.isArray(v) ? 'an array' : typeof v}`);
  }
  if (!optional && v.trim() === '') throw new WinnowError('parse_error', `${where}: field "${field}" is empty`);
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
      return [{ role: 'user', content: fieldText(record, mapping.question, where)! }, { role: 'assistant', content: fieldText(record, mapping.answer, where)! }];
    case 'prompt_completion':
      return withSystem(mapping.system ? fieldText(record, mapping.system, where, true) : undefined,
        [{ role: 'user', content: fieldText(record, mapping.prompt, where)! }, { role: 'assistant', content: fieldText(record, mapping.completion, where)! }]);
    case 'alpaca': {
      const instruction = fieldText(record, mapping.instruction, where)!;
      const input = mapping.input ? fieldText(record, mapping.input, where, true) : undefined;
      const user = input && input.trim() !== '' ? `${instruction}\n\n${input}` : instruction;
      return withSystem(mapping.system ? fieldText(record, mapping.system, where, true) : undefined,
        [{ role: 'user', content: user }, { role: 'assistant', content: fieldText(record, mapping.output, where)! }]);
    }
    case 'messages':
    case 'sharegpt': {
      const sharegpt = mapping.format === 'sharegpt';
      const roleKey = sharegpt ? 'from' : 'role';
      const contentKey = sharegpt ? 'value' : 'content';
      const list = record[mapping.field];
      if (list === undefined) throw new WinnowError('parse_error', `${where}: field "${mapping.field}" is missing`);
      if (!Array.isArray(list) || list.length === 0) throw new WinnowError('parse_error', `${where}: field "${mapping.field}" must be a non-empty list of turns`);
      const out: ChatMessage[] = new Array(list.length);
      for (let i = 0; i < list.length; i++) {
        const m: unknown = list[i];
        if (!isObj(m)) throw new WinnowError('parse_error', `${where}: field "${mapping.field}[${i}]" must be an object`);
        const role = m[roleKey];
        const content = m[contentKey];
        if (typeof role !== 'string') throw new WinnowError('parse_error', `${where}: field "${mapping.field}[${i}].${roleKey}" is missing`);
        if (typeof content !== 'string') throw new WinnowError('parse_error', `${where}: field "${mapping.field}[${i}].${contentKey}" is missing or not a string`);
        out[i] = { role: sharegpt ? SHAREGPT_ROLES[role.toLowerCase()] ?? role.toLowerCase() : role, content };
      }
      return out;
    }
    default:
      throw new WinnowError('bad_input', `mapping: unknown record format "${(mapping as { format: unknown }).format}"`);
  }
}
