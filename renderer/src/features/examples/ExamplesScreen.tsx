/** Examples: the paged, sortable, filterable table of a dataset (or a subset of it) and the detail of one example. */
import { useEffect, useMemo, useState } from 'react';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { fmtNum, plural } from '../../components/format';
import { StaleMark, staleTitle, subsetOptionText } from '../../components/StaleSubset';
import { ExampleDetailPanel } from './ExampleDetail';
import { ExamplesTable, type FilterInputs, type SortSpec } from './ExamplesTable';
import { type RowsQuery, usePagedRows } from './usePagedRows';
import { CurrentDataset } from '../../components/CurrentDataset';

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

const DUP_COLUMNS = ['exact_dup', 'near_dup'];
/**
 * The engine's duplicate columns: exact_dup / near_dup_size = size of the row's group (1 = unique), *_rank = 0 for
 * the row kept from its group. "Hide" keeps one per group; "only" shows rows whose group has copies.
 */
const DUP_FILTERS: Record<string, { hide: [string, { min: string; max: string }]; only: [string, { min: string; max: string }] }> = {
  exact_dup: { hide: ['exact_dup_rank', { min: '', max: '0' }], only: ['exact_dup', { min: '2', max: '' }] },
  near_dup: { hide: ['near_dup_rank', { min: '', max: '0' }], only: ['near_dup_size', { min: '2', max: '' }] },
};
const DUP_FILTER_COLUMNS = Object.values(DUP_FILTERS).flatMap((d) => [d.hide[0], d.only[0]]);

/**
 * Typing (search text, range inputs, a brush being dragged) waits `ms` for the user to pause; a click — sort, dataset,
 * subset, a quick filter (duplicates, cluster), a brush click or the end of a drag — applies at once: the table must
 * answer a click within a frame or two, not after a debounce.
 */
function useQueryDebounce(value: RowsQuery | null, ms: number, typing: boolean): RowsQuery | null {
  const [debounced, setDebounced] = useState(value);
  const typed = (q: RowsQuery | null) => (q ? JSON.stringify({ text: q.text ?? '', filters: q.filters }) : '');
  const clicked = (q: RowsQuery | null) => (q ? JSON.stringify({ ...q, text: undefined, filters: undefined }) : '');
  const immediate = !typing || (clicked(value) !== clicked(debounced) && typed(value) === typed(debounced));
  useEffect(() => {
    if (immediate) {
      setDebounced(value);
      return;
    }
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms, immediate]);
  return immediate ? value : debounced;
}

function toQuery(datasetId: number, view: ExamplesView): RowsQuery {
  const filters: RowsQuery['filters'] = [];
  for (const [column, f] of Object.entries(view.filters)) {
    const min = f.min.trim() === '' ? undefined : Number(f.min);
    const max = f.max.trim() === '' ? undefined : Number(f.max);
    const ok = (v: number | undefined) => v === undefined || Number.isFinite(v);
    if ((min !== undefined || max !== undefined) && ok(min) && ok(max)) filters.push({ column, min, max });
  }
  return {
    datasetId,
    subsetId: view.subsetId ?? undefined,
    sort: view.sort ?? undefined,
    filters,
    text: view.text.trim() || undefined,
  };
}

