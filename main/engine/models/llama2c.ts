/**
 * llama2.c legacy checkpoint (+ tokenizer.bin) → Hugging Face Llama folder, so the bundled demo model is an
 * ordinary HF checkpoint that every other part of Winnow (and transformers) loads the usual way.
 * Format: karpathy/llama2.c `export.py legacy_export` and `tokenizer.py export`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WinnowError } from '../util/errors';
import { writeSafetensors, type TensorToWrite } from './safetensors';

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

export const STORIES_CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}Question: {{ m['content'] }}\n" +
  "{% elif m['role'] == 'assistant' %}Answer: {{ m['content'] }}{{ eos_token }}\n" +
  "{% else %}{{ m['content'] }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}Answer:{% endif %}";

/**
 * HF's convert_llama_weights_to_hf `permute`: llama2.c (like Meta's original code) rotates interleaved pairs
 * (2i, 2i+1) of each head, HF rotates halves (i, i + hd/2). Reorder rows so row 2i+j of a head becomes j*hd/2+i.
 * = w.view(nHeads, rows/nHeads/2, 2, cols).transpose(1, 2).reshape(rows, cols)
 */
export function permuteForRotateHalf(w: Float32Array, nHeads: number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const hd = rows / nHeads;
  const half = hd / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * hd + 2 * i + j) * cols;
        const dst = (h * hd + j * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

export function readLlama2cHeader(buf: Buffer, file: string): Llama2cHeader {
  if (buf.byteLength < 28) throw new WinnowError('parse_error', `${file}: too short for a llama2.c header`, { file });
  const h = Array.from({ length: 7 }, (_, i) => buf.readInt32LE(i * 4));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = h;
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  h.forEach((v, i) => {
    if (i !== 5 && v <= 0) throw new WinnowError('parse_error', `${file}: header field ${names[i]} = ${v} must be positive`, { file });
  });
  if (dim % nHeads || nHeads % nKvHeads || (dim / nHeads) % 2) {
    throw new WinnowError('parse_error', `${file}: header dim=${dim}, n_heads=${nHeads}, n_kv_heads=${nKvHeads} are inconsistent`, { file });
  }
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), seqLen, sharedClassifier: vocab > 0 };
}

interface Piece {
  piece: string;
  score: number;
}

/** tokenizer.bin: int32 max_token_length, then per token float32 score, int32 len, bytes (UTF-8, '▁' written as ' '). */
export function readLlama2cTokenizer(file: string, vocabSize: number): Piece[] {
  const buf = fs.readFileSync(file);
  let off = 4;
  const pieces: Piece[] = [];
  for (let i = 0; i < vocabSize; i++) {
    if (off + 8 > buf.byteLength) throw new WinnowError('parse_error', `${file}: ends at token ${i} of ${vocabSize}`, { file });
    const score = buf.readFloatLE(off);
    const len = buf.readInt32LE(off + 4);
    off += 8;
    if (len < 0 || off + len > buf.byteLength) throw new WinnowError('parse_error', `${file}: token ${i} has bad length ${len}`, { file });
    let piece = buf.subarray(off, off + len).toString('utf8');
    off += len;
    // llama2.c's exporter wraps BOS/EOS in newlines and writes '▁' as ' '; undo both.
    if (i === 1 && piece.trim() === '<s>') piece = '<s>';
    else if (i === 2 && piece.trim() === '</s>') piece = '</s>';
    else piece = piece.replaceAll(' ', '\u2581');
    pieces.push({ piece, score });
  }
  return pieces;
}

const SPECIAL = ['<unk>', '<s>', '</s>'];
const isByte = (p: string): boolean => /^<0x[0-9A-F]{2}>$/.test(p);

/** Llama-style (legacy SentencePiece BPE) tokenizer.json, as transformers' LlamaConverter writes it. */
export function buildTokenizerJson(pieces: Piece[]): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  pieces.forEach((p, i) => {
    if (p.piece in vocab) throw new WinnowError('parse_error', `tokenizer: piece ${JSON.stringify(p.piece)} appears twice (ids ${vocab[p.piece]} and ${i})`);
    vocab[p.piece] = i;
  });
  // transformers' SentencePieceExtractor: every split of a piece into two vocab pieces is a merge; merges are
  // ordered by the merged piece's score, highest first (stable: ties keep (left id, right id) order).
  // Control and byte pieces are never merge results in SentencePiece, so they are left out.
  const merges: Array<{ l: string; r: string; score: number }> = [];
  pieces.forEach(({ piece, score }) => {
    if (SPECIAL.includes(piece) || isByte(piece)) return;
    const chars = Array.from(piece);
    const local: Array<{ l: string; r: string; score: number }> = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      if (l in vocab && r in vocab) local.push({ l, r, score });
    }
    local.sort((a, b) => vocab[a.l] - vocab[b.l] || vocab[a.r] - vocab[b.r]);
    merges.push(...local);
  });
  merges.sort((a, b) => b.score - a.score);
  const added = SPECIAL.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '\u2581' },
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map((m) => [m.l, m.r]),
    },
  };
}

export function buildTokenizerConfig(maxLength: number): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  SPECIAL.forEach((content, id) => {
    decoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  });
  return {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: decoder,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    clean_up_tokenization_spaces: false,
    legacy: true,
    model_max_length: maxLength,
    tokenizer_class: 'LlamaTokenizer',
    chat_template: STORIES_CHAT_TEMPLATE,
  };
}

