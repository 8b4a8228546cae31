/**
 * WinnowTokenizer over @huggingface/tokenizers (tokenizer.json + tokenizer_config.json) and @huggingface/jinja
 * (chat templates), with character offsets rebuilt in offsets.ts.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { WinnowError } from '../util/errors';
import { computeOffsets, TokenBytes, type TokenByteMode } from './offsets';
import { installFastPaths } from './tokenizer-fast';
import type { ChatMessage, ChatTemplateOptions, Encoding, WinnowTokenizer } from './types';

/**
 * Winnow's chat template for models that ship none: each message is `<|role|>`, a newline, the content, the
 * tokenizer's own EOS and a newline; BOS (when the tokenizer has one) opens the conversation; the generation
 * prompt is `<|assistant|>` + newline. ChatML-like so it reads clearly, but built only from the tokenizer's own
 * special tokens (the `<|role|>` markers are plain text), so it works with any vocabulary. An assistant turn's tool
 * calls follow its content directly, back to back, each as `<tool_call>{"name": ..., "arguments": ...}</tool_call>`
 * (the call's function as JSON; the template never tests a content, which keeps its fast path); a tool result is a
 * `<|tool|>` message like any other.
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{% if bos_token %}{{ bos_token }}{% endif %}' +
  "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] }}" +
  "{% if message['tool_calls'] %}{% for call in message['tool_calls'] %}" +
  "{{ '<tool_call>' + (call['function'] | tojson) + '</tool_call>' }}{% endfor %}{% endif %}" +
  "{{ eos_token + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

type Json = Record<string, unknown>;

function readJson(file: string, required: boolean): Json | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    if (!required) return null;
    throw new WinnowError('not_found', `${file}: not found (the model folder needs a tokenizer.json)`, { file });
  }
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new WinnowError('parse_error', `${file}: not valid JSON (${(err as Error).message})`, { file });
  }
}

/** tokenizer_config.json writes special tokens as a string or as an AddedToken object `{content, ...}` */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

/**
 * The template transformers would use: chat_template.jinja (transformers >= 4.50 saves it there) over
 * tokenizer_config.json's `chat_template`, which is a string or a list of named templates ({name, template}) of
 * which "default" is used. `error` when a named set has no "default" (transformers refuses to pick one too).
 */
function pickChatTemplate(cfg: Json, jinjaFile: string | null, cfgFile: string): { template: string | null; error?: string } {
  if (jinjaFile !== null) return { template: jinjaFile };
  const t = cfg.chat_template;
  if (typeof t === 'string') return { template: t };
  if (t && typeof t === 'object') {
    const named = Array.isArray(t)
      ? new Map(t.map((x) => [(x as Json)?.name, (x as Json)?.template]))
      : new Map(Object.entries(t as Json));
    const d = named.get('default');
    if (typeof d === 'string') return { template: d };
    const names = [...named.keys()].map((n) => JSON.stringify(n)).join(', ');
    return { template: null, error: `${cfgFile}: "chat_template" holds named templates (${names}) but none is named "default"` };
  }
  return { template: null };
}

/**
 * transformers' tokenizer classes give some special tokens a default when tokenizer_config.json (and
 * special_tokens_map.json) leave them out: GPT-2's "<|endoftext|>" (openai-community/gpt2 ships no token at all),
 * Llama's <s> </s> <unk>, Qwen2's "<|endoftext|>" (its bos stays None). The class comes from `tokenizer_class`, or,
 * with none, from config.json's model_type, as AutoTokenizer picks it.
 */
