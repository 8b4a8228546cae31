import { WinnowError } from '../util/errors';
import type { ChatMessage, WinnowTokenizer } from '../models/types';
import { ROLE_ASSISTANT, ROLE_OTHER, ROLE_TEMPLATE, ROLE_USER } from '../db/renders';
import { chatTools, isTextRecord, type DataMessage, type Normalized } from './formats';
import { renderChatTemplate } from './chatShapes';

export type LabelPolicy = 'assistant' | 'all' | 'last_assistant';

export interface RenderOptions {
  labelPolicy: LabelPolicy;
  maxTokens?: number;
}

export interface RenderedExample {
  tokenIds: Int32Array;
  /** [start, end) character offsets into `text`, 2 per token */
  offsets: Int32Array;
  /** 0 system/other, 1 user, 2 assistant, 3 template/special */
  roles: Uint8Array;
  labelMask: Uint8Array;
  text: string;
  truncated: boolean;
}

interface Span {
  role: string;
  /** where the message's turn starts and ends in the rendered text (header + content + closing) */
  start: number;
  end: number;
  contentStart: number;
  contentEnd: number;
}

function roleCode(role: string): number {
  if (role === 'user') return ROLE_USER;
  if (role === 'assistant') return ROLE_ASSISTANT;
  return ROLE_OTHER;
}

/** where a message's content (or, failing that, its trimmed content) sits in `text[from, to)`, or null */
export function locate(text: string, content: string, from: number, to: number): [number, number] | null {
  for (const c of content.trim() === content ? [content] : [content, content.trim()]) {
    if (c === '') return [from, from];
    const i = text.indexOf(c, from);
    if (i !== -1 && i + c.length <= to) return [i, i + c.length];
  }
  return null;
}

/**
 * Each message's turn span, by rendering prefixes: the text added by message i is everything between
 * the rendering of messages[0..i) and messages[0..i]. Works when the template renders prefixes as
 * prefixes (true of ChatML, Llama, Mistral, Zephyr ... templates); returns null otherwise.
 */
function spansByPrefix(tok: WinnowTokenizer, messages: ChatMessage[], text: string, tools?: unknown[]): Span[] | null {
  const spans: Span[] = [];
  let prev = '';
  for (let i = 0; i < messages.length; i++) {
    let cur: string;
    try {
      cur = i === messages.length - 1 ? text : renderChatTemplate(tok, messages.slice(0, i + 1), tools);
    } catch {
      return null; // some templates refuse partial conversations (e.g. one ending on a user turn)
    }
    if (!cur.startsWith(prev) || !text.startsWith(cur)) return null;
    let hit = locate(text, messages[i].content, prev.length, cur.length);
    if (messages[i].tool_calls?.length) hit = callSpan(tok, messages.slice(0, i + 1), cur, prev.length, hit, tools);
    if (!hit) return null;
    spans.push({ role: messages[i].role, start: prev.length, end: cur.length, contentStart: hit[0], contentEnd: hit[1] });
    prev = cur;
  }
  return spans;
}

/** A message without its tool calls (what a template that drops them renders alike). */
const withoutCalls = (m: ChatMessage): ChatMessage => {
  const { tool_calls: _calls, ...rest } = m;
  return rest;
};

/**
 * The text a tool-call turn (the last of `messages`, rendered as `cur`, its turn starting at `from`) learns: its
 * content, if any, and the calls' text — where the render differs from the same turn rendered without its calls (the
 * common prefix and suffix of the two are template text). Falls back to the content's place, or null.
 */
function callSpan(tok: WinnowTokenizer, messages: ChatMessage[], cur: string, from: number, content: [number, number] | null,
  tools?: unknown[]): [number, number] | null {
  let bare: string;
  try {
    bare = renderChatTemplate(tok, [...messages.slice(0, -1), withoutCalls(messages[messages.length - 1])], tools);
  } catch {
    return content;
  }
  // the common suffix first (the turn's closing), then the common prefix up to where the bare turn's closing begins
  // (`<tool_call>` and `<|im_end|>` share their "<", which is the call's)
  let z = 0;
  const room = Math.min(cur.length, bare.length) - from;
  while (z < room && cur[cur.length - 1 - z] === bare[bare.length - 1 - z]) z++;
  let a = from;
  while (a < bare.length - z && a < cur.length - z && cur[a] === bare[a]) a++;
  const b = cur.length - z;
  if (b <= a) return content;
  const hasText = messages[messages.length - 1].content.trim() !== '' && content && content[1] > content[0];
  return hasText ? [Math.min(content[0], a), Math.max(content[1], b)] : [a, b];
}

/**
 * A chat template "supports tools" when it renders each call: every called function's name must appear more often in
 * the text than in the same conversation rendered without the calls (the tool schemas may name it too). A template
 * that drops the calls would train the model on a turn it never sees whole: refused.
 */