export function ExamplesScreen({ view, setView }: { view: ExamplesView; setView: (update: (v: ExamplesView) => ExamplesView) => void }) {
  const { project, datasetId } = useApp();
  const subsets = useCall('subsets.list', {});

  const queryNow = useMemo(() => (datasetId === null ? null : toQuery(datasetId, view)), [datasetId, view]);
  const query = useQueryDebounce(queryNow, 250, view.typing);
  const rows = usePagedRows(query);
  // settled: what the table shows answers what the user asked (debounce over and first page in)
  const loading = !rows.ready || JSON.stringify(queryNow) !== JSON.stringify(query);
  const dupColumns = DUP_COLUMNS.filter((c) => rows.columns.includes(c));
  // the cluster filter: the `cluster` column (K-means on the Map screen) at one value
  const clusters = useCall('clusters.info', datasetId === null || !rows.columns.includes('cluster') ? null : { datasetId });
  const clusterFilter = view.filters.cluster;
  const clusterValue = clusterFilter && clusterFilter.min !== '' && clusterFilter.min === clusterFilter.max ? clusterFilter.min : '';
  const dupValue =
    dupColumns
      .map((c) => {
        const { hide, only } = DUP_FILTERS[c]!;
        const h = view.filters[hide[0]];
        const o = view.filters[only[0]];
        if (h && h.max === hide[1].max && !h.min) return `hide:${c}`;
        if (o && o.min === only[1].min && !o.max) return `only:${c}`;
        return '';
      })
      .find((v) => v) ?? '';
  const patch = (p: Partial<ExamplesView>) => setView((v) => ({ ...v, ...p }));
  const resetPlace = { selectedIndex: 0, openExampleId: null };

  if (project && project.datasets.length === 0) {
    return (
      <div className="screen" data-testid="screen-examples">
        <h1>Examples</h1>
        <EmptyState title="No dataset to show" testId="examples-empty">
          Import a dataset on the <a href="#/data">Data</a> screen first.
        </EmptyState>
      </div>
    );
  }

  const open = (index: number) => {
    const row = rows.rowAt(index);
    if (row) patch({ selectedIndex: index, openExampleId: row.id });
  };

  return (
    <div className={`screen screen-examples${view.openExampleId ? ' with-detail' : ''}`} data-testid="screen-examples">
      <div className="toolbar">
        <h1>Examples</h1>
        <CurrentDataset />
        <label className="field inline">
          <span>Rows</span>
          <select
            data-testid="examples-subset"
            value={view.subsetId ?? ''}
            onChange={(e) => patch({ subsetId: e.target.value ? Number(e.target.value) : null, ...resetPlace, typing: false })}
          >
            <option value="">All rows</option>
            {subsets.data?.map((s) => (
              <option key={s.id} value={s.id} title={s.staleReason ? staleTitle(s) : undefined}>
                {subsetOptionText(s)}
              </option>
            ))}
          </select>
          <StaleMark subset={subsets.data?.find((s) => s.id === view.subsetId)} testId="examples-subset-stale" />
        </label>
        {dupColumns.length > 0 && (
          <label className="field inline">
            <span>Duplicates</span>
            <select
              data-testid="dup-filter"
              value={dupValue}
              onChange={(e) =>
                setView((v) => {
                  const filters = { ...v.filters };
                  for (const c of DUP_FILTER_COLUMNS) delete filters[c];
                  const [mode, col] = e.target.value.split(':');
                  const rule = col ? DUP_FILTERS[col] : undefined;
                  if (rule && (mode === 'hide' || mode === 'only')) {
                    const [column, range] = rule[mode];
                    filters[column] = { ...range };
                  }
                  return { ...v, ...resetPlace, filters, typing: false };
                })
              }
            >
              <option value="">show all</option>
              {dupColumns.map((c) => [
                <option key={`hide:${c}`} value={`hide:${c}`}>
                  hide {c === 'exact_dup' ? 'exact' : 'near'} duplicates (keep one per group)
                </option>,
                <option key={`only:${c}`} value={`only:${c}`}>
                  {c === 'exact_dup' ? 'exact' : 'near'} duplicates only
                </option>,
              ])}
            </select>
          </label>
        )}
        {dupColumns.length > 0 && (
          <label className="field inline" title="One column with each row's duplicate groups: their size, and whether “keep one per group” keeps or drops the row">
            <input type="checkbox" data-testid="show-duplicates" checked={view.showDuplicates} onChange={(e) => patch({ showDuplicates: e.target.checked })} />
            <span>duplicates column</span>
          </label>
        )}
        {clusters.data && (
          <label className="field inline">
            <span>Cluster</span>
            <select
              data-testid="cluster-filter"
              value={clusterValue}
              onChange={(e) =>
                setView((v) => {
                  const filters = { ...v.filters };
                  if (e.target.value === '') delete filters.cluster;
                  else filters.cluster = { min: e.target.value, max: e.target.value };
                  return { ...v, ...resetPlace, filters, typing: false };
                })
              }
            >
              <option value="">all clusters</option>
              {clusters.data.sizes.map((size, c) => (
                <option key={c} value={String(c)}>
                  cluster {c} ({fmtNum(size)})
                </option>
              ))}
            </select>
          </label>
        )}
        <input
          className="search"
          type="search"
          data-testid="examples-search"
          placeholder="Search text…"
          value={view.text}
          onChange={(e) => patch({ text: e.target.value, ...resetPlace, typing: true })}
        />
        {view.text.trim() && rows.textPending > 0 && (
          <span className="muted" data-testid="examples-indexing" title="The search index is built after an import; these rows are not searched yet">
            indexing… {plural(rows.textPending, 'row')} not searchable yet
          </span>
        )}
        <span className="spacer" />
        <span className="row-count num" data-testid="examples-count" data-total={rows.total ?? ''} data-loading={loading}>
          {rows.total === null ? 'loading…' : plural(rows.total, 'row')}
        </span>
      </div>
      <ErrorText error={rows.error} testId="examples-error" />
      <div className="examples-body">
        <div className="examples-table-wrap">
          {rows.total === 0 ? (
            <EmptyState title="No rows match" testId="examples-none">
              {view.text || Object.keys(view.filters).length || view.subsetId
                ? 'Clear the search, the filters or the subset to see more rows.'
                : 'This dataset has no rows.'}
            </EmptyState>
          ) : null}
          <ExamplesTable
            rows={rows}
            loading={loading}
            sort={view.sort}
            onSort={(sort) => patch({ sort, ...resetPlace, typing: false })}
            filters={view.filters}
            query={query}
            projectPath={project?.path ?? null}
            onRange={(column, min, max, live) =>
              setView((v) => {
                const filters = { ...v.filters };
                if (min === '' && max === '') delete filters[column];
                else filters[column] = { min, max };
                return { ...v, ...resetPlace, filters, typing: live === true };
              })
            }
            onFilter={(column, bound, value) =>
              setView((v) => {
                const current = v.filters[column] ?? { min: '', max: '' };
                return { ...v, ...resetPlace, filters: { ...v.filters, [column]: { ...current, [bound]: value } }, typing: true };
              })
            }
            selectedIndex={view.selectedIndex}
            onSelect={(selectedIndex) => patch({ selectedIndex })}
            onOpen={open}
            showDuplicates={view.showDuplicates}
          />
        </div>
        {view.openExampleId !== null && (
          <ExampleDetailPanel
            exampleId={view.openExampleId}
            tokenSignal={view.tokenSignal}
            onTokenSignal={(tokenSignal) => patch({ tokenSignal })}
            onClose={() => patch({ openExampleId: null })}
            onMaskSaved={rows.refresh}
          />
        )}
      </div>
    </div>
  );
}
