import { IMPORT_SIGNALS, SIGNALS, type SignalId } from '../../../preload/contract';

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
  grad_norm: 'norm of the example’s gradient (one backward pass per example)',
  grad_sim: 'LESS: cosine of the example’s projected gradient with a target set’s (needs a target subset)',
  rifd: 'reverse IFD: instruction loss after seeing the response / alone (two more forward passes)',
  sstoken: 'ssToken: history-model loss gain + attention to the prompt, per token (needs a history model)',
};

/** The signals the Score screen offers to run: every signal but the ones each dataset already has from its import. */
export const SCORE_SCREEN_SIGNALS: readonly SignalId[] = SIGNALS.filter((s) => !IMPORT_SIGNALS.includes(s));

export const NEEDS_REFERENCE = new Set(['excess_loss', 'learnability', 'sstoken']);
/** signals that differentiate every example of the scope (their parameter set is chosen in the Score screen) */
export const PER_EXAMPLE_GRADIENT = new Set(['grad_norm', 'grad_sim']);
