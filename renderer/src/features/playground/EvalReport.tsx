/**
 * The experiment report's task metrics: for each held-out set, the latest finished evaluation of the base and of
 * every train run, as a table (exact match, accuracy, loss, perplexity, rows) and one bar chart per metric with a bar
 * per model. Shown on the Playground and under the Train screen's runs.
 */
import type { EvalRunInfo, SubsetInfo } from '../../../../preload/contract';
import { fmtNum } from '../../components/format';

export const METRIC_NAMES = {
  exact_match: 'Exact match',
  accuracy: 'Accuracy',
  loss: 'Loss',
  perplexity: 'Perplexity',
} as const;
type MetricKey = keyof typeof METRIC_NAMES;

/** what an evaluation ran on, as a key and as words */
export function heldOutKey(r: Pick<EvalRunInfo, 'subsetId' | 'dataPath' | 'params'>): string {
  return `${r.subsetId ?? ''}|${r.dataPath ?? ''}|${r.params.limit ?? ''}`;
}

export function heldOutLabel(r: Pick<EvalRunInfo, 'subsetId' | 'dataPath' | 'params'>, subsets: SubsetInfo[] | null): string {
  const src = r.subsetId !== null
    ? `subset “${subsets?.find((s) => s.id === r.subsetId)?.name ?? `#${r.subsetId}`}”`
    : `file ${r.dataPath!.split(/[\\/]/).pop()}`;
  return r.params.limit ? `${src}, first ${r.params.limit} rows` : src;
}

export function modelLabel(r: Pick<EvalRunInfo, 'trainRunId' | 'adapter'>): string {
  if (r.trainRunId === null) return 'Base';
  return `Run #${r.trainRunId}${r.adapter ? ' (base + adapter)' : ''}`;
}

/** the latest finished eval run per model (base, each run, merged or adapter) of each held-out set, base first */
export function latestPerModel(runs: EvalRunInfo[]): Map<string, EvalRunInfo[]> {
  const bySet = new Map<string, Map<string, EvalRunInfo>>();
  for (const r of runs) {
    if (r.kind !== 'eval' || r.status !== 'done' || !r.metrics) continue;
    const set = bySet.get(heldOutKey(r)) ?? new Map<string, EvalRunInfo>();
    const m = modelLabel(r);
    if (!set.has(m) || set.get(m)!.id < r.id) set.set(m, r);
    bySet.set(heldOutKey(r), set);
  }
  const out = new Map<string, EvalRunInfo[]>();
  for (const [k, set] of bySet) {
    out.set(k, [...set.values()].sort((a, b) => (a.trainRunId ?? 0) - (b.trainRunId ?? 0) || Number(a.adapter) - Number(b.adapter)));
  }
  return out;
}

function MetricBars({ metric, runs }: { metric: MetricKey; runs: EvalRunInfo[] }) {
  const values = runs.map((r) => r.metrics?.[metric] ?? null);
  if (values.every((v) => v === null)) return null;
  const share = metric === 'exact_match' || metric === 'accuracy';
  const max = share ? 1 : Math.max(...values.map((v) => v ?? 0)) || 1;
  const W = 240;
  const rowH = 22;
  const labelW = 150;
  return (
    <figure className="metric-bars" data-testid="eval-bars" data-metric={metric}>
      <figcaption>
        {METRIC_NAMES[metric]}
        {share ? ' (share of rows, higher is better)' : ' (lower is better)'}
      </figcaption>
      <svg width={labelW + W + 70} height={rowH * runs.length + 4} role="img" aria-label={`${METRIC_NAMES[metric]} per model`}>
        {runs.map((r, i) => {
          const v = values[i];
          const w = v === null ? 0 : Math.max(1, (W * v) / max);
          return (
            <g key={r.id} transform={`translate(0, ${i * rowH + 2})`} data-testid="eval-bar" data-model={modelLabel(r)} data-value={v ?? ''}>
              <text x={labelW - 6} y={rowH / 2 + 4} textAnchor="end" className="bar-label">
                {modelLabel(r)}
              </text>
              <rect x={labelW} y={3} width={w} height={rowH - 8} fill={r.trainRunId === null ? 'var(--series-2)' : 'var(--series-1)'} rx={2} />
              <text x={labelW + w + 6} y={rowH / 2 + 4} className="bar-value">
                {v === null ? '—' : share ? `${(100 * v).toFixed(1)}%` : fmtNum(v)}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/** One held-out set's metrics: the table, then a bar chart per metric that has a value. */
export function EvalSetReport({ runs, label }: { runs: EvalRunInfo[]; label: string }) {
  const shown = (Object.keys(METRIC_NAMES) as MetricKey[]).filter((k) => runs.some((r) => r.metrics?.[k] !== null && r.metrics?.[k] !== undefined));
  return (
    <div className="eval-set" data-testid="eval-report-set">
      <h3>{label}</h3>
      <table className="simple-table" data-testid="eval-report-table">
        <thead>
          <tr>
            <th>Model</th>
            {shown.map((k) => (
              <th key={k} className="num">
                {METRIC_NAMES[k]}
              </th>
            ))}
            <th className="num" title="held-out rows evaluated (answer tokens the loss is over)">
              Rows (tokens)
            </th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-testid="eval-report-row" data-model={modelLabel(r)} data-eval-run={r.id}>
              <td>{modelLabel(r)}</td>
              {shown.map((k) => {
                const v = r.metrics?.[k] ?? null;
                return (
                  <td key={k} className="num" data-metric={k} data-value={v ?? ''}>
                    {v === null ? '—' : k === 'exact_match' || k === 'accuracy' ? `${(100 * v).toFixed(1)}%` : fmtNum(v)}
                  </td>
                );
              })}
              <td className="num">
                {r.metrics?.n ?? 0} ({r.metrics?.tokens ?? 0})
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="metric-bars-row">
        {shown.map((k) => (
          <MetricBars key={k} metric={k} runs={runs} />
        ))}
      </div>
    </div>
  );
}

export function EvalReport({ runs, subsets, only, empty }: { runs: EvalRunInfo[]; subsets: SubsetInfo[] | null; only?: string; empty?: string }) {
  const sets = [...latestPerModel(runs)].filter(([k]) => only === undefined || k === only);
  if (!sets.length) {
    return (
      <p className="muted" data-testid="eval-report-empty">
        {empty ?? (
          <>
            No evaluation yet — evaluate the base and your runs on held-out rows on the <a href="#/playground">Playground</a>.
          </>
        )}
      </p>
    );
  }
  return (
    <div className="eval-report" data-testid="eval-report">
      {sets.map(([k, rs]) => (
        <EvalSetReport key={k} runs={rs} label={`Held out: ${heldOutLabel(rs[0]!, subsets)}`} />
      ))}
    </div>
  );
}