const README = (h: Llama2cHeader): string => `# stories260K (Hugging Face Llama layout)

A 260K-parameter Llama-2-architecture model trained on TinyStories by Andrej Karpathy
(karpathy/tinyllamas, \`stories260K\`), distributed with llama2.c. MIT licence (see LICENSE).

Converted by Winnow's \`convertLlama2c\` (main/engine/models/llama2c.ts) from the llama2.c legacy files
\`stories260K.bin\` and \`tok512.bin\`: dim ${h.dim}, hidden ${h.hiddenDim}, ${h.nLayers} layers, ${h.nHeads} heads,
${h.nKvHeads} kv heads, vocab ${h.vocabSize}, context ${h.seqLen}. wq/wk are permuted for HF's rotate-half RoPE;
lm_head is tied to the token embedding. The tokenizer is rebuilt as a Llama-style SentencePiece-BPE tokenizer.json
(byte fallback, merges ordered by piece score). The chat template is Winnow's simple Question/Answer format:
the model was never trained on chat, it only exists so the demo can render chat-shaped data.
`;

/** llama2.c's LICENSE, verbatim (it covers the tinyllamas checkpoints distributed with it) */
const LICENSE = `MIT License

Copyright (c) 2023 Andrej

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;

export function convertLlama2c(modelBin: string, tokenizerBin: string, outDir: string): Llama2cHeader {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(modelBin);
  } catch {
    throw new WinnowError('not_found', `${modelBin}: llama2.c model file not found`, { file: modelBin });
  }
  const h = readLlama2cHeader(buf, modelBin);
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen } = h;
  const headSize = dim / nHeads;
  const kvDim = (dim * nKvHeads) / nHeads;
  const floats = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.byteLength - ((buf.byteLength - 28) % 4)));
  let off = 0;
  const take = (n: number, what: string): Float32Array => {
    if (off + n > floats.length) {
      throw new WinnowError('parse_error', `${modelBin}: file ends inside ${what} (needs ${n} floats at ${off}, has ${floats.length})`, {
        file: modelBin,
      });
    }
    const a = floats.slice(off, off + n);
    off += n;
    return a;
  };
  const perLayer = (n: number, what: string): Float32Array[] => {
    const all = take(nLayers * n, what);
    return Array.from({ length: nLayers }, (_, l) => all.slice(l * n, (l + 1) * n));
  };
  const emb = take(vocabSize * dim, 'token_embedding');
  const rmsAtt = perLayer(dim, 'rms_att');
  const wq = perLayer(dim * dim, 'wq');
  const wk = perLayer(dim * kvDim, 'wk');
  const wv = perLayer(dim * kvDim, 'wv');
  const wo = perLayer(dim * dim, 'wo');
  const rmsFfn = perLayer(dim, 'rms_ffn');
  const w1 = perLayer(dim * hiddenDim, 'w1');
  const w2 = perLayer(hiddenDim * dim, 'w2');
  const w3 = perLayer(dim * hiddenDim, 'w3');
  const rmsFinal = take(dim, 'rms_final');
  take((seqLen * headSize) / 2, 'freq_cis_real'); // precomputed RoPE tables: HF recomputes them from rope_theta
  take((seqLen * headSize) / 2, 'freq_cis_imag');
  const wcls = h.sharedClassifier ? null : take(vocabSize * dim, 'wcls');
  if (off !== floats.length) {
    throw new WinnowError('parse_error', `${modelBin}: ${floats.length - off} unexpected floats after the weights`, { file: modelBin });
  }

  const tensors: TensorToWrite[] = [{ name: 'model.embed_tokens.weight', shape: [vocabSize, dim], data: emb }];
  for (let l = 0; l < nLayers; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      { name: `${p}.input_layernorm.weight`, shape: [dim], data: rmsAtt[l] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [dim, dim], data: permuteForRotateHalf(wq[l], nHeads, dim, dim) },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kvDim, dim], data: permuteForRotateHalf(wk[l], nKvHeads, kvDim, dim) },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kvDim, dim], data: wv[l] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [dim, dim], data: wo[l] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [dim], data: rmsFfn[l] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [hiddenDim, dim], data: w1[l] },
      { name: `${p}.mlp.up_proj.weight`, shape: [hiddenDim, dim], data: w3[l] },
      { name: `${p}.mlp.down_proj.weight`, shape: [dim, hiddenDim], data: w2[l] },
    );
  }
  tensors.push({ name: 'model.norm.weight', shape: [dim], data: rmsFinal });
  if (wcls) tensors.push({ name: 'lm_head.weight', shape: [vocabSize, dim], data: wcls });

  const pieces = readLlama2cTokenizer(tokenizerBin, vocabSize);
  fs.mkdirSync(outDir, { recursive: true });
  writeSafetensors(path.join(outDir, 'model.safetensors'), tensors, 'F32', { format: 'pt' });
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: dim,
    intermediate_size: hiddenDim,
    num_hidden_layers: nLayers,
    num_attention_heads: nHeads,
    num_key_value_heads: nKvHeads,
    head_dim: headSize,
    vocab_size: vocabSize,
    max_position_embeddings: seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    tie_word_embeddings: h.sharedClassifier,
    bos_token_id: 1,
    eos_token_id: 2,
    initializer_range: 0.02,
    torch_dtype: 'float32',
    use_cache: true,
  };
  const json = (name: string, v: unknown): void => fs.writeFileSync(path.join(outDir, name), JSON.stringify(v, null, 2) + '\n');
  json('config.json', config);
  json('generation_config.json', { bos_token_id: 1, eos_token_id: 2, max_length: seqLen });
  json('tokenizer.json', buildTokenizerJson(pieces));
  json('tokenizer_config.json', buildTokenizerConfig(seqLen));
  json('special_tokens_map.json', { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' });
  fs.writeFileSync(path.join(outDir, 'README.md'), README(h));
  fs.writeFileSync(path.join(outDir, 'LICENSE'), LICENSE);
  return h;
}
