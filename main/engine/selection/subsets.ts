/**
 * Subsets: a named set of examples and the rule that made it. Rules run as SQL over the indexed signal columns,
 * so they scale with the table, not with JS memory; the embedding rules (per-cluster quotas, k-center) read vectors
 * or a clustering run and record what they used in the stored rule.
 */
import type { Db } from '../db';
import { listSignalColumns, openProjectDb } from '../db';
import { datasetLabel } from '../db/names';
import { activeModelId } from '../db/project-meta';
import { TABLE_BUILTIN_COLUMNS, queryExampleIds } from '../db/queryExamples';
import { defaultRenderKeyId } from '../data/render-key';
import { describeRenderKey, getRenderKey } from '../db/renders';
import {
  columnHasValues, combinedMemberIds, countWithColumn, datasetExampleIds, getSubset, idsInColumnRange, insertSubset, isBuiltinRuleColumn,
  renderKeyHasRows, replaceSubsetRows, ruleColumnSql, scopedExampleIds, subsetExists, subsetNameTaken, topIdsByColumn,
} from '../db/subsets';
import { WinnowError } from '../util/errors';
import type { SubsetInfo, SubsetRule } from '../../../preload/contract';
import { mulberry32 } from '../util/random';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import { clusterQuota, getClusterRun, latestClusterRun } from './clusters';
import { NO_EMBEDDINGS, loadEmbeddings } from './embeddings';
import { kcenterGreedy } from './kcenter';
import { s2lSelect } from './s2l';

export interface RuleHooks {
  /** k-center progress (picks so far of k); throw to stop */
  onProgress?: (done: number, total: number) => void;
}

/** What a rule selected, and what the engine filled into the stored rule (run ids, radius, …). */
export interface RuleResult {
  ids: number[];
  provenance: Record<string, unknown>;
}

export { deleteSubset, findSubsetByName, getSubset, listSubsets, subsetMemberIds } from '../db/subsets';

/** The example ids a rule selects, in rule order (best first for top-k). */
export function evaluateRule(db: Db, rule: SubsetRule, datasetId?: number, hooks: RuleHooks = {}): number[] {
  return evaluateRuleWithProvenance(db, rule, datasetId, hooks).ids;
}

export function evaluateRuleWithProvenance(db: Db, rule: SubsetRule, datasetId?: number, hooks: RuleHooks = {}): RuleResult {
  if (rule.kind === 'cluster_quota') {
    const run = rule.clusterRunId !== undefined ? getClusterRun(db, rule.clusterRunId) : latestClusterRun(db, datasetId);
    if (!run) throw new WinnowError('not_found', 'rule: no clusters yet — run K-means first (Map → Clusters)');
    const ids = clusterQuota(db, run.runId, rule, datasetId, rule.signal !== undefined ? ruleColumnSql(db, rule.signal) : null);
    return { ids, provenance: { clusterRunId: run.runId, k: run.k } };
  }
  if (rule.kind === 'kcenter') {
    const subsetName = rule.subsetId !== undefined ? getSubset(db, rule.subsetId).name : undefined;
    const m = loadEmbeddings(db, { datasetId, subsetId: rule.subsetId });
    if (!m.ids.length) throw new WinnowError('not_found', rule.subsetId !== undefined ? `rule: no row of subset "${subsetName}" has an embedding. ${NO_EMBEDDINGS}` : `rule: ${NO_EMBEDDINGS}`);
    const r = kcenterGreedy(m.data, m.ids.length, m.dim, rule.count, { seed: rule.seed, onPick: hooks.onProgress });
    return {
      ids: r.picked.map((i) => m.ids[i]!),
      provenance: { radius: r.radius, candidates: m.ids.length, embeddingRuns: m.runIds, ...(subsetName !== undefined ? { subsetName } : {}) },
    };
  }
  if (rule.kind === 's2l') return s2lSelect(db, rule, datasetId);
  if (rule.kind === 'filter') return filterRule(db, rule, datasetId);
  if (rule.kind === 'uds') throw new WinnowError('bad_input', 'rule: UDS runs the model over every row — start it as a job (subsets.start)');
  return { ids: evaluateSqlRule(db, rule, datasetId), provenance: {} };
}

