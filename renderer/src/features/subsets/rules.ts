/** Subset rules in words: for the subsets table and the Recreate button's title. */
import type { SubsetInfo, SubsetRule } from '../../../../preload/contract';

/**
 * A rule in words. `names`: the project's subsets by id, for a rule that refers to one by id alone (an older rule
 * stored no name): it is named as it is called now, or said to be deleted, never "subset #N".
 */
export function describeRule(rule: SubsetRule, names: ReadonlyMap<number, string> = new Map()): string {
  const subsetName = (id: number) => (names.has(id) ? `“${names.get(id)}”` : 'a deleted subset');
  switch (rule.kind) {
    case 'all':
      return 'all rows';
    case 'top': {
      const end = rule.dir === 'asc' ? 'lowest' : 'highest';
      return rule.percent !== undefined ? `${end} ${rule.percent}% by ${rule.signal}` : `${end} ${rule.count} by ${rule.signal}`;
    }
    case 'threshold':
      return `${rule.min ?? '−∞'} ≤ ${rule.signal} ≤ ${rule.max ?? '∞'}`;
    case 'random':
      return `random ${rule.count} (seed ${rule.seed})`;
    case 'ifd_top':
      return `ifd ≤ 1, then highest ${rule.percent !== undefined ? `${rule.percent}%` : rule.count} by ifd`;
    case 'cluster_quota': {
      const n = rule.percent !== undefined ? `${rule.percent}%` : String(rule.count);
      const by = rule.signal ? `${rule.dir === 'asc' ? 'lowest' : 'highest'} by ${rule.signal}` : `random (seed ${rule.seed})`;
      const run = rule.clusterRunId !== undefined ? ` of K-means run ${rule.clusterRunId}${rule.k ? ` (k = ${rule.k})` : ''}` : '';
      return `${n} per cluster${run}, ${by}`;
    }
    case 'kcenter': {
      const within = rule.subsetName ? ` within “${rule.subsetName}”` : rule.subsetId !== undefined ? ` within ${subsetName(rule.subsetId)}` : '';
      const radius = rule.radius !== undefined ? `; every row within ${rule.radius.toPrecision(3)} of one picked` : '';
      return `k-center ${rule.count} on embedding${within} (seed ${rule.seed})${radius}`;
    }
    case 's2l':
      return `S2L ${rule.count} from the loss trajectories of run #${rule.runId} (${rule.clusters} clusters, seed ${rule.seed})`;
    case 'uds':
      return `UDS: best ${Math.round(rule.keep * 100)}% of each batch of ${rule.batchSize} under model #${rule.modelId} (λ = ${rule.lambda}, buffer ${rule.bufferSize})`;
    case 'filter':
      return describeFilter(rule, subsetName);
    case 'ids':
      return `${rule.ids.length} picked rows${rule.source ? ` (${rule.source})` : ''}`;
    case 'combine': {
      const names = rule.names ?? rule.subsetIds.map((id) => `#${id}`);
      const sym = rule.op === 'union' ? ' ∪ ' : rule.op === 'intersection' ? ' ∩ ' : ' − ';
      return names.join(sym);
    }
  }
}

/** The Examples table's filters in words: "2.1 ≤ mean_loss ≤ 3.4, text “carrot”" (the rows it showed). */
export function describeFilter(
  rule: { filters: Array<{ column: string; min?: number; max?: number }>; text?: string; subsetId?: number; subsetName?: string },
  subsetName: (id: number) => string = (id) => `#${id}`,
): string {
  const parts = rule.filters.map((f) =>
    f.min !== undefined && f.max !== undefined ? (f.min === f.max ? `${f.column} = ${f.min}` : `${f.min} ≤ ${f.column} ≤ ${f.max}`)
      : f.min !== undefined ? `${f.column} ≥ ${f.min}` : f.max !== undefined ? `${f.column} ≤ ${f.max}` : `any ${f.column}`);
  if (rule.text?.trim()) parts.push(`text “${rule.text.trim()}”`);
  const within = rule.subsetName ? ` within “${rule.subsetName}”` : rule.subsetId !== undefined ? ` within ${subsetName(rule.subsetId)}` : '';
  return `${parts.length ? parts.join(', ') : 'all rows'}${within} (Examples filter)`;
}

/** Why a subset's rule cannot be run again, for the Recreate button's title (the engine refuses the same cases). */
export function whyNotRecreatable(s: SubsetInfo, all: SubsetInfo[]): string | null {
  const rule = s.rule;
  if (rule.kind === 'ids') return `Hand-picked rows${rule.source ? ` (${rule.source})` : ''} have no rule to run again: delete the subset and pick the rows again.`;
  if (rule.kind === 'uds') return 'A UDS pass runs a model over every row: make it again as a new subset.';
  const sources = rule.kind === 'combine' ? rule.subsetIds : (rule.kind === 'kcenter' || rule.kind === 'filter') && rule.subsetId !== undefined ? [rule.subsetId] : [];
  const gone = sources.filter((id) => !all.some((x) => x.id === id));
  if (gone.length) return `Made from subset${gone.length > 1 ? 's' : ''} ${gone.map((id) => `#${id}`).join(', ')}, which no longer exist${gone.length > 1 ? '' : 's'}: it cannot be made again.`;
  return null;
}
