/** The signals Winnow computes (scoring, import) and which of them are per token or per layer. */

export const SIGNALS = [
  'token_loss',
  'token_entropy',
  'token_prob',
  'token_rank',
  'excess_loss',
  'mean_loss',
  'ppl',
  'ifd',
  'learnability',
  'length_tokens',
  'response_tokens',
  'trainable_tokens',
  'embedding',
  'exact_dup',
  'near_dup',
  'fim',
  'layer_grad_norm',
  'grad_norm',
  'grad_sim',
  'grad_sim_base',
  'rifd',
  'sstoken',
] as const;
export type SignalId = (typeof SIGNALS)[number];
export const TOKEN_SIGNALS: readonly SignalId[] = ['token_loss', 'token_entropy', 'token_prob', 'token_rank', 'excess_loss', 'sstoken'];
export const LAYER_SIGNALS: readonly SignalId[] = ['fim', 'layer_grad_norm'];
/**
 * Per-example columns every dataset gets at import, without a model (duplicates). The Score screen shows them as
 * already computed rather than as something to run; a scoring run that names them (API, CLI) records them under the run.
 */
export const IMPORT_SIGNALS: readonly SignalId[] = ['exact_dup', 'near_dup'];
