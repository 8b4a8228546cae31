/**
 * `winnow critical`: critical tokens (CFT) over --data FILE or --project P's rows: per response token, its top
 * alternatives rolled out greedily, stored as the token signal "critical". The cost is printed first; --estimate
 * prints only that.
 */
import { initBackend } from '../../engine/compute/backend';
import { checkBudget, DEFAULT_CRITICAL_BUDGET } from '../../engine/eval/critical';
import { estimateCriticalRun, runCriticalTokens } from '../../engine/eval/critical-run';
import { generationConfigEos } from '../../engine/eval/rows';
import { eosIds } from '../../engine/models/generate';
import { disposeModel, loadModel } from '../../engine/models/model';
import { trainCandidateIds } from '../../engine/training/data';
import { datasetIdsOfExamples } from '../../engine/db';
import { modelPath } from '../../engine/db/models';
import { renderDataset } from '../../engine/data/renderDataset';
import { DEFAULT_RENDER } from '../../engine/data/render-key';
import { need, num } from '../flags';
import { withData, withSession, type CommandContext } from '../session';

export async function criticalCommand({ o, quiet }: CommandContext): Promise<unknown> {
  return withSession(o.project as string | undefined, quiet, async (s) => {
    const budget = checkBudget({
      maxPositions: num(o['max-positions'], 'max-positions') ?? DEFAULT_CRITICAL_BUDGET.maxPositions,
      alternatives: num(o.alternatives, 'alternatives') ?? DEFAULT_CRITICAL_BUDGET.alternatives,
      maxNewTokens: num(o['max-new-tokens'], 'max-new-tokens') ?? DEFAULT_CRITICAL_BUDGET.maxNewTokens,
    });
    const { datasetId, subsetId } = await withData(s, o);
    const modelId = await s.model(need(o, 'model'));
    const db = s.service.current().db;
    // the subset's members, the dataset's rows, or every row, by id
    const ids = trainCandidateIds(db, subsetId, datasetId);
    await initBackend();
    const m = await loadModel(modelPath(db, modelId));
    try {
      let keyId = 0;
      for (const d of datasetIdsOfExamples(db, ids)) keyId = (await renderDataset(db, d, m.tokenizer, DEFAULT_RENDER)).renderKeyId;
      const est = estimateCriticalRun(db, m, { renderKeyId: keyId, exampleIds: ids, budget, answerRegex: o['answer-regex'] as string | undefined });
      const said = `critical tokens: ${est.examples} example(s) with a checkable answer (${est.skipped} skipped), ${est.positions} position(s) × ${budget.alternatives} alternative(s) = ${est.rollouts} rollout(s), at most ${est.maxGeneratedTokens} generated token(s)`;
      if (!quiet) process.stderr.write(said + '\n');
      if (o.estimate) return { estimate: est, message: said };
      const r = await runCriticalTokens(db, m, {
        modelId, datasetId: datasetId ?? null, renderKeyId: keyId, exampleIds: ids, budget, answerRegex: o['answer-regex'] as string | undefined,
        eosIds: eosIds(m.config, m.tokenizer, generationConfigEos(m.dir)),
        onProgress: (done, total) => {
          if (!quiet) process.stderr.write(`[critical] ${done}/${total}\n`);
        },
      });
      return { ...r, skipped: r.skipped.length, message: said };
    } finally {
      disposeModel(m);
    }
  });
}
