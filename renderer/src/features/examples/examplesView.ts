/**
 * What the user has set up on the Examples screen, and the changes the toolbar and the table make to it. Every change
 * to what the rows are (sort, filters, subset, search) goes back to the first row with nothing open.
 */
import type { FilterInputs, SortSpec } from './ExamplesTable';

/** What the user has set up on this screen; lives in the App so leaving and coming back keeps their place. */
export interface ExamplesView {
  subsetId: number | null;
  sort: SortSpec;
  filters: FilterInputs;
  text: string;
  selectedIndex: number;
  openExampleId: number | null;
  tokenSignal: string | null;
  /** the last change to the query was typing (search text, a range input, a brush still being dragged): wait for a pause */
  typing: boolean;
  /** the grouped duplicates column is shown (hidden at first: most rows are unique, and the filter above covers the common use) */
  showDuplicates: boolean;
}

export const initialExamplesView: ExamplesView = {
  subsetId: null,
  sort: null,
  filters: {},
  text: '',
  selectedIndex: 0,
  openExampleId: null,
  tokenSignal: null,
  typing: false,
  showDuplicates: false,
};

export type SetView = (update: (v: ExamplesView) => ExamplesView) => void;

export const resetPlace = { selectedIndex: 0, openExampleId: null };

export const DUP_COLUMNS = ['exact_dup', 'near_dup'];
type Range = { min: string; max: string };
/**
 * The engine's duplicate columns: exact_dup / near_dup_size = size of the row's group (1 = unique), *_rank = 0 for
 * the row kept from its group. "Hide" keeps one per group; "only" shows rows whose group has copies.
 */
const DUP_FILTERS: Record<string, { hide: [string, Range]; only: [string, Range] }> = {
  exact_dup: { hide: ['exact_dup_rank', { min: '', max: '0' }], only: ['exact_dup', { min: '2', max: '' }] },
  near_dup: { hide: ['near_dup_rank', { min: '', max: '0' }], only: ['near_dup_size', { min: '2', max: '' }] },
};
const DUP_FILTER_COLUMNS = Object.values(DUP_FILTERS).flatMap((d) => [d.hide[0], d.only[0]]);

/** The duplicates filter the view's filters amount to ("hide:exact_dup", "only:near_dup"), or '' for none. */
export function dupFilterValue(filters: FilterInputs, dupColumns: string[]): string {
  return (
    dupColumns
      .map((c) => {
        const { hide, only } = DUP_FILTERS[c]!;
        const h = filters[hide[0]];
        const o = filters[only[0]];
        if (h && h.max === hide[1].max && !h.min) return `hide:${c}`;
        if (o && o.min === only[1].min && !o.max) return `only:${c}`;
        return '';
      })
      .find((v) => v) ?? ''
  );
}

/** The view with the duplicates filter `value` (as dupFilterValue answers it) in place of any other. */
export function withDupFilter(v: ExamplesView, value: string): ExamplesView {
  const filters = { ...v.filters };
  for (const c of DUP_FILTER_COLUMNS) delete filters[c];
  const [mode, col] = value.split(':');
  const rule = col ? DUP_FILTERS[col] : undefined;
  if (rule && (mode === 'hide' || mode === 'only')) {
    const [column, range] = rule[mode];
    filters[column] = { ...range };
  }
  return { ...v, ...resetPlace, filters, typing: false };
}

/** The cluster filter: the `cluster` column (K-means on the Map screen) at one value ('' for all clusters). */
export function clusterFilterValue(filters: FilterInputs): string {
  const f = filters.cluster;
  return f && f.min !== '' && f.min === f.max ? f.min : '';
}

export function withCluster(v: ExamplesView, value: string): ExamplesView {
  const filters = { ...v.filters };
  if (value === '') delete filters.cluster;
  else filters.cluster = { min: value, max: value };
  return { ...v, ...resetPlace, filters, typing: false };
}

/** Both bounds of a column at once (the histogram brush; `live` while it is still being dragged). */
export function withRange(v: ExamplesView, column: string, min: string, max: string, live?: boolean): ExamplesView {
  const filters = { ...v.filters };
  if (min === '' && max === '') delete filters[column];
  else filters[column] = { min, max };
  return { ...v, ...resetPlace, filters, typing: live === true };
}

/** One bound of a column, as typed. */
export function withBound(v: ExamplesView, column: string, bound: 'min' | 'max', value: string): ExamplesView {
  const current = v.filters[column] ?? { min: '', max: '' };
  return { ...v, ...resetPlace, filters: { ...v.filters, [column]: { ...current, [bound]: value } }, typing: true };
}

/**
 * The score columns a range filter is set on (not the duplicate or cluster filters, which every row has a value for).
 * A row without a value in such a column never matches it, which the row count says.
 */
export function scoreFilterColumns(filters: FilterInputs): string[] {
  return Object.entries(filters)
    .filter(([c, r]) => c !== 'cluster' && !DUP_FILTER_COLUMNS.includes(c) && (r.min.trim() !== '' || r.max.trim() !== ''))
    .map(([c]) => c);
}