function checkCallsRendered(tok: WinnowTokenizer, messages: DataMessage[], text: string, tools?: unknown[]): void {
  if (!messages.some((m) => m.tool_calls?.length)) return;
  let bare: string;
  try {
    bare = renderChatTemplate(tok, messages.map(withoutCalls), tools);
  } catch {
    bare = '';
  }
  const count = (hay: string, needle: string) => hay.split(needle).length - 1;
  messages.forEach((m, i) => {
    for (const call of m.tool_calls ?? []) {
      const name = call.function.name;
      if (count(text, name) <= count(bare, name)) {
        throw new WinnowError('unsupported', `the chat template of ${tok.name ?? 'the model'} does not render tool calls ` +
          `(message ${i} calls "${name}", which the rendered text leaves out)`);
      }
    }
  });
}

/**
 * Fallback: find each content string in order; the turn is just its content (closing eos handled per token).
 * A system (or other non-chat) message the template leaves out gets an empty span: the model never sees it, as in
 * transformers (Mistral v0.3's template keeps the system prompt only when the conversation ends on a user turn).
 * A user or assistant message that is missing is an error: what the model sees and learns would be wrong.
 */
function spansByContent(messages: ChatMessage[], text: string): Span[] {
  let cursor = 0;
  return messages.map((m, i) => {
    let hit = locate(text, m.content, cursor, text.length);
    if (m.tool_calls?.length && (!hit || m.content.trim() === '')) {
      // a call with no text: from its first function name through its last (the template's own wrapping aside)
      const first = text.indexOf(m.tool_calls[0].function.name, cursor);
      const lastName = m.tool_calls[m.tool_calls.length - 1].function.name;
      const last = first < 0 ? -1 : text.indexOf(lastName, first);
      hit = last < 0 ? hit : [first, last + lastName.length];
    }
    if (!hit && m.role !== 'user' && m.role !== 'assistant') return { role: m.role, start: cursor, end: cursor, contentStart: cursor, contentEnd: cursor };
    if (!hit) throw new WinnowError('parse_error', `message ${i} (${m.role}): its content does not appear in the chat template's output`);
    cursor = hit[1];
    return { role: m.role, start: hit[0], end: hit[1], contentStart: hit[0], contentEnd: hit[1] };
  });
}

function truncate(r: RenderedExample, maxTokens: number | undefined): RenderedExample {
  if (maxTokens === undefined || r.tokenIds.length <= maxTokens) return r;
  return {
    ...r, truncated: true, tokenIds: r.tokenIds.slice(0, maxTokens), offsets: r.offsets.slice(0, 2 * maxTokens),
    roles: r.roles.slice(0, maxTokens), labelMask: r.labelMask.slice(0, maxTokens),
  };
}

function renderText(tok: WinnowTokenizer, text: string): RenderedExample {
  const enc = tok.encode(text, { addSpecialTokens: true });
  const n = enc.ids.length;
  const out: RenderedExample = {
    tokenIds: Int32Array.from(enc.ids), offsets: new Int32Array(2 * n), roles: new Uint8Array(n),
    labelMask: new Uint8Array(n), text, truncated: false,
  };
  for (let t = 0; t < n; t++) {
    const [s, e] = enc.offsets[t];
    out.offsets[2 * t] = s; out.offsets[2 * t + 1] = e;
    const isBos = t === 0 && tok.bosId !== null && enc.ids[0] === tok.bosId;
    out.roles[t] = e > s ? ROLE_OTHER : ROLE_TEMPLATE;
    out.labelMask[t] = isBos ? 0 : 1;
  }
  return out;
}

/**
 * The label mask of a chat: one contiguous span of tokens per learned assistant turn, with no holes.
 *  - A template with {% generation %} blocks (transformers' convention for return_assistant_tokens_mask): a turn
 *    learns the text of its generation block(s), from the first token touching it to the last.
 *  - Any other template: a turn learns from its content's first token through its end-of-turn token — the first
 *    special token after the content (`</s>`, `<|im_end|>`, `<|eot_id|>`, `<end_of_turn>` ...), so the model learns
 *    to stop — and nothing after it: template text that follows the end-of-turn token in the same turn (e.g. the
 *    newline after `</s>`) is not learned. A turn whose closing text has no special token learns its closing text
 *    up to where the next message begins (never the next header); when turns can only be found by their contents,
 *    it learns its content and the special token right after it, if any.
 * Tokens in between (e.g. the zero-width "▁" a SentencePiece tokenizer puts after `</s>`) are learned too.
 */