/**
 * The rows the Examples table shows under the rule's filters: the table's own query (db/queryExamples.ts), so the
 * subset and the table cannot disagree; an unknown column is refused there, by name. Token counts (n_tokens, n_label
 * with hand-edited masks) are read under the render key the table reads them under (the active model's default), or
 * the one the stored rule recorded when it is run again.
 */
type FilterRule = Extract<SubsetRule, { kind: 'filter' }>;

/** The token-count column (n_tokens, n_label) a filter rule reads first, if any: those are counted on renders. */
const countedColumn = (rule: FilterRule): string | undefined => rule.filters.find((f) => f.column === 'n_tokens' || f.column === 'n_label')?.column;

/** The render key a filter rule counts tokens under: the one it recorded, else the active model's default. */
const filterRenderKeyId = (db: Db, rule: FilterRule): number | null => rule.renderKeyId ?? defaultRenderKeyId(db, activeModelId(db));

function filterRule(db: Db, rule: FilterRule, datasetId?: number): RuleResult {
  const subsetName = rule.subsetId !== undefined ? getSubset(db, rule.subsetId).name : undefined;
  const counted = countedColumn(rule) !== undefined;
  const renderKeyId = filterRenderKeyId(db, rule);
  const ids = queryExampleIds(db, { datasetId, subsetId: rule.subsetId, renderKeyId, filters: rule.filters, text: rule.text });
  return {
    ids: ids.sort((a, b) => a - b),
    provenance: { ...(subsetName !== undefined ? { subsetName } : {}), ...(counted && renderKeyId !== null ? { renderKeyId } : {}) },
  };
}

/** A rule that runs a model (asynchronously, in the `select` job): UDS, given by the job runner (training/uds-select.ts). */
export type UdsEvaluator = (db: Db, rule: Extract<SubsetRule, { kind: 'uds' }>, datasetId: number | undefined, hooks: RuleHooks) => Promise<RuleResult>;

function evaluateSqlRule(db: Db, rule: Exclude<SubsetRule, { kind: 'cluster_quota' | 'kcenter' | 's2l' | 'uds' | 'filter' }>, datasetId?: number): number[] {
  switch (rule.kind) {
    case 'all':
      return scopedExampleIds(db, datasetId);
    case 'threshold': {
      if (rule.min === undefined && rule.max === undefined) throw new WinnowError('bad_input', 'rule: threshold needs min or max');
      return idsInColumnRange(db, ruleColumnSql(db, rule.signal), rule, datasetId);
    }
    case 'top': {
      const col = ruleColumnSql(db, rule.signal);
      if ((rule.count === undefined) === (rule.percent === undefined)) {
        throw new WinnowError('bad_input', 'rule: top needs exactly one of count or percent');
      }
      const scored = countWithColumn(db, col, datasetId);
      const k = rule.count ?? Math.max(1, Math.round(((rule.percent ?? 0) / 100) * scored));
      return topIdsByColumn(db, col, rule.dir === 'asc' ? 'asc' : 'desc', k, datasetId);
    }
    case 'ifd_top': {
      // IFD > 1: the prompt makes the answer harder, not easier — the paper drops these before taking the top
      const col = ruleColumnSql(db, 'ifd');
      if ((rule.count === undefined) === (rule.percent === undefined)) {
        throw new WinnowError('bad_input', 'rule: ifd_top needs exactly one of count or percent');
      }
      const n = countWithColumn(db, col, datasetId, 1);
      const k = rule.count ?? Math.max(1, Math.round(((rule.percent ?? 0) / 100) * n));
      return topIdsByColumn(db, col, 'desc', k, datasetId, 1);
    }
    case 'combine': {
      for (const sid of rule.subsetIds) getSubset(db, sid);
      const ids = combinedMemberIds(db, rule.op, rule.subsetIds);
      if (datasetId === undefined) return ids;
      const inScope = new Set(datasetExampleIds(db, datasetId));
      return ids.filter((e) => inScope.has(e));
    }
    case 'ids': {
      // only rows that exist (and are in the dataset, when given)
      const known = new Set(scopedExampleIds(db, datasetId));
      return [...new Set(rule.ids)].filter((e) => known.has(e)).sort((a, b) => a - b);
    }
    case 'random': {
      const ids = scopedExampleIds(db, datasetId);
      const rand = mulberry32(rule.seed);
      for (let i = ids.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [ids[i], ids[j]] = [ids[j]!, ids[i]!];
      }
      return ids.slice(0, rule.count);
    }
  }
}

