/** One-line descriptions of the signals (ids from METHODS.md, used verbatim). */
export const SIGNAL_HELP: Record<string, string> = {
  token_loss: 'per-token cross-entropy',
  token_entropy: 'entropy of the next-token distribution',
  token_prob: 'probability of the actual token',
  token_rank: 'rank of the actual token among the logits',
  excess_loss: 'token loss minus the reference model’s (needs a reference)',
  mean_loss: 'mean loss over trained-on tokens',
  ppl: 'perplexity: exp(mean_loss)',
  ifd: 'instruction-following difficulty: answer loss with / without the prompt',
  learnability: '(base − reference) / base mean loss (needs a reference)',
  length_tokens: 'number of tokens',
  response_tokens: 'number of response tokens',
  trainable_tokens: 'number of tokens trained on',
  embedding: 'mean last hidden state (for diversity and maps)',
  exact_dup: 'exact duplicates by normalized hash',
  near_dup: 'near-duplicates by MinHash',
  fim: 'per-layer Fisher information',
  layer_grad_norm: 'per-layer gradient norm',
};

export const NEEDS_REFERENCE = new Set(['excess_loss', 'learnability']);
