/**
 * Shared model-side types. The data layer renders examples through `WinnowTokenizer`; scoring and training
 * run `LoadedModel`s. Keep these small: they are the seam between data/, models/, scoring/ and training/.
 */
export type Architecture = 'gpt2' | 'llama';

export interface ModelConfig {
  /** config.json `model_type` as written by the user's checkpoint: gpt2, llama, mistral, qwen2 */
  modelType: string;
  arch: Architecture;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  maxPositions: number;
  /** RMSNorm eps (llama family) or LayerNorm eps (gpt2) */
  normEps: number;
  ropeTheta: number;
  ropeScaling: null | { type: 'linear'; factor: number } | {
    type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number;
  };
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (qwen2; gpt2 always) */
  attentionBias: boolean;
  /** o_proj / mlp carry biases (llama `mlp_bias`; gpt2 always) */
  mlpBias: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** the parsed config.json, kept so saving writes it back unchanged */
  raw: Record<string, unknown>;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  /** the turn's text ("" for an assistant turn that only calls tools) */
  content: string;
  /** an assistant turn's tool calls, as chat templates read them (`function.arguments` a mapping when it was JSON) */
  tool_calls?: ToolCall[];
  /** a tool message: the call it answers, and the tool's name */
  tool_call_id?: string;
  name?: string;
}

export interface ToolCall {
  id?: string;
  type: 'function';
  function: { name: string; arguments: unknown };
}

/** Rendering options of a chat template: the generation prompt, and the record's tool schemas (`tools`). */
export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  tools?: unknown[] | null;
}

export interface Encoding {
  ids: number[];
  /** [start, end) character offsets into the encoded string, one per id (special tokens may have start === end) */
  offsets: Array<[number, number]>;
}

export interface WinnowTokenizer {
  /** stable id: a hash of every tokenizer file (tokenizer.json, tokenizer_config.json, special_tokens_map.json, chat_template.jinja); part of the render key */
  readonly id: string;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly vocabSize: number;
  /** the chat template in use (the model's, or Winnow's documented default) */
  readonly chatTemplate: string;
  readonly chatTemplateIsDefault: boolean;
  /** the model's name (its folder's), for messages */
  readonly name?: string;
  /** Encode text as-is. Special tokens written literally in the text (e.g. "<s>") are recognised. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): Encoding;
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  idToToken(id: number): string | null;
  /** Render messages through the chat template to a string (no tokenization). Throws WinnowError on template errors. */
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions): string;
  /** Whether the id is an added token flagged special (absent: only the EOS counts as one). */
  isSpecialId?(id: number): boolean;
  /**
   * [start, end) character spans of the template's {% generation %} blocks in the rendered messages (no generation
   * prompt); null (or absent) when the template has none.
   */
  generationSpans?(messages: ChatMessage[], opts?: ChatTemplateOptions): Array<[number, number]> | null;
}

/** One named tensor of a checkpoint, classified for layer selection (names exactly as in the HF checkpoint). */
export interface TensorInfo {
  name: string;
  shape: number[];
  /** transformer block index, or null for embeddings / final norm / head */
  block: number | null;
  /** q k v o qkv(gpt2 fused) up gate down fc proj(gpt2 mlp) norm embed pos_embed head */
  kind: string;
  size: number;
}
