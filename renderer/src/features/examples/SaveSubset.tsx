/**
 * "Save as subset" on the Examples toolbar: the rows the table shows (its dataset, subset, column ranges — the
 * duplicates and cluster quick filters are ranges too — and search text) as a `filter` subset, which the engine
 * evaluates with the table's own query, so it holds exactly these rows.
 */
import { useState } from 'react';
import type { ApiError, SubsetInfo } from '../../../../preload/contract';
import { useApp } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { plural } from '../../components/format';
import type { RowsQuery } from './usePagedRows';

/** A name that says what the filter kept: "filtered: mean_loss 2.1–3.4, “carrot”" (at most 200 characters). */
export function defaultSubsetName(query: RowsQuery): string {
  const parts = (query.filters ?? []).map((f) => (f.min !== undefined && f.min === f.max ? `${f.column} ${f.min}` : `${f.column} ${f.min ?? '…'}–${f.max ?? '…'}`));
  if (query.text) parts.push(`“${query.text}”`);
  const name = parts.length ? `filtered: ${parts.join(', ')}` : 'all rows';
  return name.length > 200 ? `${name.slice(0, 199)}…` : name;
}

interface Props {
  /** the query the table's rows answer; null before a dataset is chosen */
  query: RowsQuery | null;
  /** the rows shown do not yet answer what the user asked (saving waits for them) */
  loading: boolean;
  total: number | null;
  onSaved: (subset: SubsetInfo) => void;
}

export function SaveSubset({ query, loading, total, onSaved }: Props) {
  const { client } = useApp();
  const [name, setName] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<SubsetInfo | null>(null);
  const [busy, setBusy] = useState(false);
  if (!query) return null;

  const save = async () => {
    if (name === null || !name.trim()) return;
    setBusy(true);
    const rule = { kind: 'filter' as const, filters: query.filters ?? [], ...(query.text ? { text: query.text } : {}), ...(query.subsetId !== undefined ? { subsetId: query.subsetId } : {}) };
    const r = await client.call('subsets.create', { name: name.trim(), rule, datasetId: query.datasetId });
    setBusy(false);
    setError(r.ok ? null : r.error);
    if (r.ok) {
      setSaved(r.value);
      setName(null);
      onSaved(r.value);
    }
  };

  if (name === null) {
    return (
      <span className="save-subset">
        <button
          className="btn btn-small"
          data-testid="examples-save-subset"
          disabled={loading || !total}
          title="Save the rows the table shows (dataset, subset, column filters, duplicates and cluster filters, search) as a subset"
          onClick={() => {
            setSaved(null);
            setError(null);
            setName(defaultSubsetName(query));
          }}
        >
          Save as subset
        </button>
        {saved && (
          <span className="muted" data-testid="examples-subset-saved" data-size={saved.size} data-name={saved.name}>
            saved “{saved.name}”: {plural(saved.size, 'row')}
          </span>
        )}
      </span>
    );
  }
  return (
    <span className="save-subset">
      <label className="field inline">
        <span>Subset name</span>
        <input data-testid="examples-subset-name" value={name} onChange={(e) => setName(e.target.value)} onKeyDown={(e) => e.key === 'Enter' && void save()} />
      </label>
      <button className="btn btn-small" data-testid="examples-subset-save" disabled={busy || loading || !name.trim()} onClick={() => void save()}>
        Save {total !== null ? plural(total, 'row') : ''}
      </button>
      <button className="btn btn-small btn-ghost" data-testid="examples-subset-cancel" onClick={() => setName(null)}>
        Cancel
      </button>
      <ErrorText error={error} testId="examples-subset-error" />
    </span>
  );
}
