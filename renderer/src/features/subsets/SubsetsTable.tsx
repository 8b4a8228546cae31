/**
 * The Subsets screen's list: every subset with its size and rule, a pick box for Combine, Recreate for a stale one,
 * and the Combine form over the picked subsets (in the order they were picked).
 */
import { useState } from 'react';
import type { ApiError, SubsetInfo } from '../../../../preload/contract';
import { useApp } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { SelectField, TextField } from '../../components/Field';
import { ItemActions } from '../../components/ItemActions';
import { STALE_ADVICE, StaleMark } from '../../components/StaleSubset';
import { fmtNum } from '../../components/format';
import { describeRule, whyNotRecreatable } from './rules';

const COMBINE_OPS = [
  ['union', 'union (in any)'],
  ['intersection', 'intersection (in all)'],
  ['difference', 'difference (first minus the others)'],
] as const;
type CombineOp = (typeof COMBINE_OPS)[number][0];

/**
 * The table of subsets (nothing while there are none). It stays mounted so a Recreate in flight and its errors
 * outlive the list going empty.
 */
export function SubsetsTable({ subsets, picked, setPicked, onChanged, onDeleted }: {
  subsets: SubsetInfo[] | null;
  /** the picked subsets that still exist, in the order picked */
  picked: number[];
  setPicked: (update: (picked: number[]) => number[]) => void;
  onChanged: () => void;
  onDeleted: (subset: SubsetInfo) => void;
}) {
  const { client } = useApp();
  const [recreateErrors, setRecreateErrors] = useState<Record<number, ApiError>>({});
  const [recreating, setRecreating] = useState<number | null>(null);
  // the stored rule again, in place (same id and name); on failure the old subset stays and the error shows in its row
  const recreate = async (subset: SubsetInfo) => {
    setRecreating(subset.id);
    const r = await client.call('subsets.recreate', { subsetId: subset.id });
    setRecreating(null);
    setRecreateErrors(({ [subset.id]: _, ...rest }) => (r.ok ? rest : { ...rest, [subset.id]: r.error }));
    onChanged();
  };
  if (!subsets || subsets.length === 0) return null;
  const subsetNames = new Map(subsets.map((s) => [s.id, s.name]));
  return (
    <table className="simple-table" data-testid="subsets-table">
      <thead>
        <tr>
          <th title="Pick subsets to combine">Pick</th>
          <th>Name</th>
          <th className="num">Rows</th>
          <th>Rule</th>
          <th className="num">Created</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {subsets.map((s) => (
          <tr key={s.id} data-testid="subset-row" data-subset-id={s.id} data-name={s.name} data-stale={s.staleReason ? 'true' : 'false'} className={picked.includes(s.id) ? 'selected' : ''}>
            <td>
              <label className="check pick">
                <input
                  type="checkbox"
                  data-testid="subset-pick"
                  checked={picked.includes(s.id)}
                  onChange={(e) => setPicked((p) => (e.target.checked ? [...p.filter((x) => x !== s.id), s.id] : p.filter((x) => x !== s.id)))}
                />
                {picked.includes(s.id) && <span className="pick-order num">{picked.indexOf(s.id) + 1}</span>}
              </label>
            </td>
            <td>
              {s.name}
              <StaleMark subset={s} testId="subset-stale" />
              {s.staleReason && (
                <div className="stale-reason" data-testid="subset-stale-reason">
                  {s.staleReason}. {STALE_ADVICE}
                </div>
              )}
              <ErrorText error={recreateErrors[s.id] ?? null} testId="subset-recreate-error" />
            </td>
            <td className="num" data-testid="subset-size">
              {fmtNum(s.size)}
            </td>
            <td>{describeRule(s.rule, subsetNames)}</td>
            <td className="num">{new Date(s.createdAt).toLocaleString()}</td>
            <td>
              {s.staleReason && (() => {
                const why = whyNotRecreatable(s, subsets);
                return (
                  <button
                    className="btn btn-small"
                    data-testid="subset-recreate"
                    disabled={why !== null || recreating !== null}
                    title={why ?? `Run the rule again (${describeRule(s.rule, subsetNames)}) on the dataset as it is now and put the rows in place of these, under the same name. Not undoable.`}
                    onClick={() => void recreate(s)}
                  >
                    {recreating === s.id ? 'Recreating…' : 'Recreate'}
                  </button>
                );
              })()}{' '}
              <ItemActions kind="subset" id={s.id} name={s.name} onChanged={onChanged} onDeleted={() => onDeleted(s)} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * Combine the picked subsets into a new one (nothing while there are no subsets; it stays mounted so what was typed
 * outlives the list going empty).
 */
export function CombinePanel({ subsets, picked, onCombined }: {
  subsets: SubsetInfo[] | null;
  /** the picked subsets that still exist, in the order picked */
  picked: number[];
  onCombined: (subset: SubsetInfo) => void;
}) {
  const { client } = useApp();
  const [combineName, setCombineName] = useState('');
  const [combineOp, setCombineOp] = useState<CombineOp>('union');
  const [combineError, setCombineError] = useState<ApiError | null>(null);
  const combine = async () => {
    const r = await client.call('subsets.combine', { name: combineName.trim(), op: combineOp, subsetIds: picked });
    setCombineError(r.ok ? null : r.error);
    if (r.ok) {
      setCombineName('');
      onCombined(r.value);
    }
  };
  if (!subsets || subsets.length === 0) return null;
  const nameOf = (id: number) => subsets.find((s) => s.id === id)?.name ?? `#${id}`;
  const sym = combineOp === 'union' ? ' ∪ ' : combineOp === 'intersection' ? ' ∩ ' : ' − ';
  return (
    <div className="combine" data-testid="combine">
      <h3>Combine</h3>
      <div className="form-row">
        <SelectField label="Operation" testId="combine-op" value={combineOp} onChange={setCombineOp} options={COMBINE_OPS} />
        <TextField label="Name" testId="combine-name" width="grow" value={combineName} placeholder="hard-and-long" onChange={setCombineName} />
        <button className="btn btn-primary" data-testid="combine-create" disabled={picked.length < 2 || !combineName.trim()} onClick={() => void combine()}>
          Combine
        </button>
      </div>
      <p className="muted hint" data-testid="combine-preview">
        {picked.length < 2 ? 'Pick two or more subsets in the table (the order you pick them in matters for difference).' : picked.map(nameOf).join(sym)}
      </p>
      <ErrorText error={combineError} testId="combine-error" />
    </div>
  );
}
