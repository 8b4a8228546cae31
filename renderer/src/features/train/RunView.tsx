/** One training run followed live: status, step, losses, tokens/s, ETA, the loss and learning-rate curves, its adapter. */
import { useEffect, useState } from 'react';
import type { Job, TrainMetric, TrainRunInfo } from '../../../../preload/contract';
import { useApp, useCall, useEngineEvent, useJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { JobActions, ProgressBar } from '../../components/JobProgress';
import { LineChart, type Series } from '../../components/LineChart';
import { fmtEta, fmtNum } from '../../components/format';
import { useRevealWhenFinished } from '../../components/reveal';
import { describeLora } from './lora';

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

/** The run's metrics: those stored when the view opened, then those pushed live, each (split, step) once, by step. */
function useRunMetrics(runId: number) {
  const fetched = useCall('train.metrics', { runId });
  const [live, setLive] = useState<TrainMetric[]>([]);
  useEngineEvent((event) => {
    if (event.type === 'train.metric' && event.runId === runId) setLive((prev) => [...prev, event.metric]);
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
  return { trainPts, evalPts, error: fetched.error };
}

/** The run's numbers now: step, the latest train and eval loss, tokens/s, ETA and learning rate. */
function RunStats({ job, status, step, total, lastTrain, lastEval }: {
  job: Job | undefined;
  status: string;
  step: number;
  total: number;
  lastTrain: TrainMetric | undefined;
  lastEval: TrainMetric | undefined;
}) {
  const tokensPerSec = typeof job?.stats.tokensPerSec === 'number' ? job.stats.tokensPerSec : lastTrain?.tokensPerSec;
  return (
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
        <span className="stat-value num">{fmtNum(lastEval?.loss ?? null)}</span>
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
  );
}

/** A LoRA run's adapter settings and, once it finished, its PEFT adapter folder and files. */
function AdapterSummary({ run }: { run: TrainRunInfo }) {
  if (!run.config.lora) return null;
  return (
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
  );
}

/** `revealJobId`: the job this screen started for the run; the card scrolls into view when it finishes. */
export function RunView({ run, compare, revealJobId }: { run: TrainRunInfo; compare: TrainRunInfo[]; revealJobId?: string | null }) {
  const compared = useCompared(compare);
  const card = useRevealWhenFinished(revealJobId);
  const { trainPts, evalPts, error } = useRunMetrics(run.id);
  const job = useJob(run.jobId);
  const lastTrain = trainPts[trainPts.length - 1];
  const status = job?.status ?? run.status;
  const step = job?.current ?? lastTrain?.step ?? run.step;
  const total = job?.total ?? run.totalSteps;

  return (
    <section className="card" ref={card} data-testid="train-run" data-run-id={run.id} data-status={status}>
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
      <RunStats job={job} status={status} step={step} total={total} lastTrain={lastTrain} lastEval={evalPts[evalPts.length - 1]} />
      <ErrorText error={job?.error ?? error} testId="train-run-error" />
      <LineChart
        testId="train-loss-chart"
        integerX
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
          integerX
          xLabel="step"
          yLabel="learning rate"
          height={120}
          series={[{ name: `learning rate (${run.config.schedule}, warmup ${run.config.warmupSteps})`, color: 'var(--series-2)', points: trainPts.map((m) => ({ x: m.step, y: m.lr })) }]}
        />
      )}
      <AdapterSummary run={run} />
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
