import type { TreeOptions } from './trees';

/**
 * How a record's fields map to messages. Field names are the record's own keys, or paths (fields.ts): `meta.text`,
 * `instances[0].input`, `instances[*].input` (one row per item of `instances`), `$` (the record itself: bare strings).
 * `list`: in a JSON object holding several lists (`{"train": [...], "test": [...]}`), the one imported.
 * `tree`: OpenAssistant message trees (one message per row, or nested exports) made into conversations (trees.ts).
 * `labels`: a label verbaliser for classification records: the completion field's value → the text the model learns.
 * A prompt_completion mapping without `completion` makes prompt-only rows (a user turn, nothing trained on).
 */
export type Mapping = (
  | { format: 'messages'; field: string }
  | { format: 'sharegpt'; field: string }
  | { format: 'alpaca'; instruction: string; input?: string; output: string; system?: string }
  | { format: 'prompt_completion'; prompt: string; completion?: string; system?: string; labels?: Record<string, string> }
  | { format: 'question_answer'; question: string; answer: string }
  | { format: 'text'; field: string }
) & { list?: string; tree?: TreeOptions };
