/** Subsets: create one from a rule (top-k, top-k%, threshold, random), list them with size and rule, delete. */
import { useState } from 'react';
import type { ApiError, SubsetInfo, SubsetRule } from '../../../../preload/contract';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { fmtNum, parseOptionalNumber } from '../../components/format';

type RuleKind = 'top' | 'top_percent' | 'threshold' | 'random';

export function describeRule(rule: SubsetRule): string {
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
    case 'combine': {
      const names = rule.names ?? rule.subsetIds.map((id) => `#${id}`);
      const sym = rule.op === 'union' ? ' ∪ ' : rule.op === 'intersection' ? ' ∩ ' : ' − ';
      return names.join(sym);
    }
  }
}

export function SubsetsScreen() {
  const { client, datasetId } = useApp();
  const list = useCall('subsets.list', {});
  const columnsQuery = useCall('examples.query', datasetId === null ? null : { datasetId, limit: 1 });
  const columns = [...new Set([...(columnsQuery.data?.columns ?? []), 'n_chars'])];
  const [name, setName] = useState('');
  const [kind, setKind] = useState<RuleKind>('top');
  const [signal, setSignal] = useState('');
  const [amount, setAmount] = useState('100');
  const [dir, setDir] = useState<'desc' | 'asc'>('desc');
  const [min, setMin] = useState('');
  const [max, setMax] = useState('');
  const [seed, setSeed] = useState('0');
  const [error, setError] = useState<ApiError | null>(null);
  const [localError, setLocalError] = useState<string | null>(null);
  const [created, setCreated] = useState<SubsetInfo | null>(null);
  const column = signal || columns.find((c) => c === 'mean_loss') || columns[0] || '';

  const buildRule = (): SubsetRule | string => {
    const n = Number(amount);
    switch (kind) {
      case 'top':
        if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
        return { kind: 'top', signal: column, count: n, dir };
      case 'top_percent':
        if (!(n > 0 && n <= 100)) return 'Percent must be more than 0 and at most 100.';
        return { kind: 'top', signal: column, percent: n, dir };
      case 'threshold': {
        const lo = parseOptionalNumber(min);
        const hi = parseOptionalNumber(max);
        if (Number.isNaN(lo) || Number.isNaN(hi)) return 'Min and max must be numbers (or empty).';
        if (lo === undefined && hi === undefined) return 'Give a min, a max or both.';
        return { kind: 'threshold', signal: column, min: lo, max: hi };
      }
      case 'random': {
        const s = Number(seed);
        if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
        if (!Number.isInteger(s)) return 'Seed must be a whole number.';
        return { kind: 'random', count: n, seed: s };
      }
    }
  };

  const create = async () => {
    const rule = buildRule();
    if (typeof rule === 'string') {
      setLocalError(rule);
      return;
    }
    setLocalError(null);
    const r = await client.call('subsets.create', { name: name.trim(), rule, datasetId: datasetId ?? undefined });
    setError(r.ok ? null : r.error);
    if (r.ok) {
      setCreated(r.value);
      setName('');
      list.reload();
    }
  };

  const remove = async (subsetId: number) => {
    const r = await client.call('subsets.delete', { subsetId });
    setError(r.ok ? null : r.error);
    list.reload();
  };

  return (
    <div className="screen" data-testid="screen-subsets">
      <h1>Subsets</h1>
      <section className="card">
        <h2>New subset</h2>
        <div className="form-row">
          <label className="field grow">
            <span>Name</span>
            <input data-testid="subset-name" value={name} placeholder="hardest-500" onChange={(e) => setName(e.target.value)} />
          </label>
          <label className="field">
            <span>Rule</span>
            <select data-testid="subset-kind" value={kind} onChange={(e) => setKind(e.target.value as RuleKind)}>
              <option value="top">Top k by a column</option>
              <option value="top_percent">Top k% by a column</option>
              <option value="threshold">Threshold on a column</option>
              <option value="random">Random sample</option>
            </select>
          </label>
          {kind !== 'random' && (
            <label className="field">
              <span>Column</span>
              <select data-testid="subset-column" value={column} onChange={(e) => setSignal(e.target.value)}>
                {columns.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
          )}
          {kind !== 'threshold' && (
            <label className="field narrow">
              <span>{kind === 'top_percent' ? 'Percent' : 'Count'}</span>
              <input data-testid="subset-amount" inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
            </label>
          )}
          {(kind === 'top' || kind === 'top_percent') && (
            <label className="field">
              <span>Keep</span>
              <select data-testid="subset-dir" value={dir} onChange={(e) => setDir(e.target.value as 'desc' | 'asc')}>
                <option value="desc">highest</option>
                <option value="asc">lowest</option>
              </select>
            </label>
          )}
          {kind === 'threshold' && (
            <>
              <label className="field narrow">
                <span>Min</span>
                <input data-testid="subset-min" inputMode="decimal" value={min} onChange={(e) => setMin(e.target.value)} />
              </label>
              <label className="field narrow">
                <span>Max</span>
                <input data-testid="subset-max" inputMode="decimal" value={max} onChange={(e) => setMax(e.target.value)} />
              </label>
            </>
          )}
          {kind === 'random' && (
            <label className="field narrow">
              <span>Seed</span>
              <input data-testid="subset-seed" inputMode="numeric" value={seed} onChange={(e) => setSeed(e.target.value)} />
            </label>
          )}
          <button className="btn btn-primary" data-testid="subset-create" disabled={!name.trim()} onClick={() => void create()}>
            Create
          </button>
        </div>
        {localError && (
          <div className="error-text" role="alert" data-testid="subset-form-error">
            {localError}
          </div>
        )}
        <ErrorText error={error} testId="subset-error" />
        {created && (
          <div className="ok-text" data-testid="subset-created" data-size={created.size}>
            Created “{created.name}” with {fmtNum(created.size)} rows.
          </div>
        )}
      </section>
      <section className="card">
        <h2>Subsets</h2>
        <ErrorText error={list.error} />
        {list.data && list.data.length === 0 && (
          <EmptyState title="No subsets yet" testId="subsets-empty">
            Score the dataset, then keep the rows you want with a rule above — e.g. the 500 with the highest mean_loss.
          </EmptyState>
        )}
        {list.data && list.data.length > 0 && (
          <table className="simple-table" data-testid="subsets-table">
            <thead>
              <tr>
                <th>Name</th>
                <th className="num">Rows</th>
                <th>Rule</th>
                <th className="num">Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((s) => (
                <tr key={s.id} data-testid="subset-row" data-subset-id={s.id} data-name={s.name}>
                  <td>{s.name}</td>
                  <td className="num" data-testid="subset-size">
                    {fmtNum(s.size)}
                  </td>
                  <td>{describeRule(s.rule)}</td>
                  <td className="num">{new Date(s.createdAt).toLocaleString()}</td>
                  <td>
                    <button className="btn btn-small btn-danger" data-testid="subset-delete" onClick={() => void remove(s.id)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