function renderChat(tok: WinnowTokenizer, messages: DataMessage[], policy: LabelPolicy): RenderedExample {
  if (messages.length === 0) throw new WinnowError('bad_input', 'the example has no messages');
  const tools = chatTools(messages);
  const text = renderChatTemplate(tok, messages, tools);
  checkCallsRendered(tok, messages, text, tools);
  const byPrefix = spansByPrefix(tok, messages, text, tools);
  const spans = byPrefix ?? spansByContent(messages, text);

  let lastAssistant = -1;
  spans.forEach((s, i) => { if (s.role === 'assistant') lastAssistant = i; });
  const charRole = new Uint8Array(text.length).fill(ROLE_TEMPLATE);
  for (const s of spans) charRole.fill(roleCode(s.role), s.contentStart, s.contentEnd);

  const enc = tok.encode(text, { addSpecialTokens: false });
  const n = enc.ids.length;
  const out: RenderedExample = {
    tokenIds: Int32Array.from(enc.ids), offsets: new Int32Array(2 * n), roles: new Uint8Array(n),
    labelMask: new Uint8Array(n), text, truncated: false,
  };
  for (let t = 0; t < n; t++) {
    const s = Math.max(0, Math.min(enc.offsets[t][0], text.length));
    const e = Math.max(s, Math.min(enc.offsets[t][1], text.length));
    out.offsets[2 * t] = s; out.offsets[2 * t + 1] = e;
    let role = ROLE_TEMPLATE;
    // a token straddling template text and content (e.g. " Hello" after "Assistant:") belongs to the content
    for (let c = s; c < e; c++) {
      if (role === ROLE_TEMPLATE && charRole[c] !== ROLE_TEMPLATE) { role = charRole[c]; break; }
    }
    out.roles[t] = role;
  }
  if (policy === 'all') {
    for (let t = 0; t < n; t++) out.labelMask[t] = t === 0 && enc.ids[0] === tok.bosId ? 0 : 1;
    return out;
  }

  const gen = generationSpansOf(tok, messages, text, tools);
  const isSpecial = (id: number) => (tok.isSpecialId ? tok.isSpecialId(id) : id === tok.eosId);
  const start = (t: number) => out.offsets[2 * t]!;
  const end = (t: number) => out.offsets[2 * t + 1]!;
  // turns come in text order and token offsets never go back: one forward sweep over the tokens for all turns
  let cursor = 0;
  spans.forEach((s, i) => {
    // weight 0: the file's author left this turn out of training
    // an empty reply teaches nothing, not even to stop: its row is listed with those that have no trainable token
    const learn = s.role === 'assistant' && messages[i].weight !== 0 &&
      (messages[i].content.trim() !== '' || !!messages[i].tool_calls?.length) &&
      (policy === 'assistant' || (policy === 'last_assistant' && i === lastAssistant));
    if (!learn) return;
    // where the text of this turn ends: the next message's turn (or, found by content, its content) begins there
    const next = spans.slice(i + 1).find((x) => x.end > x.start || x.contentEnd > x.contentStart);
    const turnEnd = byPrefix ? s.end : (next ? next.contentStart : text.length);
    let from: number;
    let to: number;
    if (gen) {
      const mine = gen.filter(([a, b]) => a < turnEnd && b > (byPrefix ? s.start : s.contentStart) && b > a);
      if (!mine.length) return;
      from = Math.min(...mine.map(([a]) => a));
      to = Math.max(...mine.map(([, b]) => b));
    } else {
      from = s.contentStart;
      to = byPrefix ? s.end : s.contentEnd;
      for (let t = cursor; t < n; t++) {
        if (start(t) < s.contentEnd || end(t) <= start(t)) continue;
        if (start(t) >= turnEnd) break;
        if (isSpecial(enc.ids[t]!)) { to = end(t); break; }
      }
    }
    // every token from the first that touches [from, to) to the last: one span, no holes
    let first = -1;
    let last = -1;
    for (let t = cursor; t < n; t++) {
      const width = end(t) > start(t);
      if (width && start(t) >= to) break;
      if (!width || end(t) <= from) continue;
      if (first < 0) first = t;
      last = t;
    }
    if (first >= 0) {
      out.labelMask.fill(1, first, last + 1);
      cursor = last + 1;
    }
  });
  return out;
}

/** The template's generation blocks in `text`, or null when it has none (or they do not describe this text). */
function generationSpansOf(tok: WinnowTokenizer, messages: DataMessage[], text: string, tools?: unknown[]): Array<[number, number]> | null {
  let spans: Array<[number, number]> | null;
  try {
    spans = tok.generationSpans ? tok.generationSpans(messages, tools?.length ? { tools } : {}) : null;
  } catch {
    return null; // the plain render succeeded: its own rule applies
  }
  if (!spans || !spans.length) return null;
  return spans.every(([a, b]) => a >= 0 && b <= text.length && a <= b) ? spans : null;
}

/**
 * Tokenize one example with per-token roles and the label mask. Chat examples go through the chat
 * template; `{ text }` records are encoded as-is with the tokenizer's special tokens (BOS) and learn
 * every token but BOS.
 */
export function renderExample(tok: WinnowTokenizer, input: Normalized, opts: RenderOptions): RenderedExample {
  const r = isTextRecord(input) ? renderText(tok, input.text) : renderChat(tok, input, opts.labelPolicy);
  return truncate(r, opts.maxTokens);
}

/** Whether a chat example has an assistant turn with no text and no tool call (an empty response: imported, but it teaches nothing). */
export function hasEmptyResponse(input: Normalized): boolean {
  return !isTextRecord(input) && input.some((m) => m.role === 'assistant' && m.content.trim() === '' && !m.tool_calls?.length);
}

export function countLabels(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}
