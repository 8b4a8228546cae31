/**
 * sstoken (jianke0604/ssToken, scripts/finetune.py filter_tokens_with_attention_loss, mode "combine"), per response
 * token t of one example:
 *   REL_t  = ℓ_t^his − ℓ_t^θ                 the "history" model's loss minus the scored model's
 *   rel_t  = (REL_t − min REL) / (max REL − min REL + 1e-8)   min and max over the example's response tokens
 *   Attn_t = Σ_{j ∈ prompt} Ā[t, j]           Ā = last layer's attention probabilities averaged over heads
 *   sstoken_t = γ·rel_t + (1 − γ)·Attn_t      γ = 0.5 by default (ssToken's --ratio)
 * As in ssToken, ℓ_t is the loss of token t (predicted at t−1) while Attn_t is row t of Ā (token t as the query).
 * Response tokens are those with label mask 1 (ssToken: labels ≠ −100 after the prompt); the prompt is every
 * position with label mask 0 — for a single-turn example exactly ssToken's prompt prefix, and causal attention gives
 * later positions no weight. Other positions are NaN (no value).
 */

export function sstokenFrom(
  loss: Float32Array,
  hisLoss: Float32Array,
  keyAttention: Float32Array,
  labelMask: Uint8Array,
  gamma: number,
): Float32Array {
  const out = new Float32Array(loss.length).fill(NaN);
  const resp: number[] = [];
  for (let t = 1; t < loss.length; t++) {
    if (labelMask[t] === 1 && Number.isFinite(loss[t]!) && Number.isFinite(hisLoss[t]!)) resp.push(t);
  }
  if (!resp.length) return out;
  let min = Infinity;
  let max = -Infinity;
  const rel = resp.map((t) => {
    const r = hisLoss[t]! - loss[t]!;
    min = Math.min(min, r);
    max = Math.max(max, r);
    return r;
  });
  resp.forEach((t, i) => {
    out[t] = gamma * ((rel[i]! - min) / (max - min + 1e-8)) + (1 - gamma) * keyAttention[t]!;
  });
  return out;
}

/** sstoken's key set: the prompt, i.e. the positions the example does not learn (label mask 0). */
export function promptKeys(labelMask: Uint8Array): Uint8Array {
  return Uint8Array.from(labelMask, (m) => (m === 1 ? 0 : 1));
}
