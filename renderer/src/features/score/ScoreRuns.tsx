/** What a scoring start planned (its passes and their cost), and the project's score runs. */
import type { ScorePlan, ScoreRunInfo } from '../../../../preload/contract';
import { ItemActions } from '../../components/ItemActions';
import { fmtEta, fmtNum } from '../../components/format';

/**
 * A plan's time in words. The engine estimates from the speeds this project's scoring runs measured (project_meta,
 * scoring/plan.ts); before the first run there is none, and a bare "—" read as a fault.
 */
function estimateText(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? 'no time estimate yet' : `estimated ${fmtEta(seconds)}`;
}

export function ScorePlanCard({ plan }: { plan: ScorePlan }) {
  return (
    <section className="card" data-testid="score-plan">
      <h2>Plan</h2>
      <p className="muted">
        <span data-testid="score-plan-rows">{plan.rows}</span> · {fmtNum(plan.examples)} examples ·{' '}
        <span data-testid="score-plan-estimate" data-seconds={plan.estimatedSeconds ?? ''}>
          {estimateText(plan.estimatedSeconds)}
          {plan.estimatedSeconds === null && ': the first scoring run in this project measures the speed later plans are timed by'}
        </span>
      </p>
      <ol className="plan">
        {plan.passes.map((p, i) => (
          <li key={i} data-testid="score-pass">
            <strong>{p.kind.replace(/_/g, ' ')}</strong> pass with <code>{p.model}</code> → {p.signals.map((s) => <code key={s}>{s} </code>)}
            {p.examples !== undefined && (
              <span className="muted">
                {' '}
                · {fmtNum(p.examples)} examples · {estimateText(p.estimatedSeconds)}
              </span>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function ScoreRunsTable({ runs, onChanged }: { runs: ScoreRunInfo[]; onChanged: () => void }) {
  return (
    <section className="card">
      <h2>Score runs</h2>
      <table className="simple-table" data-testid="score-runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Status</th>
            <th>Model</th>
            <th>Dataset</th>
            <th>Rows</th>
            <th>Signals</th>
            <th className="num">Started</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-testid="score-run-row" data-run-id={r.id}>
              <td data-testid="score-run-name">
                #{r.id}
                {r.label && <> {r.label}</>}
              </td>
              <td>
                <span className={`status-pill status-${r.status}`}>{r.status}</span>
              </td>
              <td>{r.modelName ?? '(model removed)'}</td>
              <td>{r.datasetName ?? '(dataset removed)'}</td>
              <td data-testid="score-run-rows">{r.rowsText}</td>
              <td>
                {r.signals.map((s) => (
                  <code key={s}>{s} </code>
                ))}
              </td>
              <td className="num">{new Date(`${r.createdAt.replace(' ', 'T')}Z`).toLocaleString()}</td>
              <td>
                <ItemActions kind="score_run" id={r.id} name={r.label ?? ''} onChanged={onChanged} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