const CLASS_DEFAULTS: Array<[RegExp, Record<string, string>]> = [
  [/^GPT2Tokenizer(Fast)?$/, { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' }],
  [/^(Code)?LlamaTokenizer(Fast)?$/, { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' }],
  [/^Qwen2Tokenizer(Fast)?$/, { eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>' }],
];
const CLASS_BY_MODEL_TYPE: Record<string, string> = { gpt2: 'GPT2TokenizerFast', llama: 'LlamaTokenizerFast', mistral: 'LlamaTokenizerFast', qwen2: 'Qwen2TokenizerFast' };
const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

function tokenizerClass(cfg: Json, dir: string): string | null {
  if (typeof cfg.tokenizer_class === 'string') return cfg.tokenizer_class;
  const modelCfg = readJson(path.join(dir, 'config.json'), false);
  return typeof modelCfg?.model_type === 'string' ? (CLASS_BY_MODEL_TYPE[modelCfg.model_type] ?? null) : null;
}

/** Special tokens as transformers resolves them: special_tokens_map.json over tokenizer_config.json over class defaults. */
function resolveSpecialTokens(cfg: Json, map: Json | null, cls: string | null, inVocab: (t: string) => boolean): Record<string, string | null> {
  const defaults = CLASS_DEFAULTS.find(([re]) => cls !== null && re.test(cls))?.[1] ?? {};
  const out: Record<string, string | null> = {};
  for (const k of SPECIAL_KEYS) {
    if (map && k in map) out[k] = tokenString(map[k]);
    else if (k in cfg) out[k] = tokenString(cfg[k]); // an explicit null stays None
    else out[k] = defaults[k] !== undefined && inVocab(defaults[k]) ? defaults[k] : null;
  }
  return out;
}

function findDecoderTypes(dec: unknown, out: Json[] = []): Json[] {
  if (!dec || typeof dec !== 'object') return out;
  const d = dec as Json;
  out.push(d);
  if (Array.isArray(d.decoders)) for (const x of d.decoders) findDecoderTypes(x, out);
  return out;
}

function byteMode(tj: Json): { mode: TokenByteMode; byteFallback: boolean; wordpiecePrefix: string | null } {
  const decs = findDecoderTypes(tj.decoder);
  const model = (tj.model ?? {}) as Json;
  let mode: TokenByteMode = 'plain';
  if (decs.some((d) => d.type === 'ByteLevel')) mode = 'bytelevel';
  else if (
    decs.some((d) => d.type === 'Metaspace' || (d.type === 'Replace' && (d.pattern as Json | undefined)?.String === '\u2581'))
  ) {
    mode = 'metaspace';
  }
  const wordpiecePrefix = model.type === 'WordPiece' ? ((model.continuing_subword_prefix as string) ?? '##') : null;
  return { mode, byteFallback: model.byte_fallback === true, wordpiecePrefix };
}

class HfTokenizer implements WinnowTokenizer {
  readonly id: string;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly vocabSize: number;
  readonly chatTemplate: string;
  readonly chatTemplateIsDefault: boolean;
  private template: ReturnType<typeof parse> | null = null;
  private templateError: string | null;
  /** special_tokens_map as transformers passes it to the template: the tokens that are set */
  private templateTokens: Record<string, string | string[]>;
  private special: Set<string>;
  /** ids of the added tokens flagged special (`<s>`, `</s>`, `<|im_end|>`, `<|eot_id|>` ...) */
  private specialIds: Set<number>;
  /** the template with its {% generation %} blocks marked (null: it has none), parsed once */
  private marked: ReturnType<typeof parse> | null | undefined;
  private unkId: number | null;
  private bytes: TokenBytes;
  private prefix: string[];
  private suffix: string[];

  constructor(
    private tok: Tokenizer,
    tj: Json,
    cfg: Json,
    files: { specialTokensMap: Json | null; chatTemplateJinja: string | null },
    id: string,
    private dir: string,
    private fast = true,
  ) {
    this.id = id;
    const added = tok.get_added_tokens_decoder();
    this.special = new Set([...added.values()].map((t) => t.content));
    this.specialIds = new Set([...added.entries()].filter(([, t]) => t.special).map(([i]) => i));
    const idOf = (t: string | null): number | null => (t === null ? null : (tok.token_to_id(t) ?? null));
    const cls = tokenizerClass(cfg, dir);
    const sp = resolveSpecialTokens(cfg, files.specialTokensMap, cls, (t) => tok.token_to_id(t) != null);
    this.bosToken = sp.bos_token;
    this.eosToken = sp.eos_token;
    this.bosId = idOf(this.bosToken);
    this.eosId = idOf(this.eosToken);
    this.padId = idOf(sp.pad_token);
    this.vocabSize = tok.get_vocab(true).size;
    const unk = tokenString(((tj.model ?? {}) as Json).unk_token) ?? sp.unk_token;
    this.unkId = idOf(unk);
    const cfgFile = path.join(dir, 'tokenizer_config.json');
    const t = pickChatTemplate(cfg, files.chatTemplateJinja, cfgFile);
    this.chatTemplate = t.template ?? (t.error ? '' : DEFAULT_CHAT_TEMPLATE);
    this.chatTemplateIsDefault = t.template === null && !t.error;
    this.templateError = t.error ?? null;
    this.templateTokens = {};
    for (const [k, v] of Object.entries(sp)) if (v !== null) this.templateTokens[k] = v;
    const extra = files.specialTokensMap?.additional_special_tokens ?? cfg.additional_special_tokens;
    if (Array.isArray(extra) && extra.length) this.templateTokens.additional_special_tokens = extra.map(tokenString).filter((x): x is string => x !== null);
    const bm = byteMode(tj);
    this.bytes = new TokenBytes(bm.mode, bm.byteFallback, bm.wordpiecePrefix);
    if (cls !== null && /^(Code)?LlamaTokenizer(Fast)?$/.test(cls)) {
      // LlamaTokenizerFast rebuilds tokenizer.json's post-processor from add_bos_token / add_eos_token
      const addBos = cfg.add_bos_token !== false;
      const addEos = cfg.add_eos_token === true;
      for (const [on, key, tokStr] of [[addBos, 'add_bos_token', this.bosToken], [addEos, 'add_eos_token', this.eosToken]] as const) {
        if (on && tokStr === null) {
          throw new WinnowError('parse_error', `${cfgFile}: "${key}" is true but the tokenizer has no ${key.slice(4, 7)}_token`, { file: cfgFile, field: key });
        }
      }
      this.prefix = addBos ? [this.bosToken!] : [];
      this.suffix = addEos ? [this.eosToken!] : [];
      return;
    }
    // Which tokens the post-processor adds around a single sequence (e.g. BOS): found once with a sentinel.
    const sentinel = '\u0000winnow-sentinel\u0000';
    const pp = tok.post_processor as unknown as ((a: string[], b: null, add: boolean) => { tokens: string[] }) | null;
    const out = pp ? pp([sentinel], null, true).tokens : [sentinel];
    const at = out.indexOf(sentinel);
    this.prefix = out.slice(0, at);
    this.suffix = out.slice(at + 1);
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): Encoding {
    const add = opts.addSpecialTokens ?? true; // transformers' default
    const content = this.tok.tokenize(text, { add_special_tokens: false });
    const tokens = add ? [...this.prefix, ...content, ...this.suffix] : content;
    const ids = tokens.map((t) => {
      const id = this.tok.token_to_id(t) ?? this.unkId;
      if (id === null) throw new WinnowError('internal', `tokenizer ${this.dir}: token ${JSON.stringify(t)} has no id and there is no unk token`);
      return id;
    });
    const contentOffsets = computeOffsets(
      text,
      content,
      content.map((t) => this.special.has(t)),
      this.bytes,
      this.fast,
    );
    const offsets: Array<[number, number]> = add
      ? [...this.prefix.map((): [number, number] => [0, 0]), ...contentOffsets, ...this.suffix.map((): [number, number] => [text.length, text.length])]
      : contentOffsets;
    return { ids, offsets };
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** the model's folder name, for messages */
  get name(): string {
    return path.basename(this.dir);
  }

  idToToken(id: number): string | null {
    return this.tok.id_to_token(id) ?? null;
  }

  /**
   * The template's variables as transformers' apply_chat_template sets them: messages, tools (the record's tool
 * schemas, or None) and documents (None),
   * add_generation_prompt, the special tokens that are set (an unset one is undefined, as there), and the
   * strftime_now / raise_exception globals. Winnow's own default template gets "" for a missing bos/eos.
   */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    // as the library's Template (trim_blocks, lstrip_blocks), with transformers' globals
    return this.run(() => (this.template ??= parse(tokenize(this.chatTemplate, { lstrip_blocks: true, trim_blocks: true }))), messages, opts);
  }

  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * Where the template's {% generation %} blocks put their text (transformers' return_assistant_tokens_mask): the
   * template is rendered with a marker in place of each block tag — the same whitespace handling as the library's,
   * which drops the tags — and the markers' places are the blocks' spans in the rendered text. Null when the template
   * has no generation block.
   */
  generationSpans(messages: ChatMessage[], opts: ChatTemplateOptions = {}): Array<[number, number]> | null {
    if (this.marked === undefined) {
      this.marked = GENERATION_TAG.test(this.chatTemplate) ? parse(tokenize(markGenerationBlocks(this.chatTemplate), {})) : null;
    }
    const marked = this.marked;
    if (marked === null) return null;
    const text = this.run(() => marked, messages, { tools: opts.tools });
    const spans: Array<[number, number]> = [];
    let out = 0;
    let open: number | null = null;
    for (const ch of text) {
      if (ch === GEN_OPEN) open ??= out;
      else if (ch === GEN_CLOSE) {
        if (open !== null) spans.push([open, out]);
        open = null;
      } else out += ch.length;
    }
    return spans;
  }

  private run(template: () => ReturnType<typeof parse>, messages: ChatMessage[], opts: ChatTemplateOptions): string {
    if (this.templateError) throw new WinnowError('bad_input', this.templateError, { dir: this.dir });
    try {
      const parsed = template();
      const env = new Environment();
      const vars = {
        ...TEMPLATE_GLOBALS,
        ...(this.chatTemplateIsDefault ? { bos_token: '', eos_token: '' } : {}),
        ...this.templateTokens,
        messages,
        tools: opts.tools ?? null,
        documents: null,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
      };
      for (const [k, v] of Object.entries(vars)) env.set(k, v);
      return new Interpreter(env).run(parsed).value as string;
    } catch (err) {
      const which = this.chatTemplateIsDefault
        ? "Winnow's default chat template"
        : `chat_template in ${path.join(this.dir, fs.existsSync(path.join(this.dir, 'chat_template.jinja')) ? 'chat_template.jinja' : 'tokenizer_config.json')}`;
      throw new WinnowError('bad_input', `${which}: ${(err as Error).message}`, { dir: this.dir });
    }
  }
}

const GENERATION_TAG = /\{%-?\s*generation\s*-?%\}/;
/** private-use characters standing for {% generation %} and {% endgeneration %} in a rendered template */
const GEN_OPEN = '\uE0F0';
const GEN_CLOSE = '\uE0F1';

/**
 * The library's template preprocessing (trim_blocks, lstrip_blocks, the final newline dropped), except that each
 * {% generation %} / {% endgeneration %} tag becomes a marker character where the library removes it (keeping or
 * dropping the whitespace around it just as the library does). Parsed with no further options, the template
 * renders the very text the original renders, with the markers in it.
 */
export function markGenerationBlocks(template: string): string {
  let t = template.endsWith('\n') ? template.slice(0, -1) : template;
  t = t.replace(/^[ \t]*(\{[#%-])/gm, '$1');
  t = t.replace(/([#%-]\})\n/g, '$1');
  t = t.replace(/(\s*)\{%(-?)\s*(end)?generation\s*(-?)%\}(\s*)/gs,
    (_all, before: string, lstrip: string, end: string | undefined, rstrip: string, after: string) =>
      (lstrip ? '' : before) + (end ? GEN_CLOSE : GEN_OPEN) + (rstrip ? '' : after));
  // tokenize() drops one final newline again
  return t.endsWith('\n') ? `${t}\n` : t;
}

const tokenizerFiles = (dir: string) => ({
  tjFile: path.join(dir, 'tokenizer.json'),
  cfgFile: path.join(dir, 'tokenizer_config.json'),
  mapFile: path.join(dir, 'special_tokens_map.json'),
  jinjaFile: path.join(dir, 'chat_template.jinja'),
});

/** The tokenizer id: a hash of every file that changes tokens or renders (renders are keyed by it). */
function tokenizerId(dir: string): string {
  const f = tokenizerFiles(dir);
  const hash = createHash('sha256');
  hash.update(fs.readFileSync(f.tjFile));
  if (fs.existsSync(f.cfgFile)) hash.update(fs.readFileSync(f.cfgFile));
  for (const [tag, file] of [['special_tokens_map', f.mapFile], ['chat_template.jinja', f.jinjaFile]]) {
    if (fs.existsSync(file)) hash.update(`\u0000${tag}\u0000`).update(fs.readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

const identities = new Map<string, { stamp: string; id: string; chatTemplate: string }>();

/**
 * A model folder's tokenizer id and the chat template it renders with, without building the tokenizer: what a render
 * key needs (db/renders.ts renderKeyOf), for the places that must name one synchronously. Cached per folder until one
 * of its tokenizer files changes.
 */
export function tokenizerIdentity(dir: string): { id: string; chatTemplate: string } {
  const f = tokenizerFiles(dir);
  const stamp = [f.tjFile, f.cfgFile, f.mapFile, f.jinjaFile].map((file) => {
    try {
      const st = fs.statSync(file);
      return `${st.size}:${st.mtimeMs}`;
    } catch {
      return '-';
    }
  }).join('|');
  const hit = identities.get(dir);
  if (hit && hit.stamp === stamp) return hit;
  if (!fs.existsSync(f.tjFile)) throw new WinnowError('not_found', `${f.tjFile}: not found (the model folder needs a tokenizer.json)`, { file: f.tjFile });
  const cfg = readJson(f.cfgFile, false) ?? {};
  const jinja = fs.existsSync(f.jinjaFile) ? fs.readFileSync(f.jinjaFile, 'utf8') : null;
  const t = pickChatTemplate(cfg, jinja, f.cfgFile);
  const out = { stamp, id: tokenizerId(dir), chatTemplate: t.template ?? (t.error ? '' : DEFAULT_CHAT_TEMPLATE) };
  identities.set(dir, out);
  return out;
}

/** `fast: false` keeps the library's own code paths (slow, same tokens and offsets); tests compare the two. */
export async function loadTokenizer(dir: string, opts: { fast?: boolean } = {}): Promise<WinnowTokenizer> {
  const { tjFile, cfgFile, mapFile, jinjaFile } = tokenizerFiles(dir);
  const tj = readJson(tjFile, true)!;
  const cfg = readJson(cfgFile, false) ?? {};
  const specialTokensMap = readJson(mapFile, false);
  const chatTemplateJinja = fs.existsSync(jinjaFile) ? fs.readFileSync(jinjaFile, 'utf8') : null;
  // every file that changes tokens or renders is in the id (renders are keyed by it)
  const id = tokenizerId(dir);
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tj, cfg);
  } catch (err) {
    throw new WinnowError('parse_error', `${tjFile}: cannot build tokenizer (${(err as Error).message})`, { file: tjFile });
  }
  if (opts.fast !== false) installFastPaths(tok);
  return new HfTokenizer(tok, tj, cfg, { specialTokensMap, chatTemplateJinja }, id, dir, opts.fast !== false);
}

/**
 * The globals the library's Template sets, except strftime_now: its names months in the machine's locale, and
 * transformers' (Python's strftime) in the C locale, so a Llama-3 render reads "05 Dec 2024" on every machine.
 */
const TEMPLATE_GLOBALS: Record<string, unknown> = {
  true: true, false: false, none: null, True: true, False: false, None: null,
  raise_exception: (message: unknown) => {
    throw new Error(String(message));
  },
  range: (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) [start, stop] = [0, start];
    if (step === 0) throw new Error('range() step must not be zero');
    const out: number[] = [];
    for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
    return out;
  },
  strftime_now: (format: string) => strftime(new Date(), format),
};

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/**
 * Python's datetime.strftime in the C locale (what transformers' strftime_now prints), local time. The codes chat
 * templates use; any other %x is printed as written.
 */
export function strftime(d: Date, format: string): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const h12 = d.getHours() % 12 || 12;
  const yday = Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - new Date(d.getFullYear(), 0, 1).getTime()) / 864e5) + 1;
  const codes: Record<string, () => string> = {
    Y: () => String(d.getFullYear()), y: () => p2(d.getFullYear() % 100), m: () => p2(d.getMonth() + 1), d: () => p2(d.getDate()),
    B: () => MONTHS[d.getMonth()], b: () => MONTHS[d.getMonth()].slice(0, 3), A: () => DAYS[d.getDay()], a: () => DAYS[d.getDay()].slice(0, 3),
    H: () => p2(d.getHours()), I: () => p2(h12), M: () => p2(d.getMinutes()), S: () => p2(d.getSeconds()),
    p: () => (d.getHours() < 12 ? 'AM' : 'PM'), j: () => String(yday).padStart(3, '0'), '%': () => '%',
  };
  return format.replace(/%(.)/g, (all, c: string) => (codes[c] ? codes[c]() : all));
}
