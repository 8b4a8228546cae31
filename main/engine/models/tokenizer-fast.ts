/**
 * Faster, same-result code paths for @huggingface/tokenizers 0.2, installed on a Tokenizer instance.
 *
 * Measured on GSM8K with the stories260K Llama tokenizer, the library spends its time in three places:
 * - BPE over a whole stretch of text as ONE word when there is no pre-tokenizer (SentencePiece-style Llama
 *   tokenizers): uncached (it caches words under 256 chars) and superlinear in the length;
 * - byte-fallback pieces rebuilt with a TextEncoder and template strings at every occurrence;
 * - encode_text's nested Array.flatMap, which copies every token through V8's generic (slow) flatten.
 * Each replacement below mirrors the library's code step for step except for these costs; anything it does not
 * recognise keeps the library's own code. test/unit/data/render-fast.test.ts compares both paths on real data.
 */

type Tok = Record<string, unknown>;

interface BpeModel {
  bpe(token: string): string[];
  encode(tokens: string[]): string[];
  merges: unknown[];
  tokens_to_ids: Map<string, number>;
  byte_fallback: boolean;
  unk_token?: string | null;
  ignore_merges?: boolean;
  end_of_word_suffix?: string | null;
  continuing_subword_suffix?: string | null;
}

/** Distinct pieces kept; the cache is emptied when full (pieces are word-sized, so this is a few MB). */
const PIECE_CACHE = 100_000;

/**
 * BPE.encode with each word cut where no merge can join: a merge (l, r) only joins across a point where l's last
 * character precedes r's first. Pieces never interact and within a piece merges keep their rank-then-position
 * order, so the tokens are the library's. Each piece's final tokens (after vocabulary / byte-fallback / unk
 * mapping, which is per token) are cached. Suffix options change what a word boundary means: left alone.
 */
