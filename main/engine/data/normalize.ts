import { isTextRecord, type Normalized } from './formats';

const PREVIEW_CHARS = 280;

/** All the example's text, for search: message contents separated by blank lines. */
export function fullText(n: Normalized): string {
  return isTextRecord(n) ? n.text : n.map((m) => m.content).join('\n\n');
}

/** Exactly the characters JavaScript's `\s` matches. */
function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return c === 160 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * One line for the table: "user: … ⏎ assistant: …", whitespace runs collapsed to one space, trimmed, cut at
 * PREVIEW_CHARS with "…". One pass that stops once the preview is full (imports call it for every row).
 */
export function previewText(n: Normalized): string {
  const pieces = isTextRecord(n) ? [n.text] : n.flatMap((m, i) => (i ? [' ⏎ ', m.role, ': ', m.content] : [m.role, ': ', m.content]));
  let out = '';
  let space = false; // a whitespace run is pending (written only if more text follows)
  for (const p of pieces) {
    let run = 0; // start of the current stretch of non-space characters in p
    for (let i = 0; i <= p.length; i++) {
      const end = i === p.length;
      if (!end && !isSpace(p.charCodeAt(i))) continue;
      if (i > run) {
        if (space && out.length) out += ' ';
        space = false;
        out += p.slice(run, i);
        if (out.length > PREVIEW_CHARS) return `${out.slice(0, PREVIEW_CHARS - 1)}…`;
      }
      if (!end) space = true;
      run = i + 1;
    }
  }
  return out;
}

export function charCount(n: Normalized): number {
  return isTextRecord(n) ? n.text.length : n.reduce((s, m) => s + m.content.length, 0);
}

/**
 * `exact_dup` key: lowercase, whitespace runs collapsed and trimmed, roles kept (the same words asked vs
 * answered are different examples); hashed with 64-bit FNV-1a (two 32-bit lanes) to 16 hex digits. One pass over
 * the text, no intermediate strings but the lowercase copy: a million rows give ~3e-8 odds of any collision.
 */
export function normHash(n: Normalized): string {
  const st = { h1: 0x811c9dc5, h2: 0x5bd1e995 ^ 0x01000193 };
  if (isTextRecord(n)) {
    hashNorm(st, 'text', 1);
    hashNorm(st, n.text, -1);
  } else {
    for (let i = 0; i < n.length; i++) {
      hashNorm(st, n[i].role, 1);
      hashNorm(st, n[i].content, i < n.length - 1 ? 2 : -1);
    }
  }
  // final avalanche so nearby inputs spread over all bits
  const h1 = Math.imul(st.h1 ^ (st.h1 >>> 16), 0x85ebca6b) ^ Math.imul(st.h2 ^ (st.h2 >>> 13), 0xc2b2ae35);
  const h2 = Math.imul(st.h2 ^ (st.h2 >>> 16), 0x27d4eb2f) ^ (h1 >>> 7);
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/** Feed s lowercased, whitespace runs as one space, trimmed; then the separator code `sep` unless negative. */
function hashNorm(st: { h1: number; h2: number }, s: string, sep: number): void {
  const t = s.toLowerCase();
  let { h1, h2 } = st;
  let space = false;
  let started = false;
  for (let i = 0; i <= t.length; i++) {
    let c: number;
    if (i === t.length) {
      if (sep < 0) break;
      c = sep;
    } else {
      c = t.charCodeAt(i);
      if (isSpace(c)) { space = started; continue; }
      if (space) {
        h1 = Math.imul(h1 ^ 32, 0x01000193);
        h2 = Math.imul(h2 ^ 32, 0x5bd1e995) ^ (h2 >>> 15);
        space = false;
      }
      started = true;
    }
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  st.h1 = h1;
  st.h2 = h2;
}
