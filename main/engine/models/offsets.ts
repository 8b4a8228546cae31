/**
 * Character offsets for tokens. @huggingface/tokenizers (0.2) returns tokens but no offsets, so we rebuild them:
 * each token's bytes are known from its string (byte-level BPE alphabet, "<0xNN>" byte-fallback pieces, "▁" as a
 * space), the bytes are decoded to characters, and the characters are matched in order against the input text.
 * - A character made of several byte-fallback tokens gives all of them that character's span.
 * - A space the tokenizer inserted (Metaspace / Prepend "▁") matches nothing and takes no width.
 * - Characters a normalizer changed are matched case-insensitively, or after skipping a few removed characters;
 *   anything else takes no width. Spans never go backwards and always lie inside the text.
 */

export type TokenByteMode = 'bytelevel' | 'metaspace' | 'plain';

/** GPT-2's bytes_to_unicode, inverted: alphabet char → byte */
function byteLevelDecoder(): Map<string, number> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  return new Map(bs.map((b, i) => [String.fromCodePoint(cs[i]), b]));
}

const utf8 = new TextEncoder();

export class TokenBytes {
  private cache = new Map<string, Uint8Array>();
  private byteLevel: Map<string, number> | null;
  private mode: TokenByteMode;
  private byteFallback: boolean;
  private wordpiecePrefix: string | null;
  constructor(mode: TokenByteMode, byteFallback: boolean, wordpiecePrefix: string | null) {
    this.mode = mode;
    this.byteFallback = byteFallback;
    this.wordpiecePrefix = wordpiecePrefix;
    this.byteLevel = mode === 'bytelevel' ? byteLevelDecoder() : null;
  }

  private texts = new Map<string, string | null>();

  /** The token's characters when its bytes are whole, valid UTF-8 with no U+FFFD; null otherwise (cached). */
  text(token: string): string | null {
    let t = this.texts.get(token);
    if (t !== undefined) return t;
    try {
      t = strictDecoder.decode(this.bytes(token));
      if (t.includes('\uFFFD')) t = null;
    } catch {
      t = null;
    }
    this.texts.set(token, t);
    return t;
  }

  bytes(token: string): Uint8Array {
    let b = this.cache.get(token);
    if (b) return b;
    if (this.byteLevel) {
      const arr: number[] = [];
      for (const ch of token) {
        const v = this.byteLevel.get(ch);
        if (v === undefined) arr.push(...utf8.encode(ch));
        else arr.push(v);
      }
      b = Uint8Array.from(arr);
    } else if (this.byteFallback && /^<0x[0-9A-Fa-f]{2}>$/.test(token)) {
      b = Uint8Array.of(parseInt(token.slice(3, 5), 16));
    } else {
      let t = token;
      if (this.mode === 'metaspace') t = t.replaceAll('\u2581', ' ');
      if (this.wordpiecePrefix && t.startsWith(this.wordpiecePrefix)) t = t.slice(this.wordpiecePrefix.length);
      b = utf8.encode(t);
    }
    this.cache.set(token, b);
    return b;
  }
}

function utf8Len(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead < 0xe0) return 2;
  if (lead >= 0xe0 && lead < 0xf0) return 3;
  if (lead >= 0xf0 && lead < 0xf5) return 4;
  return 0;
}

const decoder = new TextDecoder('utf-8');
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LOOKAHEAD = 16;

/**
 * @param special per token: true for added/special tokens, which are matched literally (or take no width)
 */
export function computeOffsets(
  text: string,
  tokens: string[],
  special: boolean[],
  tb: TokenBytes,
  /** false: match every character one by one (the reference the fast path is tested against) */
  fast = true,
): Array<[number, number]> {
  const offs: Array<[number, number]> = new Array(tokens.length);
  const matched = new Array<boolean>(tokens.length).fill(false);
  let pos = 0;
  const pending: number[] = [];
  const owners: number[] = [];

  const matchChar = (ch: string): [number, number] | null => {
    if (pos >= text.length) return null;
    const cp = text.codePointAt(pos)!;
    const c = String.fromCodePoint(cp);
    if (c === ch || c.toLowerCase() === ch.toLowerCase()) {
      pos += c.length;
      return [pos - c.length, pos];
    }
    if (/\s/u.test(ch) || ch === '\uFFFD') return null;
    const k = text.slice(pos, pos + LOOKAHEAD).indexOf(ch);
    if (k > 0) {
      pos += k + ch.length;
      return [pos - ch.length, pos];
    }
    return null;
  };
  const give = (ti: number, span: [number, number] | null): void => {
    if (!span) return;
    if (!matched[ti]) {
      offs[ti] = [span[0], span[1]];
      matched[ti] = true;
    } else offs[ti][1] = span[1];
  };
  const drain = (final: boolean): void => {
    while (pending.length) {
      let n = utf8Len(pending[0]);
      if (n > 1 && pending.length < n && !final) return;
      if (n === 0 || pending.length < n) n = 1;
      let ch: string;
      if (n === 1) ch = pending[0] < 0x80 ? String.fromCharCode(pending[0]) : '\uFFFD';
      else ch = decoder.decode(Uint8Array.from(pending.slice(0, n)));
      if (n > 1 && ch.includes('\uFFFD')) {
        n = 1; // invalid continuation: drop the lead byte alone
        ch = '\uFFFD';
      }
      const span = matchChar(ch);
      for (let k = 0; k < n; k++) if (k === 0 || owners[k] !== owners[k - 1]) give(owners[k], span);
      pending.splice(0, n);
      owners.splice(0, n);
    }
  };

  for (let i = 0; i < tokens.length; i++) {
    offs[i] = [pos, pos];
    if (special[i]) {
      drain(true);
      offs[i] = [pos, pos];
      if (text.startsWith(tokens[i], pos)) {
        offs[i] = [pos, pos + tokens[i].length];
        pos += tokens[i].length;
      }
      matched[i] = true;
      continue;
    }
    // Fast path, same result: with no partial character pending, a token whose characters appear verbatim at the
    // cursor gets exactly what the per-character match below would give it.
    if (fast && pending.length === 0) {
      const t = tb.text(tokens[i]);
      if (t !== null && text.startsWith(t, pos)) {
        offs[i] = [pos, pos + t.length];
        pos += t.length;
        continue;
      }
    }
    for (const b of tb.bytes(tokens[i])) {
      pending.push(b);
      owners.push(i);
    }
    drain(false);
  }
  drain(true);
  return offs;
}
