/**
 * `winnow merge OUT.shard.json…`: score shards into one score run of --project P, or generate / eval shards into one
 * --out FILE (merge-outputs.ts). Every check on the shard files comes before the project is opened, and what the merge
 * adds to the project is taken out again when a later check refuses it: a refused merge changes nothing.
 */
import { resolve } from 'node:path';
import { WinnowError } from '../../engine/util/errors';
import { withDuplicateCompanions } from '../../engine/data/duplicates';
import { checkShardSet, importMergedRun, readShardResult, type LoadedShard } from '../../engine/scoring/shard';
import { deleteDataset, getDataset, getRenderKey, type Db } from '../../engine/db';
import { deleteModelRow, listModelRows, modelPath, modelRow } from '../../engine/db/models';
import { loadTokenizer } from '../../engine/models';
import { renderDataset } from '../../engine/data/renderDataset';
import { DEFAULT_RENDER } from '../../engine/data/render-key';
import { setActiveModel } from '../../engine/api/project';
import { need, type Opts } from '../flags';
import { backendLine, importTargetData, withSession, type CommandContext, type Session } from '../session';
import { mergeOutputShards, outputShardCommand } from './merge-outputs';
import { writeScoresJsonl } from './score-output';

export async function mergeCommand({ o, positionals, quiet }: CommandContext): Promise<unknown> {
  if (!positionals.length) throw new WinnowError('bad_input', 'usage: winnow merge OUT.shard.json... --project P (score shards) | --out FILE (generate / eval shards)');
  // generate / eval shards: merged into one file, no project
  if (outputShardCommand(positionals[0]!)) return mergeOutputShards(positionals, need(o, 'out'));
  // every check on the shard files comes before the project is opened: a refused merge changes nothing
  const shards = positionals.map(readShardResult);
  const { count, rows } = checkShardSet(shards);
  return withSession(need(o, 'project'), quiet, async (s) => {
    // fim is finished on the backend, as the pass finishes it
    await backendLine(quiet);
    const { runId, datasetId } = await mergeShards(s, shards, o);
    const out = typeof o.out === 'string' ? resolve(o.out) : undefined;
    const db = s.service.current().db;
    const written = out ? writeScoresJsonl(db, { runId, datasetId, signals: withDuplicateCompanions(shards[0]!.signals), out }) : undefined;
    return { runId, dataset: datasetId, shards: count, rows, ...(out ? { out, scored: written!.rows, errors: written!.errors } : {}) };
  });
}

/**
 * Import the shards' file and models into the project as an unsharded `winnow score --data FILE --project P` would,
 * render the rows under the run's render key, check they are the rows and tokens the shards scored, and write the one
 * run. What this adds to the project (the dataset, newly added models) is taken out again when anything is refused
 * after that point.
 */
async function mergeShards(s: Session, shards: LoadedShard[], o: Opts): Promise<{ runId: number; datasetId: number }> {
  const first = shards[0]!;
  const db = s.service.current().db;
  const undo: Array<() => void> = [];
  try {
    const model = (m: { path: string; hash: string }, flag: ModelFlag) => shardModel(s, o, undo, m, flag);
    const modelId = await model(first.models.model, 'model');
    const refModelId = first.models.ref ? await model(first.models.ref, 'ref-model') : undefined;
    const historyModelId = first.models.history ? await model(first.models.history, 'history-model') : undefined;
    const dataPath = typeof o.data === 'string' ? o.data : first.input.path;
    // the shards' mapping; --format and --skip-malformed as the shards were given them (rows are numbered after skips)
    const job = await s.importFile(dataPath, { mapping: JSON.stringify(first.input.mapping), format: o.format as string | undefined, skipMalformed: !!o['skip-malformed'] });
    const datasetId = Number(job.stats.datasetId);
    undo.push(() => deleteDataset(db, datasetId));
    const ds = getDataset(db, datasetId);
    if (ds.hash !== first.input.sha256) throw new WinnowError('bad_input', `${dataPath}: sha256 ${ds.hash}, the shards split a file with sha256 ${first.input.sha256} (give the same file with --data)`);
    if (ds.rowCount !== first.input.rows || ds.format !== first.input.format) {
      throw new WinnowError('bad_input', `${dataPath}: imports as ${ds.rowCount} rows (${ds.format}), the shards read ${first.input.rows} rows (${first.input.format})`);
    }
    const modelDir = modelPath(db, modelId);
    const renderKeyId = await renderAsShards(db, datasetId, modelDir, first);
    // grad_sim's target file, imported and rendered as an unsharded --target-data run has it
    const targetSubsetId = first.target ? await shardTarget(s, o, undo, modelDir, first) : undefined;
    const runId = importMergedRun(db, shards, {
      datasetId, modelId, refModelId, historyModelId, renderKeyId,
      params: { ...first.options, modelId, refModelId, historyModelId, datasetId, signals: first.signals, projectModelPath: modelDir, ...(targetSubsetId !== undefined ? { targetSubsetId } : {}) },
    });
    // as scoring.start does: the scored model is the project's active one
    setActiveModel(db, modelId);
    return { runId, datasetId };
  } catch (err) {
    for (const u of undo.reverse()) u();
    throw err;
  }
}

