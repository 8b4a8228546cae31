/**
 * Chat-template rendering by substitution. Interpreting a jinja template costs ~0.1 ms per call and rendering a
 * chat takes one call per message (the prefix renders that locate turns), which dominated import-time renders.
 * When the template only ever PRINTS message contents (never tests, filters or slices them), its output for a
 * given sequence of roles is fixed text with the contents spliced in. So each role sequence is rendered once with
 * placeholder contents, split at the placeholders, and every later chat with those roles is a string join.
 * Anything the check cannot vouch for renders through the template as before; the first few substitutions of each
 * shape are also compared with a real render, and any difference turns substitution off for the tokenizer.
 */
import type { ChatMessage, WinnowTokenizer } from '../models/types';

const TERM = String.raw`(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[A-Za-z_]\w*(?:\s*\[\s*(?:'[^']*'|"[^"]*"|\d+)\s*\]|\.[A-Za-z_]\w*)*)`;
const PLAIN_OUTPUT = new RegExp(String.raw`^\s*${TERM}(?:\s*\+\s*${TERM})*\s*$`);
const MENTIONS_CONTENT = /\bcontent\b/;

/** True when every use of a message's content in the template is printing it (alone or concatenated). */
export function templatePrintsContentOnly(template: string): boolean {
  const blocks = template.match(/\{\{-?([\s\S]*?)-?\}\}|\{%-?([\s\S]*?)-?%\}/g) ?? [];
  for (const b of blocks) {
    const isOutput = b.startsWith('{{');
    const inner = b.replace(/^\{[{%]-?/, '').replace(/-?[}%]\}$/, '');
    if (!MENTIONS_CONTENT.test(inner)) continue;
    if (!isOutput || !PLAIN_OUTPUT.test(inner)) return false;
  }
  return true;
}

/** Rendered text for one role sequence: parts[0] + content0 + parts[1] + content1 + ... + parts[n]. */
type Shape = string[] | null;

interface TokShapes {
  enabled: boolean;
  shapes: Map<string, Shape>;
  /** substitutions compared with a real render so far, per shape */
  checked: Map<string, number>;
}

const CHECKS_PER_SHAPE = 4;
const MAX_SHAPES = 10_000;
const byTokenizer = new WeakMap<WinnowTokenizer, TokShapes>();

// Placeholders of private-use characters with whitespace around them: a template that trimmed or otherwise
// changed contents would not print them intact, and the shape is then refused.
const placeholder = (i: number) => ` \n\uE000${i}\uE001 \n`;

function buildShape(tok: WinnowTokenizer, roles: string[]): Shape {
  let text: string;
  try {
    text = tok.applyChatTemplate(roles.map((role, i) => ({ role, content: placeholder(i) })));
  } catch {
    return null; // let the real render raise its own error
  }
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < roles.length; i++) {
    const p = placeholder(i);
    const at = text.indexOf(p, from);
    if (at < 0 || text.indexOf(p, at + p.length) >= 0) return null; // dropped, changed or printed twice
    parts.push(text.slice(from, at));
    from = at + p.length;
  }
  parts.push(text.slice(from));
  return parts;
}

function state(tok: WinnowTokenizer): TokShapes {
  let s = byTokenizer.get(tok);
  if (!s) {
    s = { enabled: templatePrintsContentOnly(tok.chatTemplate), shapes: new Map(), checked: new Map() };
    byTokenizer.set(tok, s);
  }
  return s;
}

/** tok.applyChatTemplate(messages) (no generation prompt; the record's tool schemas as `tools`), by substitution when that is known to be identical. */
export function renderChatTemplate(tok: WinnowTokenizer, messages: ChatMessage[], tools?: unknown[]): string {
  // tool calls, tool results and tool schemas are rendered from more than the roles and contents: always the template
  if (tools?.length || messages.some((m) => m.tool_calls || m.tool_call_id !== undefined || m.name !== undefined)) {
    return tok.applyChatTemplate(messages, tools?.length ? { tools } : {});
  }
  const s = state(tok);
  if (!s.enabled) return tok.applyChatTemplate(messages);
  const key = messages.map((m) => m.role).join('\u0000');
  let shape = s.shapes.get(key);
  if (shape === undefined) {
    if (s.shapes.size >= MAX_SHAPES) s.shapes.clear();
    shape = buildShape(tok, messages.map((m) => m.role));
    s.shapes.set(key, shape);
  }
  if (shape === null) return tok.applyChatTemplate(messages);
  let out = shape[0];
  for (let i = 0; i < messages.length; i++) out += messages[i].content + shape[i + 1];
  const n = s.checked.get(key) ?? 0;
  if (n < CHECKS_PER_SHAPE) {
    s.checked.set(key, n + 1);
    const real = tok.applyChatTemplate(messages);
    if (real !== out) {
      s.enabled = false;
      return real;
    }
  }
  return out;
}

/** Always render through the template for this tokenizer (the reference path, for tests). */
export function disableChatShapes(tok: WinnowTokenizer): void {
  state(tok).enabled = false;
}

/** Whether substitution is (still) on for this tokenizer: tests check a fast path really ran. */
export function chatShapesEnabled(tok: WinnowTokenizer): boolean {
  return state(tok).enabled;
}