function fastBpeEncode(model: unknown): boolean {
  const m = model as BpeModel;
  if (typeof m?.bpe !== 'function' || typeof m.encode !== 'function' || !Array.isArray(m.merges) ||
    !(m.tokens_to_ids instanceof Map) || m.end_of_word_suffix || m.continuing_subword_suffix) return false;
  // (last code point of a merge's left part, first code point of its right part), as one number
  const joins = new Set<number>();
  // BMP characters that begin some merge's right part; before any other character a word always splits
  // (for SentencePiece vocabularies: before every "▁"), which a table lookup finds without hashing
  const startsRight = new Uint8Array(0x10000);
  for (const mg of m.merges) {
    const [l, r] = (typeof mg === 'string' ? mg.split(' ', 2) : mg) as [string, string];
    if (typeof l !== 'string' || typeof r !== 'string' || !l || !r) return false;
    const b = r.codePointAt(0)!;
    joins.add(Array.from(l).at(-1)!.codePointAt(0)! * 0x110000 + b);
    if (b < 0x10000) startsRight[b] = 1;
    else startsRight[r.charCodeAt(0)] = 1; // a surrogate pair: never split between or before its halves blindly
  }
  const vocab = m.tokens_to_ids;
  const utf8 = new TextEncoder();
  const bpe = m.bpe.bind(m);
  // what BPE.encode pushes for one token bpe() produced
  const finalTokens = (t: string, out: string[]): void => {
    if (vocab.has(t)) out.push(t);
    else if (m.byte_fallback) {
      const bytes = Array.from(utf8.encode(t), (x) => `<0x${x.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (bytes.every((x) => vocab.has(x))) out.push(...bytes);
      else if (m.unk_token != null) out.push(m.unk_token);
    } else if (m.unk_token != null) out.push(m.unk_token);
  };
  const cache = new Map<string, string[]>();
  const piece = (p: string): string[] => {
    let r = cache.get(p);
    if (r === undefined) {
      r = [];
      for (const t of bpe(p)) finalTokens(t, r);
      if (cache.size >= PIECE_CACHE) cache.clear();
      cache.set(p, r);
    }
    return r;
  };
  // one stretch between sure boundaries: cut where no merge can join, each piece through the piece cache
  const pieces = (word: string, out: string[]): void => {
    let start = 0;
    let prev = word.codePointAt(0)!;
    for (let i = prev > 0xffff ? 2 : 1; ; ) {
      const cp = i < word.length ? word.codePointAt(i)! : -1;
      if (cp >= 0 && joins.has(prev * 0x110000 + cp)) {
        prev = cp;
        i += cp > 0xffff ? 2 : 1;
        continue;
      }
      for (const t of piece(word.slice(start, i))) out.push(t);
      if (cp < 0) break;
      start = i;
      prev = cp;
      i += cp > 0xffff ? 2 : 1;
    }
  };
  const stretches = new Map<string, string[]>();
  m.encode = (tokens: string[]): string[] => {
    const out: string[] = [];
    for (const word of tokens) {
      if (m.ignore_merges && vocab.has(word)) { out.push(word); continue; }
      if (word.length === 0) continue; // bpe('') is []
      let start = 0;
      for (let i = 1; i <= word.length; i++) {
        // a sure boundary: the end, or a character no merge's right part begins with (not a low surrogate)
        if (i < word.length) {
          const c = word.charCodeAt(i);
          if (startsRight[c] || (c >= 0xdc00 && c <= 0xdfff)) continue;
        }
        const w = word.slice(start, i);
        let toks = stretches.get(w);
        if (toks === undefined) {
          toks = [];
          pieces(w, toks);
          if (stretches.size >= PIECE_CACHE) stretches.clear();
          stretches.set(w, toks);
        }
        for (const t of toks) out.push(t);
        start = i;
      }
    }
    return out;
  };
  return true;
}

interface Splitter { trie: Record<string, unknown>; split(t: string): string[] }

/**
 * DictionarySplitter.split (added tokens) walks its trie from every position, building a one-character string
 * each time; positions whose character starts no dictionary word are skipped first. Same walk otherwise.
 */
function fastSplit(sp: Splitter | undefined): boolean {
  if (typeof sp?.split !== 'function' || !sp.trie || typeof sp.trie !== 'object') return false;
  const trie = sp.trie as Record<string, Record<string, unknown> & { end?: string }>;
  const first = new Set(Object.keys(trie).filter((k) => k !== 'end').map((k) => k.charCodeAt(0)));
  sp.split = (text: string): string[] => {
    const result: string[] = [];
    const n = text.length;
    if (first.size === 0) return n > 0 ? [text] : result;
    let start = 0;
    let i = 0;
    while (i < n) {
      if (!first.has(text.charCodeAt(i))) { ++i; continue; }
      let node: (Record<string, unknown> & { end?: string }) | undefined = trie;
      let match: string | null = null;
      let j = i;
      while (j < n && (node = node[text[j]] as typeof node)) {
        if (node.end) match = node.end;
        ++j;
      }
      if (match) {
        if (i > start) result.push(text.slice(start, i));
        result.push(match);
        i += match.length;
        start = i;
      } else ++i;
    }
    if (start < n) result.push(text.slice(start));
    return result;
  };
  return true;
}

interface AddedTok { lstrip?: boolean; rstrip?: boolean }
type Fn = (...a: unknown[]) => unknown;

/** Tokenizer.encode_text (0.2.0) with loops instead of nested flatMap; same steps, same order. */
function fastEncodeText(tok: Tok): boolean {
  const splitU = tok.splitter_unnormalized as { split(t: string): string[] } | undefined;
  const splitN = tok.splitter_normalized as { split(t: string): string[] } | undefined;
  const added = tok.added_tokens_map as Map<string, AddedTok> | undefined;
  if (typeof tok.encode_text !== 'function' || typeof splitU?.split !== 'function' || typeof splitN?.split !== 'function' ||
    !(added instanceof Map) || typeof tok.model !== 'function' || tok.do_lowercase_and_remove_accent) return false;
  const strip = (parts: string[]) => {
    parts.forEach((section, i) => {
      const a = added.get(section);
      if (a) {
        if (a.lstrip && i > 0) parts[i - 1] = parts[i - 1].trimEnd();
        if (a.rstrip && i < parts.length - 1) parts[i + 1] = parts[i + 1].trimStart();
      }
    });
  };
  tok.encode_text = (text: string | null): string[] | null => {
    if (text === null) return null;
    const out: string[] = [];
    const sections = splitU.split(text);
    strip(sections);
    for (let si = 0; si < sections.length; si++) {
      let t = sections[si];
      if (t.length === 0) continue;
      if (added.has(t)) { out.push(t); continue; }
      if (tok.remove_space === true) t = t.trim().split(/\s+/).join(' ');
      const normalizer = tok.normalizer as Fn | null;
      if (normalizer !== null) t = normalizer(t) as string;
      if (t.length === 0) continue;
      const subs = splitN.split(t);
      strip(subs);
      for (const sub of subs) {
        if (sub.length === 0) continue;
        if (added.has(sub)) { out.push(sub); continue; }
        const pre = tok.pre_tokenizer as Fn | null;
        const words = pre !== null ? (pre(sub, { section_index: si }) as string[]) : [sub];
        for (const x of (tok.model as Fn)(words) as string[]) out.push(x);
      }
    }
    return out;
  };
  return true;
}

/** Install what applies; returns which paths were installed (for tests and logs). */
export function installFastPaths(tokenizer: unknown): { bpe: boolean; encodeText: boolean; split: boolean } {
  const tok = tokenizer as Tok;
  const split = fastSplit(tok.splitter_unnormalized as Splitter) && fastSplit(tok.splitter_normalized as Splitter);
  return { bpe: fastBpeEncode(tok.model), encodeText: fastEncodeText(tok), split };
}
