/**
 * Token masks of the exported examples in both forms: token_masks.jsonl for the named tokenizer (input_ids,
 * attention_mask, labels = −100 where the loss is masked) and token_masks.spans.jsonl, per message the [start, end)
 * code-point ranges of its content that are trained on, for re-applying the mask under another tokenizer. The 0/1
 * masks themselves come from selection/token-policy (the same definition training uses).
 */
import type { WinnowTokenizer } from '../models/types';
import type { Normalized } from '../data/formats';
import { trainedCharSpans } from './char-spans';

export interface TokenMaskRow {
  example_id: number;
  input_ids: number[];
  attention_mask: number[];
  labels: number[];
}

export interface SpanRow {
  example_id: number;
  /** null when the message contents could not be located in the rendered text */
  messages: Array<{ role: string; trained: Array<[number, number]>; turn_end_trained: boolean }> | null;
}

export function tokenMaskRow(exampleId: number, ids: Int32Array, mask: Uint8Array): TokenMaskRow {
  const input_ids = Array.from(ids);
  return { example_id: exampleId, input_ids, attention_mask: input_ids.map(() => 1), labels: input_ids.map((t, i) => (mask[i] === 1 ? t : -100)) };
}

export function spanRow(tok: WinnowTokenizer, exampleId: number, normalized: Normalized, offsets: Int32Array, mask: Uint8Array): SpanRow {
  let messages: SpanRow['messages'];
  try {
    messages = trainedCharSpans(tok, normalized, offsets, mask);
  } catch {
    messages = null; // a template that refuses this conversation: the token form still carries the mask
  }
  return { example_id: exampleId, messages };
}