export function assertSubsetNameFree(db: Db, name: string): void {
  if (subsetNameTaken(db, name)) throw new WinnowError('conflict', `a subset named "${name}" already exists`);
}

export function createSubset(db: Db, name: string, rule: SubsetRule, datasetId?: number, hooks: RuleHooks = {}, result?: RuleResult): SubsetInfo {
  assertSubsetNameFree(db, name);
  const { ids, provenance } = result ?? evaluateRuleWithProvenance(db, rule, datasetId, hooks);
  // the name may have been taken while a slow rule ran
  assertSubsetNameFree(db, name);
  const stored = { ...rule, ...provenance, ...(datasetId !== undefined ? { datasetId } : {}) };
  return getSubset(db, insertSubset(db, name, JSON.stringify(stored), ids));
}

/** Why a subset's stored rule cannot be run again (hand-picked rows, a set operation whose sources are gone); null when it can. */
export function whyNotRecreatable(db: Db, s: SubsetInfo): string | null {
  const rule = s.rule;
  if (rule.kind === 'ids') return `"${s.name}" is hand-picked rows${rule.source ? ` (${rule.source})` : ''}: there is no rule to run again`;
  if (rule.kind === 'uds') return `"${s.name}" is a UDS pass over a model's logits: make it again as a new subset (a job)`;
  if (rule.kind === 'combine' || ((rule.kind === 'kcenter' || rule.kind === 'filter') && rule.subsetId !== undefined)) {
    const sources = rule.kind === 'combine' ? rule.subsetIds : [rule.subsetId!];
    const gone = sources.filter((sid) => !subsetExists(db, sid));
    if (gone.length) return `"${s.name}" was made from subset${gone.length > 1 ? 's' : ''} ${gone.map((g) => `#${g}`).join(', ')}, which no longer exist${gone.length > 1 ? '' : 's'}`;
  }
  return null;
}

/** The signal columns a rule ranks or filters by (built-in columns excluded). */
function ruleColumns(rule: SubsetRule): string[] {
  if (rule.kind === 'filter') return [...new Set(rule.filters.map((f) => f.column))].filter((c) => !TABLE_BUILTIN_COLUMNS.includes(c));
  const col = rule.kind === 'threshold' || rule.kind === 'top' ? rule.signal : rule.kind === 'ifd_top' ? 'ifd' : rule.kind === 'cluster_quota' ? rule.signal : undefined;
  return col !== undefined && !isBuiltinRuleColumn(col) ? [col] : [];
}

/**
 * Runs a subset's stored rule again and puts the result in its place: same id and name, new rows, not stale. All in
 * one transaction, so the old subset stays as it was if the rule fails. A column the rule reads that has no values in
 * its dataset (a re-map deletes them) is an error naming the column, not a silently empty subset.
 */
