/**
 * What a held-out row asks and answers, for the engine's generate / eval jobs (eval/job.ts): the rows, prompts and
 * reference answers are read as the CLI reads them (eval/rows.ts); the per-token NLL, the choice helpers and the label
 * pick are eval/run.ts's.
 */
export { generationConfigEos, promptTurns, readDataRows, renderPrompt, type DataRow } from './rows';
export { choiceReference, pickLabel, rowChoices, tokenNll } from './run';
