import { IMPORT_SIGNALS, SIGNALS, type SignalId } from '../../../preload/contract';

/** One-line descriptions of the signals (ids from METHODS.md, used verbatim). */
export const SIGNAL_HELP: Record<string, string> = {
  token_loss: 'per-token cross-entropy',
  token_entropy: 'entropy of the next-token distribution',
  token_prob: 'probability of the actual token',
  token_rank: 'rank of the actual token among the logits',
  excess_loss: 'token loss minus the reference model’s: ℓ^θ − ℓ^ref, the reference being the LATER (tuned) model',
  mean_loss: 'mean loss over trained-on tokens',
  ppl: 'perplexity: exp(mean_loss)',
  ifd: 'instruction-following difficulty: answer loss with / without the prompt',
  learnability: '(L_θ − L_ref) / L_θ mean loss, the reference being the LATER (tuned) model',
  length_tokens: 'number of tokens',
  response_tokens: 'number of response tokens',
  trainable_tokens: 'number of tokens trained on',
  embedding: 'mean last hidden state (for diversity and maps)',
  exact_dup: 'exact duplicates by normalized hash',
  near_dup: 'near-duplicates by MinHash',
  fim: 'per-layer Fisher information: mean g² per tensor, ‖F‖_F summed per block (no size normalisation)',
  layer_grad_norm: 'per-layer gradient norm: mean ‖g‖ per tensor, and per block the norm of the block’s whole gradient',
  grad_norm: 'norm of the example’s gradient (one backward pass per example)',
  grad_sim: 'LESS: Σ over a LoRA warm-up’s checkpoints of lr × cosine of the example’s Adam-preconditioned LoRA gradient with the target set’s (needs a warm-up run and a target subset)',
  grad_sim_base: 'cosine of the example’s projected base-model gradient with a target set’s (needs a target subset)',
  rifd: 'reverse IFD: instruction loss after seeing the response / alone (two more forward passes)',
  sstoken: 'ssToken: loss gain over the EARLIER history model (ℓ^his − ℓ^θ) + attention to the prompt, per token',
};

/** The signals the Score screen offers to run: every signal but the ones each dataset already has from its import. */
export const SCORE_SCREEN_SIGNALS: readonly SignalId[] = SIGNALS.filter((s) => !IMPORT_SIGNALS.includes(s));

/** signals compared with a LATER reference model (refModelId) */
export const NEEDS_REFERENCE = new Set(['excess_loss', 'learnability']);
/** signals compared with an EARLIER history model (historyModelId) */
export const NEEDS_HISTORY = new Set(['sstoken']);
/** signals whose per-example loss form (fimLoss) applies */
export const LAYER_GRADIENT = new Set(['fim', 'layer_grad_norm']);
/** signals that differentiate every example of the scope (their parameter set is chosen in the Score screen) */
export const PER_EXAMPLE_GRADIENT = new Set(['grad_norm', 'grad_sim_base']);
