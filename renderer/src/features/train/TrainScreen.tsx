/** Train: start a selective fine-tune, list runs, follow one live (loss curve, tokens/s, step, ETA, cancel/resume). */
import { useEffect, useState } from 'react';
import type { TrainRunInfo } from '../../../../preload/contract';
import { useApp, useCall, useJob, useJobs } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { fmtNum } from '../../components/format';
import { TrainForm } from './TrainForm';
import { CurrentDataset } from '../../components/CurrentDataset';
import { rowsLabel } from '../../components/names';
import { describeLora } from './lora';
import { ItemActions } from '../../components/ItemActions';
import { EvalReport } from '../playground/EvalReport';
import { RunView } from './RunView';

export function TrainScreen() {
  const { project } = useApp();
  const runs = useCall('train.list', {});
  const subsets = useCall('subsets.list', {});
  const jobs = useJobs();
  const [selected, setSelected] = useState<number | null>(null);
  const [compare, setCompare] = useState<number[]>([]);
  // the job started from this screen: its run's card scrolls into view when it finishes
  const [startedJobId, setStartedJobId] = useState<string | null>(null);

  // refresh the run list when any training job changes state
  const trainStates = jobs
    .filter((j) => j.kind === 'train')
    .map((j) => `${j.jobId}:${j.status}`)
    .join(',');
  const { reload } = runs;
  useEffect(() => reload(), [trainStates, reload]);

  // with no model or dataset only the form has nothing to work on: the runs (kept when their dataset is deleted) stay
  const missing = project && !project.models.length ? 'model' : project && !project.datasets.length ? 'dataset' : null;
  const list = runs.data ?? [];
  const current = list.find((r) => r.id === selected) ?? list[0] ?? null;
  return (
    <div className="screen" data-testid="screen-train">
      <div className="toolbar">
        <h1>Train</h1>
        <CurrentDataset />
      </div>
      {missing ? (
        <EmptyState title={missing === 'model' ? 'No model to train' : 'No dataset to train on'} testId="train-empty">
          Add a {missing} on the <a href="#/data">Data</a> screen first.
        </EmptyState>
      ) : (
        <TrainForm
          onStarted={(runId, jobId) => {
            setSelected(runId);
            setStartedJobId(jobId);
            reload();
          }}
        />
      )}
      <section className="card">
        <h2>Runs</h2>
        <ErrorText error={runs.error} />
        {list.length === 0 && runs.data && (
          <EmptyState title="No runs yet">{missing ? 'A run and its loss curve show here.' : 'Start one above; its loss curve shows here live.'}</EmptyState>
        )}
        {list.length > 0 && (
          <table className="simple-table" data-testid="train-runs">
            <thead>
              <tr>
                <th className="narrow-col" title="Overlay this run's loss on the chart">Compare</th>
                <th>Run</th>
                <th>Status</th>
                <th className="num">Step</th>
                <th>Layers</th>
                <th>Rows</th>
                <th>Output</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <RunRow
                  key={r.id}
                  run={r}
                  rows={rowsLabel({ subsetId: r.subsetId ?? r.config.subsetId, datasetId: r.config.datasetId }, subsets.data, project?.datasets)}
                  selected={current?.id === r.id}
                  onSelect={() => setSelected(r.id)}
                  compared={compare.includes(r.id)}
                  onCompare={(on) => setCompare((c) => (on ? [...c.filter((x) => x !== r.id), r.id] : c.filter((x) => x !== r.id)))}
                  onDeleted={runs.reload}
                />
              ))}
            </tbody>
          </table>
        )}
      </section>
      {current && (
        <RunView
          key={current.id}
          run={current}
          compare={list.filter((r) => r.id !== current.id && compare.includes(r.id))}
          revealJobId={current.jobId === startedJobId ? startedJobId : null}
        />
      )}
      <RunsReport />
    </div>
  );
}

function RunRow({
  run,
  rows,
  selected,
  onSelect,
  compared,
  onCompare,
  onDeleted,
}: {
  run: TrainRunInfo;
  /** the rows it trained on, by name */
  rows: string;
  selected: boolean;
  onSelect: () => void;
  compared: boolean;
  onCompare: (on: boolean) => void;
  onDeleted: () => void;
}) {
  const job = useJob(run.jobId);
  const status = job?.status ?? run.status;
  return (
    <tr className={`clickable${selected ? ' selected' : ''}`} data-testid="train-run-row" data-run-id={run.id} data-status={status} onClick={onSelect}>
      <td onClick={(e) => e.stopPropagation()}>
        <input type="checkbox" data-testid="train-compare" checked={compared} aria-label={`compare run ${run.id}`} onChange={(e) => onCompare(e.target.checked)} />
      </td>
      <td>
        #{run.id}
        {run.label && <> {run.label}</>}
      </td>
      <td>
        <span className={`status-pill status-${status}`}>{status}</span>
      </td>
      <td className="num">
        {fmtNum(job?.current ?? run.step)} / {fmtNum(job?.total ?? run.totalSteps)}
      </td>
      <td>
        <code>{run.config.layers}</code>
        {run.config.lora && (
          <span className="muted" data-testid="train-run-lora">
            {' '}
            + {describeLora(run.config.lora)}
          </span>
        )}
        {run.config.paramMaskId !== undefined && (
          <span className="muted" data-testid="train-run-param-mask">
            {' '}
            + parameter mask #{run.config.paramMaskId}
          </span>
        )}
      </td>
      <td data-testid="train-run-rows">{rows}</td>
      <td className="path">{run.outDir ?? '—'}</td>
      <td onClick={(e) => e.stopPropagation()}>
        <ItemActions kind="train_run" id={run.id} name={run.label ?? ''} onChanged={onDeleted} />
      </td>
    </tr>
  );
}

/** The experiment report: the base and every run's task metrics on each held-out set (evaluated on the Playground). */
function RunsReport() {
  const evals = useCall('eval.list', {});
  const subsets = useCall('subsets.list', {});
  const jobs = useJobs();
  const states = jobs.filter((j) => j.kind === 'eval').map((j) => `${j.jobId}:${j.status}`).join(',');
  const { reload } = evals;
  useEffect(() => reload(), [states, reload]);
  return (
    <section className="card" data-testid="train-report">
      <h2>Experiment report: base against runs</h2>
      <ErrorText error={evals.error} />
      {evals.data && <EvalReport runs={evals.data} subsets={subsets.data} />}
    </section>
  );
}
