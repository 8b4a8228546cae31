/**
 * IFD (Cherry_LLM, cherry_seletion/data_analysis.py + put_ifd_score.py): s(A|Q) / s(A), the mean loss of the
 * answer tokens with the prompt divided by the mean loss of the same answer tokens without it.
 *
 * Choices, where Cherry works on strings and we work on the stored render:
 * - The answer A is the last assistant turn: the last maximal run of assistant-role tokens in the render (Cherry
 *   takes `text.rfind(output)`). Template tokens that close the turn (e.g. EOS) are not part of A.
 * - The answer-only sequence is [BOS] + those same token ids, not a re-tokenisation of the answer text, so both
 *   passes score identical ids (Cherry re-encodes and may split the first token differently).
 * - Boundary token: the first answer token is scored in both passes — predicted from the template text before it
 *   with the prompt, and from BOS alone without it (Cherry's alone text is "### Response:" + answer; we have no
 *   model-independent marker, so BOS only). A tokenizer without BOS cannot score the first answer token alone, so
 *   it is left out of both means.
 * - No answer tokens (or a truncated-away answer) → null, as Cherry's NaN.
 */
import { ROLE_ASSISTANT } from '../../db';

/** [start, end) of the last run of assistant-role tokens, or null when there is none. */
export function answerSpan(roles: Uint8Array): [number, number] | null {
  let end = roles.length;
  while (end > 0 && roles[end - 1] !== ROLE_ASSISTANT) end--;
  if (end === 0) return null;
  let start = end;
  while (start > 0 && roles[start - 1] === ROLE_ASSISTANT) start--;
  return [start, end];
}

/** The answer-only sequence: BOS (when the tokenizer has one) then the answer's token ids. */
export function answerOnlyIds(tokenIds: Int32Array, span: [number, number], bosId: number | null): Int32Array {
  const answer = tokenIds.subarray(span[0], span[1]);
  if (bosId === null) return Int32Array.from(answer);
  const out = new Int32Array(answer.length + 1);
  out[0] = bosId;
  out.set(answer, 1);
  return out;
}

/**
 * @param condLoss token_loss of the full render (position t holds ℓ_t)
 * @param aloneLoss token_loss of the answer-only sequence
 * @param hasBos whether the answer-only sequence starts with BOS
 */
export function ifdFrom(condLoss: Float32Array, aloneLoss: Float32Array, span: [number, number], hasBos: boolean): number | null {
  const offset = hasBos ? 1 : 0; // answer token span[0] + k sits at position k + offset of the alone sequence
  let cond = 0;
  let alone = 0;
  let n = 0;
  for (let k = hasBos ? 0 : 1; k < span[1] - span[0]; k++) {
    const t = span[0] + k;
    if (t < 1) continue; // position 0 has no prediction in the full render either
    const c = condLoss[t]!;
    const a = aloneLoss[k + offset]!;
    if (!Number.isFinite(c) || !Number.isFinite(a)) continue;
    cond += c;
    alone += a;
    n++;
  }
  if (n === 0 || alone === 0) return null;
  return cond / n / (alone / n);
}