export function recreateSubset(db: Db, subsetId: number): SubsetInfo {
  const old = getSubset(db, subsetId);
  const why = whyNotRecreatable(db, old);
  if (why) throw new WinnowError('bad_input', `subsets.recreate: ${why}`);
  const stored = old.rule as SubsetRule & { datasetId?: number };
  const datasetId = stored.datasetId;
  const known = listSignalColumns(db);
  for (const col of ruleColumns(stored)) {
    const scored = known.includes(col) && columnHasValues(db, col, datasetId);
    if (!scored) {
      throw new WinnowError('not_found', `subsets.recreate: the rule of "${old.name}" reads column "${col}", which has no values${datasetId !== undefined ? ` in dataset "${datasetLabel(db, datasetId)}"` : ''} (a re-map deletes a dataset's scores) — score the dataset with ${col} again, then recreate`, { column: col });
    }
  }
  if (stored.kind === 'filter') assertCountsRendered(db, old.name, stored, datasetId);
  return db.transaction(() => {
    const { ids, provenance } = evaluateRuleWithProvenance(db, stored, datasetId);
    const rule = { ...stored, ...provenance };
    replaceSubsetRows(db, subsetId, JSON.stringify(rule), ids);
    return getSubset(db, subsetId);
  })();
}

/**
 * A filter on token counts (n_tokens, n_label) reads them from the renders of the render key the rule recorded. A
 * re-map deletes a dataset's renders and renders it again only with the active model, so that key may have no rows
 * now: an error naming the column and the renders, not an empty subset.
 */
function assertCountsRendered(db: Db, name: string, rule: FilterRule, datasetId?: number): void {
  const col = countedColumn(rule);
  if (col === undefined) return;
  const keyId = filterRenderKeyId(db, rule);
  if (keyId !== null && renderKeyHasRows(db, keyId, datasetId)) return;
  const where = datasetId !== undefined ? ` of dataset "${datasetLabel(db, datasetId)}"` : '';
  const renders = keyId !== null ? `the renders (${describeRenderKey(getRenderKey(db, keyId))})` : 'renders';
  throw new WinnowError('not_found', `subsets.recreate: the rule of "${name}" reads column "${col}", counted on ${renders}${where}, and no row has them now (a re-map deletes a dataset's renders) — score the dataset with that model again, then recreate`, { column: col, renderKeyId: keyId });
}

/** A subset made from existing ones with a set operation; its stored rule names the operation and the sources. */
export function combineSubsets(db: Db, name: string, op: 'union' | 'intersection' | 'difference', subsetIds: number[]): SubsetInfo {
  if (subsetIds.length < 2) throw new WinnowError('bad_input', 'subsets.combine: field "subsetIds" needs at least two subsets');
  const names = subsetIds.map((sid) => getSubset(db, sid).name);
  return createSubset(db, name, { kind: 'combine', op, subsetIds, names });
}

/** Job runner (kind `select`): params {name, rule, datasetId?} — a subset whose rule takes a while (k-center, UDS). */
export async function runSelectJob(ctx: JobContext, uds?: UdsEvaluator): Promise<JobOutcome> {
  const db = openProjectDb(ctx.dbPath);
  try {
    const p = jobParams('select', ctx);
    let last = 0;
    ctx.progress({ current: 0, total: 1, message: p.rule.kind === 'uds' ? 'loading the model' : 'reading embeddings' });
    const hooks: RuleHooks = {
      onProgress: (done, total) => {
        if (ctx.isCancelled()) throw new WinnowError('cancelled', 'subset rule cancelled; no subset was made');
        const now = Date.now();
        if (now - last < 200) return;
        last = now;
        ctx.progress({ current: done, total, message: p.rule.kind === 'uds' ? `${done} of ${total} rows scored` : `${done} of ${total} picked` });
      },
    };
    assertSubsetNameFree(db, p.name);
    let result: RuleResult | undefined;
    if (p.rule.kind === 'uds') {
      if (!uds) throw new WinnowError('bad_input', 'rule: UDS is not available in this job runner');
      result = await uds(db, p.rule, p.datasetId, hooks);
    }
    const subset = createSubset(db, p.name, p.rule, p.datasetId, hooks, result);
    return { message: `subset "${subset.name}": ${subset.size} rows`, stats: { subsetId: subset.id, size: subset.size } };
  } finally {
    db.close();
  }
}
