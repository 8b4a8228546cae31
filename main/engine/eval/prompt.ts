/**
 * What a held-out row asks and answers, for the engine's generate / eval jobs (eval/job.ts): the rows, prompts and
 * reference answers are read as the CLI reads them (eval/rows.ts), the per-token NLL and the choice helpers are
 * eval/run.ts's; only the label pick for a job's accuracy rows lives here.
 */
import type { LoadedModel } from '../models/model';
import { tokenNll } from './run';

export { generationConfigEos, promptTurns, readDataRows, renderPrompt, type DataRow } from './rows';
export { choiceReference, rowChoices, tokenNll } from './run';

/**
 * The label the model finds most likely after the prompt: Σ log p over each label's tokens. Returns the label and
 * every label's score.
 */
export async function pickLabel(m: LoadedModel, promptIds: number[], labels: string[]): Promise<{ label: string; logprobs: Record<string, number> }> {
  const scores: number[] = [];
  for (const l of labels) {
    const ids = m.tokenizer.encode(l, { addSpecialTokens: false }).ids;
    const nll = await tokenNll(m, [...promptIds, ...ids]);
    let s = 0;
    for (let t = promptIds.length - 1; t < nll.length; t++) s -= nll[t]!;
    scores.push(s);
  }
  let best = 0;
  scores.forEach((s, i) => {
    if (s > scores[best]!) best = i;
  });
  return { label: labels[best]!, logprobs: Object.fromEntries(labels.map((l, i) => [l, scores[i]!])) };
}
