/**
 * The tokenizer-independent token mask: for each message, the [start, end) character ranges of its content that are
 * trained on, so another tokenizer or chat template can re-apply the same choice. Derived from a stored render (token
 * offsets into the rendered text + the label mask) and where each message's content sits in that rendered text.
 * Characters are Unicode code points (Python `str` indices), not UTF-16 units.
 */
import type { ChatMessage, WinnowTokenizer } from '../models/types';
import { chatTools, isTextRecord, type Normalized } from '../data/formats';
import { renderChatTemplate } from '../data/chatShapes';
import { locate } from '../data/render';

export interface MessageSpans {
  role: string;
  /** [start, end) code-point ranges of `content` whose tokens carry a label */
  trained: Array<[number, number]>;
  /** a label token follows the content inside the same turn (typically the closing eos: the model learns to stop) */
  turn_end_trained: boolean;
}

interface ContentSpan {
  contentStart: number;
  contentEnd: number;
  /** where the turn's template text after the content ends (next turn's start) */
  turnEnd: number;
}

/**
 * Where each message's content is in the rendered text. Same method as the renderer: rendering growing prefixes
 * bounds each turn (templates render prefixes as prefixes); otherwise contents are found in order.
 */
export function contentSpans(tok: WinnowTokenizer, messages: ChatMessage[], text: string, tools?: unknown[]): ContentSpan[] | null {
  const byPrefix: ContentSpan[] = [];
  let prev = '';
  let ok = true;
  for (let i = 0; i < messages.length && ok; i++) {
    let cur: string;
    try {
      cur = i === messages.length - 1 ? text : renderChatTemplate(tok, messages.slice(0, i + 1), tools);
    } catch {
      ok = false;
      break;
    }
    const hit = cur.startsWith(prev) && text.startsWith(cur) ? locate(text, messages[i].content, prev.length, cur.length) : null;
    if (!hit) ok = false;
    else byPrefix.push({ contentStart: hit[0], contentEnd: hit[1], turnEnd: cur.length });
    prev = cur;
  }
  if (ok) return byPrefix;
  const out: ContentSpan[] = [];
  let cursor = 0;
  for (const m of messages) {
    const hit = locate(text, m.content, cursor, text.length);
    if (!hit) return null;
    out.push({ contentStart: hit[0], contentEnd: hit[1], turnEnd: text.length });
    cursor = hit[1];
  }
  for (let i = 0; i + 1 < out.length; i++) out[i].turnEnd = out[i + 1].contentStart;
  return out;
}

/** code-point index of each UTF-16 offset 0..s.length of `s` */
function codePointIndex(s: string): Int32Array {
  const idx = new Int32Array(s.length + 1);
  let cp = 0;
  for (let i = 0; i < s.length; i++) {
    idx[i] = cp;
    const c = s.charCodeAt(i);
    // a high surrogate followed by a low one is one code point: the low half maps to the same index
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        idx[i + 1] = cp;
        i++;
      }
    }
    cp++;
  }
  idx[s.length] = cp;
  return idx;
}

/**
 * Per-message trained character ranges of one rendered example.
 * @param offsets [start, end) UTF-16 offsets into the rendered text, 2 per token (as stored in renders.offsets)
 * @returns null when the message contents cannot be located in the rendered text
 */
export function trainedCharSpans(
  tok: WinnowTokenizer,
  normalized: Normalized,
  offsets: Int32Array,
  labelMask: Uint8Array,
): MessageSpans[] | null {
  const messages: ChatMessage[] = isTextRecord(normalized) ? [{ role: 'text', content: normalized.text }] : normalized;
  const tools = isTextRecord(normalized) ? undefined : chatTools(normalized);
  const text = isTextRecord(normalized) ? normalized.text : renderChatTemplate(tok, normalized, tools);
  const spans = isTextRecord(normalized)
    ? [{ contentStart: 0, contentEnd: text.length, turnEnd: text.length }]
    : contentSpans(tok, normalized, text, tools);
  if (!spans) return null;
  const trainedChar = new Uint8Array(text.length);
  const n = labelMask.length;
  for (let t = 0; t < n; t++) {
    if (!labelMask[t]) continue;
    const s = Math.max(0, Math.min(offsets[2 * t], text.length));
    const e = Math.max(s, Math.min(offsets[2 * t + 1], text.length));
    trainedChar.fill(1, s, e);
  }
  return messages.map((m, i) => {
    const { contentStart: cs, contentEnd: ce, turnEnd } = spans[i];
    const cp = codePointIndex(text.slice(cs, ce));
    // content found only trimmed: ranges count from the original content's first character
    const lead = ce - cs === m.content.length ? 0 : Array.from(m.content.slice(0, m.content.length - m.content.trimStart().length)).length;
    const trained: Array<[number, number]> = [];
    for (let c = cs; c < ce; ) {
      if (!trainedChar[c]) {
        c++;
        continue;
      }
      const start = c;
      while (c < ce && trainedChar[c]) c++;
      trained.push([lead + cp[start - cs], lead + cp[c - cs]]);
    }
    let turnEndTrained = false;
    for (let t = 0; t < n && !turnEndTrained; t++) {
      const s = offsets[2 * t];
      if (labelMask[t] && s >= ce && (s < turnEnd || (s === ce && offsets[2 * t + 1] === s))) turnEndTrained = true;
    }
    return { role: m.role, trained, turn_end_trained: turnEndTrained };
  });
}
