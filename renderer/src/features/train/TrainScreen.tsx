/** Train: start a selective fine-tune, list runs, follow one live (loss curve, tokens/s, step, ETA, cancel/resume). */
import { useEffect, useState } from 'react';
import type { Series } from '../../components/LineChart';
import type { TrainMetric, TrainRunInfo } from '../../../../preload/contract';
import { useApp, useCall, useEngineEvent, useJob, useJobs } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { JobActions, ProgressBar } from '../../components/JobProgress';
import { LineChart } from '../../components/LineChart';
import { fmtEta, fmtNum } from '../../components/format';
import { TrainForm } from './TrainForm';
import { CurrentDataset } from '../../components/CurrentDataset';
import { rowsLabel } from '../../components/names';
import { describeLora } from './lora';
import { ItemActions } from '../../components/ItemActions';
import { EvalReport } from '../playground/EvalReport';

export function TrainScreen() {
  const { project } = useApp();
  const runs = useCall('train.list', {});
  const subsets = useCall('subsets.list', {});
  const jobs = useJobs();
  const [selected, setSelected] = useState<number | null>(null);
  const [compare, setCompare] = useState<number[]>([]);

  // refresh the run list when any training job changes state
  const trainStates = jobs
    .filter((j) => j.kind === 'train')
    .map((j) => `${j.jobId}:${j.status}`)
    .join(',');
  const { reload } = runs;
  useEffect(() => reload(), [trainStates, reload]);

  if (project && (!project.models.length || !project.datasets.length)) {
    return (
      <div className="screen" data-testid="screen-train">
        <h1>Train</h1>
        <EmptyState title={!project.models.length ? 'No model to train' : 'No dataset to train on'} testId="train-empty">
          Add {!project.models.length ? 'a model' : 'a dataset'} on the <a href="#/data">Data</a> screen first.
        </EmptyState>
      </div>
    );
  }

  const list = runs.data ?? [];
  const current = list.find((r) => r.id === selected) ?? list[0] ?? null;
  return (
    <div className="screen" data-testid="screen-train">
      <div className="toolbar">
        <h1>Train</h1>
        <CurrentDataset />
      </div>
      <TrainForm
        onStarted={(runId) => {
          setSelected(runId);
          reload();
        }}
      />
      <section className="card">
        <h2>Runs</h2>
        <ErrorText error={runs.error} />
        {list.length === 0 && runs.data && <EmptyState title="No runs yet">Start one above; its loss curve shows here live.</EmptyState>}
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
                  rows={rowsLabel({ subsetId: r.subsetId, datasetId: r.config.datasetId }, subsets.data, project?.datasets)}
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
      {current && <RunView key={current.id} run={current} compare={list.filter((r) => r.id !== current.id && compare.includes(r.id))} />}
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

const COMPARE_COLORS = ['var(--series-3)', 'var(--series-4)', 'var(--series-5)', 'var(--series-6)'];

/** Train-loss curves of other runs, fetched once per run id set (finished runs do not change). */
function useCompared(runs: TrainRunInfo[]): Series[] {
  const { client, epoch } = useApp();
  const [byRun, setByRun] = useState<Record<number, TrainMetric[]>>({});
  const key = runs.map((r) => `${r.id}:${r.status}`).join(',');
  useEffect(() => {
    let live = true;
    for (const r of runs) {
      void client.call('train.metrics', { runId: r.id }).then((res) => live && res.ok && setByRun((m) => ({ ...m, [r.id]: res.value })));
    }
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, epoch, key]);
  return runs.map((r, i) => ({
    name: `#${r.id} train${r.config.lora ? ' (LoRA)' : ''}`,
    color: COMPARE_COLORS[i % COMPARE_COLORS.length]!,
    points: (byRun[r.id] ?? []).filter((m) => m.split === 'train').sort((a, b) => a.step - b.step).map((m) => ({ x: m.step, y: m.loss })),
    dashed: true,
  }));
}

function RunView({ run, compare }: { run: TrainRunInfo; compare: TrainRunInfo[] }) {
  const compared = useCompared(compare);
  const fetched = useCall('train.metrics', { runId: run.id });
  const [live, setLive] = useState<TrainMetric[]>([]);
  const job = useJob(run.jobId);
  useEngineEvent((event) => {
    if (event.type === 'train.metric' && event.runId === run.id) setLive((prev) => [...prev, event.metric]);
  });
  // a fresh fetch already contains what arrived live before it
  useEffect(() => setLive([]), [fetched.data]);

  const seen = new Set<string>();
  const metrics: TrainMetric[] = [];
  for (const m of [...(fetched.data ?? []), ...live]) {
    const k = `${m.split}:${m.step}`;
    if (seen.has(k)) continue;
    seen.add(k);
    metrics.push(m);
  }
  const trainPts = metrics.filter((m) => m.split === 'train').sort((a, b) => a.step - b.step);
  const evalPts = metrics.filter((m) => m.split === 'eval').sort((a, b) => a.step - b.step);
  const lastTrain = trainPts[trainPts.length - 1];
  const tokensPerSec = typeof job?.stats.tokensPerSec === 'number' ? job.stats.tokensPerSec : lastTrain?.tokensPerSec;
  const status = job?.status ?? run.status;
  const step = job?.current ?? lastTrain?.step ?? run.step;
  const total = job?.total ?? run.totalSteps;

  return (
    <section className="card" data-testid="train-run" data-run-id={run.id} data-status={status}>
      <div className="row">
        <h2>Run #{run.id}</h2>
        <span className={`status-pill status-${status}`} data-testid="train-status">
          {status}
        </span>
        {status === 'cancelled' && job?.resumable && (
          <span className="muted" data-testid="train-paused">
            paused at a checkpoint — Resume continues from it
          </span>
        )}
        <span className="spacer" />
        {job && <JobActions job={job} />}
      </div>
      <ProgressBar current={step} total={total} status={status} />
      <div className="stat-row">
        <div className="stat">
          <span className="stat-label">Step</span>
          <span className="stat-value num" data-testid="train-step" data-step={step} data-total={total}>
            {fmtNum(step)} / {fmtNum(total)}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">Train loss</span>
          <span className="stat-value num" data-testid="train-loss">
            {fmtNum(lastTrain?.loss ?? null)}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">Eval loss</span>
          <span className="stat-value num">{fmtNum(evalPts[evalPts.length - 1]?.loss ?? null)}</span>
        </div>
        <div className="stat">
          <span className="stat-label">Tokens/s</span>
          <span className="stat-value num" data-testid="train-tokens-per-sec">
            {fmtNum(tokensPerSec ?? null, 3)}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">ETA</span>
          <span className="stat-value num">{status === 'running' ? fmtEta(job?.etaSeconds) : '—'}</span>
        </div>
        <div className="stat">
          <span className="stat-label">Learning rate</span>
          <span className="stat-value num">{fmtNum(lastTrain?.lr ?? null, 3)}</span>
        </div>
      </div>
      <ErrorText error={job?.error ?? fetched.error} testId="train-run-error" />
      <LineChart
        testId="train-loss-chart"
        xLabel="step"
        yLabel="loss"
        series={[
          { name: compared.length ? `#${run.id} train${run.config.lora ? ' (LoRA)' : ''}` : 'train', color: 'var(--series-1)', points: trainPts.map((m) => ({ x: m.step, y: m.loss })) },
          { name: compared.length ? `#${run.id} eval` : 'eval', color: 'var(--series-2)', points: evalPts.map((m) => ({ x: m.step, y: m.loss })), dots: true },
          ...compared,
        ]}
      />
      {trainPts.length > 1 && (
        <LineChart
          testId="train-lr-chart"
          xLabel="step"
          yLabel="learning rate"
          height={120}
          series={[{ name: `learning rate (${run.config.schedule}, warmup ${run.config.warmupSteps})`, color: 'var(--series-2)', points: trainPts.map((m) => ({ x: m.step, y: m.lr })) }]}
        />
      )}
      {run.config.lora && (
        <div className="lora-summary" data-testid="train-run-lora-settings">
          <span className="muted">Adapters</span> <span data-testid="train-run-lora-desc">{describeLora(run.config.lora)}</span>
          {run.adapter ? (
            <div data-testid="train-run-adapter" data-dir={run.adapter.dir}>
              <span className="muted">PEFT adapter folder</span> <code>{run.adapter.dir}</code>:{' '}
              {run.adapter.files.map((f, i) => (
                <span key={f}>
                  {i > 0 && ', '}
                  <code data-testid="train-run-adapter-file">{f}</code>
                </span>
              ))}
            </div>
          ) : (
            <div className="muted">The adapter folder is written when the run finishes.</div>
          )}
        </div>
      )}
      <div className="muted">
        layers <code>{run.config.layers}</code> · lr {run.config.lr} · {run.config.optimizer} · {run.config.schedule} · batch {run.config.batchSize}
        {run.outDir && (
          <>
            {' '}
            · {run.config.lora ? 'merged model' : 'output'} <code data-testid="train-out-dir">{run.outDir}</code>
          </>
        )}
      </div>
    </section>
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
