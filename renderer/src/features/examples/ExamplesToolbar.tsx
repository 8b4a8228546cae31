/** The Examples screen's toolbar: which rows (subset), quick filters (duplicates, cluster), search and the row count. */
import type { ApiOutputs, SubsetInfo } from '../../../../preload/contract';
import { CurrentDataset } from '../../components/CurrentDataset';
import { fmtNum, plural } from '../../components/format';
import { StaleMark, staleTitle, subsetOptionText } from '../../components/StaleSubset';
import { DUP_COLUMNS, type ExamplesView, type SetView, clusterFilterValue, dupFilterValue, resetPlace, scoreFilterColumns, withCluster, withDupFilter } from './examplesView';
import { SaveSubset } from './SaveSubset';
import type { PagedRows, RowsQuery } from './usePagedRows';

interface Props {
  view: ExamplesView;
  setView: SetView;
  rows: PagedRows;
  /** the rows shown do not yet answer what the user asked */
  loading: boolean;
  subsets: SubsetInfo[] | null;
  clusters: ApiOutputs['clusters.info'] | null;
  /** the query the table's rows answer ("Save as subset" saves its rows) */
  query: RowsQuery | null;
  onSubsetSaved: (subset: SubsetInfo) => void;
}

export function ExamplesToolbar({ view, setView, rows, loading, subsets, clusters, query, onSubsetSaved }: Props) {
  const patch = (p: Partial<ExamplesView>) => setView((v) => ({ ...v, ...p }));
  const dupColumns = DUP_COLUMNS.filter((c) => rows.columns.includes(c));
  const scoreFilters = scoreFilterColumns(view.filters);
  return (
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
          {subsets?.map((s) => (
            <option key={s.id} value={s.id} title={s.staleReason ? staleTitle(s) : undefined}>
              {subsetOptionText(s)}
            </option>
          ))}
        </select>
        <StaleMark subset={subsets?.find((s) => s.id === view.subsetId)} testId="examples-subset-stale" />
      </label>
      {dupColumns.length > 0 && <DuplicateFilters view={view} setView={setView} dupColumns={dupColumns} />}
      {clusters && <ClusterFilter value={clusterFilterValue(view.filters)} sizes={clusters.sizes} onChange={(value) => setView((v) => withCluster(v, value))} />}
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
      <SaveSubset query={query} loading={loading} total={rows.total} onSaved={onSubsetSaved} />
      <span className="row-count num" data-testid="examples-count" data-total={rows.total ?? ''} data-loading={loading}>
        {rows.total === null ? 'loading…' : plural(rows.total, 'row')}
      </span>
      {scoreFilters.length > 0 && (
        <span
          className="muted"
          data-testid="examples-filter-note"
          title="A range filter matches only rows that have a value in that column: rows not scored for it are left out"
        >
          rows without {scoreFilters.join(' / ')} left out
        </span>
      )}
    </div>
  );
}

/** Hide duplicates (keep one per group) or show only them, and the grouped duplicates column. */
function DuplicateFilters({ view, setView, dupColumns }: { view: ExamplesView; setView: SetView; dupColumns: string[] }) {
  return (
    <>
      <label className="field inline">
        <span>Duplicates</span>
        <select data-testid="dup-filter" value={dupFilterValue(view.filters, dupColumns)} onChange={(e) => {
            const value = e.target.value;
            setView((v) => withDupFilter(v, value));
          }}>
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
      <label className="field inline" title="One column with each row's duplicate groups: their size, and whether “keep one per group” keeps or drops the row">
        <input
          type="checkbox"
          data-testid="show-duplicates"
          checked={view.showDuplicates}
          onChange={(e) => {
            const showDuplicates = e.target.checked;
            setView((v) => ({ ...v, showDuplicates }));
          }}
        />
        <span>duplicates column</span>
      </label>
    </>
  );
}

/** Rows of one cluster (K-means on the Map screen), with each cluster's size. */
function ClusterFilter({ value, sizes, onChange }: { value: string; sizes: number[]; onChange: (value: string) => void }) {
  return (
    <label className="field inline">
      <span>Cluster</span>
      <select data-testid="cluster-filter" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">all clusters</option>
        {sizes.map((size, c) => (
          <option key={c} value={String(c)}>
            cluster {c} ({fmtNum(size)})
          </option>
        ))}
      </select>
    </label>
  );
}
