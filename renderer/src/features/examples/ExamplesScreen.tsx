/** Examples: the paged, sortable, filterable table of a dataset (or a subset of it) and the detail of one example. */
import { useEffect, useMemo, useState } from 'react';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { ExampleDetailPanel } from './ExampleDetail';
import { ExamplesTable } from './ExamplesTable';
import { ExamplesToolbar } from './ExamplesToolbar';
import { type ExamplesView, type SetView, resetPlace, withBound, withRange } from './examplesView';
import { type RowsQuery, usePagedRows } from './usePagedRows';

// what the user set up on the screen lives in the App (so leaving and coming back keeps their place)
export { type ExamplesView, initialExamplesView } from './examplesView';

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

/**
 * The rows the view asks for, a page at a time, and what the toolbar lists (subsets; clusters once the rows have a
 * `cluster` column). `loading`: what the table shows does not yet answer what the user asked (the debounce is not
 * over, or the first page is not in).
 */
function useExamplesData(datasetId: number | null, view: ExamplesView) {
  const subsets = useCall('subsets.list', {});
  const queryNow = useMemo(() => (datasetId === null ? null : toQuery(datasetId, view)), [datasetId, view]);
  const query = useQueryDebounce(queryNow, 250, view.typing);
  const rows = usePagedRows(query);
  const loading = !rows.ready || JSON.stringify(queryNow) !== JSON.stringify(query);
  const clusters = useCall('clusters.info', datasetId === null || !rows.columns.includes('cluster') ? null : { datasetId });
  return { subsets: subsets.data, reloadSubsets: subsets.reload, query, rows, loading, clusters: clusters.data };
}

export function ExamplesScreen({ view, setView }: { view: ExamplesView; setView: SetView }) {
  const { project, datasetId } = useApp();
  const { subsets, reloadSubsets, query, rows, loading, clusters } = useExamplesData(datasetId, view);
  const patch = (p: Partial<ExamplesView>) => setView((v) => ({ ...v, ...p }));

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
      <ExamplesToolbar view={view} setView={setView} rows={rows} loading={loading} subsets={subsets} clusters={clusters} query={query} onSubsetSaved={reloadSubsets} />
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
            onRange={(column, min, max, live) => setView((v) => withRange(v, column, min, max, live))}
            onFilter={(column, bound, value) => setView((v) => withBound(v, column, bound, value))}
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
