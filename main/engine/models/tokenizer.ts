/**
 * WinnowTokenizer over @huggingface/tokenizers (tokenizer.json + tokenizer_config.json) and @huggingface/jinja
 * (chat templates), with character offsets rebuilt in offsets.ts.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { WinnowError } from '../util/errors';
import { computeOffsets, TokenBytes, type TokenByteMode } from './offsets';
import { installFastPaths } from './tokenizer-fast';
import type { ChatMessage, Encoding, WinnowTokenizer } from './types';

/**
 * Winnow's chat template for models that ship none: each message is `<|role|>`, a newline, the content, the
 * tokenizer's own EOS and a newline; BOS (when the tokenizer has one) opens the conversation; the generation
 * prompt is `<|assistant|>` + newline. ChatML-like so it reads clearly, but built only from the tokenizer's own
 * special tokens (the `<|role|>` markers are plain text), so it works with any vocabulary.
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{% if bos_token %}{{ bos_token }}{% endif %}' +
  "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}{% endfor %}" +
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

function pickChatTemplate(cfg: Json): string | null {
  const t = cfg.chat_template;
  if (typeof t === 'string') return t;
  // Some configs hold several named templates; "default" is the one transformers uses.
  if (Array.isArray(t)) {
    const d = t.find((x) => (x as Json)?.name === 'default') as Json | undefined;
    if (typeof d?.template === 'string') return d.template;
  }
  return null;
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
  private template: Template | null = null;
  private special: Set<string>;
  private unkId: number | null;
  private bytes: TokenBytes;
  private prefix: string[];
  private suffix: string[];

  constructor(
    private tok: Tokenizer,
    tj: Json,
    private cfg: Json,
    id: string,
    private dir: string,
    private fast = true,
  ) {
    this.id = id;
    const added = tok.get_added_tokens_decoder();
    this.special = new Set([...added.values()].map((t) => t.content));
    const idOf = (t: string | null): number | null => (t === null ? null : (tok.token_to_id(t) ?? null));
    this.bosToken = tokenString(cfg.bos_token);
    this.eosToken = tokenString(cfg.eos_token);
    const padToken = tokenString(cfg.pad_token);
    this.bosId = idOf(this.bosToken);
    this.eosId = idOf(this.eosToken);
    this.padId = idOf(padToken);
    this.vocabSize = tok.get_vocab(true).size;
    const unk = tokenString(((tj.model ?? {}) as Json).unk_token) ?? tokenString(cfg.unk_token);
    this.unkId = idOf(unk);
    const t = pickChatTemplate(cfg);
    this.chatTemplate = t ?? DEFAULT_CHAT_TEMPLATE;
    this.chatTemplateIsDefault = t === null;
    const bm = byteMode(tj);
    this.bytes = new TokenBytes(bm.mode, bm.byteFallback, bm.wordpiecePrefix);
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

  idToToken(id: number): string | null {
    return this.tok.id_to_token(id) ?? null;
  }

  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    try {
      this.template ??= new Template(this.chatTemplate);
      return this.template.render({
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        bos_token: this.bosToken ?? '',
        eos_token: this.eosToken ?? '',
        pad_token: tokenString(this.cfg.pad_token) ?? '',
        unk_token: tokenString(this.cfg.unk_token) ?? '',
      });
    } catch (err) {
      const which = this.chatTemplateIsDefault ? "Winnow's default chat template" : `chat_template in ${path.join(this.dir, 'tokenizer_config.json')}`;
      throw new WinnowError('bad_input', `${which}: ${(err as Error).message}`, { dir: this.dir });
    }
  }
}

/** `fast: false` keeps the library's own code paths (slow, same tokens and offsets); tests compare the two. */
export async function loadTokenizer(dir: string, opts: { fast?: boolean } = {}): Promise<WinnowTokenizer> {
  const tjFile = path.join(dir, 'tokenizer.json');
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const tj = readJson(tjFile, true)!;
  const cfg = readJson(cfgFile, false) ?? {};
  const hash = createHash('sha256');
  hash.update(fs.readFileSync(tjFile));
  if (fs.existsSync(cfgFile)) hash.update(fs.readFileSync(cfgFile));
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tj, cfg);
  } catch (err) {
    throw new WinnowError('parse_error', `${tjFile}: cannot build tokenizer (${(err as Error).message})`, { file: tjFile });
  }
  if (opts.fast !== false) installFastPaths(tok);
  return new HfTokenizer(tok, tj, cfg, hash.digest('hex').slice(0, 16), dir, opts.fast !== false);
}
