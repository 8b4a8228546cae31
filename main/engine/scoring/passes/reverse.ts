/**
 * rifd, reverse IFD (Reflection-Tuning / Selective Reflection-Tuning, tianyi-lab/Reflection_Tuning
 * selection_code/data_analysis.py and put_analysis_to_data.py: rifd_loss = loss_Q_condition / loss_Q_direct):
 * s(Q|A) / s(Q), the mean loss of the instruction Q when the model is first shown the response A inside the
 * reverse prompt below, divided by the mean loss of Q alone. High values: the response says little about its
 * instruction.
 *
 * Choices, as for ifd (answer-only.ts):
 * - Q is the last user message before the last assistant message (for alpaca rows, instruction and input as the
 *   importer joined them); A is the last assistant message. Rows without both (plain text) get null.
 * - The reverse prompt is the user turn of a two-message chat rendered with the model's chat template (Reflection
 *   Tuning puts it in its alpaca/vicuna/wizardlm template); Q is the assistant turn. s(Q|A) is the loss of that
 *   turn's tokens, s(Q) the loss of the same token ids after BOS alone.
 * - Truncation to max tokens cuts the end of Q in the reverse render; both means use the tokens that remain.
 */
import type { ChatMessage, WinnowTokenizer } from '../../models/types';
import { renderExample } from '../../data/render';
import { isTextRecord, type Normalized } from '../../data/formats';

/** Reflection_Tuning's reverse instruction (data_analysis.py, `instruct_i_reverse`), around the response text. */
export const REVERSE_PROMPT_HEAD = 'Below is the response to an instruction, please guess the corresponding instruction for the given response.\n';
export const REVERSE_PROMPT_TAIL = '\nGenerate the instruction for the above response.';

export function instructionAndResponse(messages: Normalized): { instruction: string; response: string } | null {
  if (isTextRecord(messages)) return null;
  let a = messages.length - 1;
  while (a >= 0 && messages[a]!.role !== 'assistant') a--;
  if (a < 0) return null;
  let q = a - 1;
  while (q >= 0 && messages[q]!.role !== 'user') q--;
  if (q < 0) return null;
  const instruction = messages[q]!.content;
  const response = messages[a]!.content;
  return instruction.trim() && response.trim() ? { instruction, response } : null;
}

export function reverseMessages(instruction: string, response: string): ChatMessage[] {
  return [
    { role: 'user', content: REVERSE_PROMPT_HEAD + response + REVERSE_PROMPT_TAIL },
    { role: 'assistant', content: instruction },
  ];
}

/** The reverse-prompt render of one example (token ids and roles), or null when it has no Q/A pair or fails to render. */
export function reverseRender(tok: WinnowTokenizer, messages: Normalized, maxTokens: number): { tokenIds: Int32Array; roles: Uint8Array } | null {
  const qa = instructionAndResponse(messages);
  if (!qa) return null;
  try {
    const r = renderExample(tok, reverseMessages(qa.instruction, qa.response), { labelPolicy: 'assistant', maxTokens });
    return { tokenIds: r.tokenIds, roles: r.roles };
  } catch {
    return null; // a template that cannot render this pair: no rifd for the row, the others still score
  }
}