type ModelFlag = 'model' | 'ref-model' | 'history-model';

/** A model the shards scored (or the flag's folder instead), added to the project; its weights must hash as the shards' did. */
async function shardModel(s: Session, o: Opts, undo: Array<() => void>, m: { path: string; hash: string }, flag: ModelFlag): Promise<number> {
  const db = s.service.current().db;
  const path = typeof o[flag] === 'string' ? o[flag] : m.path;
  const before = new Set(listModelRows(db).map((r) => r.id));
  const id = await s.model(path);
  if (!before.has(id)) undo.push(() => deleteModelRow(db, id));
  const hash = modelRow(db, id).hash;
  if (hash !== m.hash) throw new WinnowError('bad_input', `--${flag} ${path}: its weights hash ${hash}, the shards scored ${m.hash}`);
  return id;
}

/** Render the merged dataset with the model here; refused unless that is the render key the shards scored. */
async function renderAsShards(db: Db, datasetId: number, modelDir: string, first: LoadedShard): Promise<number> {
  const rendered = await renderDataset(db, datasetId, await loadTokenizer(modelDir), { ...DEFAULT_RENDER, maxTokens: first.renderKey.maxTokens ?? undefined });
  const key = getRenderKey(db, rendered.renderKeyId);
  const want = first.renderKey;
  if (key.tokenizerId !== want.tokenizerId || key.templateHash !== want.templateHash || key.labelPolicy !== want.labelPolicy || key.maxTokens !== want.maxTokens || key.renderer !== want.renderer) {
    throw new WinnowError('bad_input', `the model here renders with another key than the shards scored: tokenizer ${key.tokenizerId} template ${key.templateHash} renderer v${key.renderer}, the shards: tokenizer ${want.tokenizerId} template ${want.templateHash} renderer v${want.renderer}`);
  }
  return rendered.renderKeyId;
}

/** grad_sim's target file, imported and rendered as an unsharded --target-data run has it; its subset's id. */
async function shardTarget(s: Session, o: Opts, undo: Array<() => void>, modelDir: string, first: LoadedShard): Promise<number> {
  const db = s.service.current().db;
  const target = first.target!;
  const path = typeof o['target-data'] === 'string' ? o['target-data'] : target.path;
  const t = await importTargetData(s, path, o);
  undo.push(() => deleteDataset(db, t.targetDatasetId));
  const hash = getDataset(db, t.targetDatasetId).hash;
  if (hash !== target.sha256) throw new WinnowError('bad_input', `${path}: sha256 ${hash}, the shards' grad_sim target file had sha256 ${target.sha256} (give that file with --target-data)`);
  await renderDataset(db, t.targetDatasetId, await loadTokenizer(modelDir), { ...DEFAULT_RENDER, maxTokens: first.renderKey.maxTokens ?? undefined });
  return t.targetSubsetId;
}
