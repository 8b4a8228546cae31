/** Score: pick a model and signals (with the options the chosen ones need), see the planned passes, follow the job. */
import { useState } from 'react';
import type { ScorePlan } from '../../../../preload/contract';
import { useApp, useCall, useJobs, useOnJobDone, useStartJob } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { JobProgress } from '../../components/JobProgress';
import { SCORE_SCREEN_SIGNALS } from '../../components/signals';
import { CurrentDataset } from '../../components/CurrentDataset';
import { useRevealWhenFinished } from '../../components/reveal';
import { initialScoreForm, rowsReady, type ScoreForm, scoreInput, signalNeeds } from './scoreForm';
import { ScoreSettings, ScoreStart, SignalChoice, SignalOptions } from './ScoreFields';
import { ScorePlanCard, ScoreRunsTable } from './ScoreRuns';

/**
 * `#/score?signals=a,b&model=ID` (e.g. the Layers screen's "Score → fim") ticks those signals and picks the model
 * once, then leaves the URL clean. Names the screen does not offer are ignored.
 */
export function takeScoreHashParams(): { signals: string[] | null; model: number | null } {
  const q = window.location.hash.split('?')[1];
  if (!q) return { signals: null, model: null };
  const params = new URLSearchParams(q);
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}#/score`);
  const offered = new Set<string>(SCORE_SCREEN_SIGNALS);
  const signals = (params.get('signals') ?? '').split(',').map((x) => x.trim()).filter((x) => offered.has(x));
  const model = Number(params.get('model'));
  return { signals: signals.length ? signals : null, model: Number.isInteger(model) && model > 0 ? model : null };
}

/** The score runs, and the scoring job on show: the one started here, else (after navigating away and back) the latest. */
function useScoreRuns(jobId: string | null) {
  const jobs = useJobs();
  const runs = useCall('scoring.runs', {});
  const shownJobId = jobId ?? jobs.find((j) => j.kind === 'score')?.jobId ?? null;
  useOnJobDone(shownJobId, runs.reload);
  return { runs, shownJobId };
}

export function ScoreScreen() {
  const { project, datasetId } = useApp();
  const [given] = useState(takeScoreHashParams);
  const [form, setForm] = useState<ScoreForm>(() => initialScoreForm(given.model));
  const set = (patch: Partial<ScoreForm>) => setForm((f) => ({ ...f, ...patch }));
  const [signals, setSignals] = useState<Set<string>>(() => new Set(given.signals ?? ['token_loss', 'mean_loss']));
  const subsets = useCall('subsets.list', {});
  const [plan, setPlan] = useState<ScorePlan | null>(null);
  const { jobId, error, busy, start: startScoring } = useStartJob('scoring.start');
  const { runs, shownJobId } = useScoreRuns(jobId);
  const progressCard = useRevealWhenFinished(jobId);

  const models = project?.models ?? [];
  const model = (form.modelId !== null && models.some((m) => m.id === form.modelId) ? form.modelId : null) ?? models[0]?.id ?? null;
  const needs = signalNeeds(signals);

  if (project && (!models.length || !project.datasets.length)) {
    return (
      <div className="screen" data-testid="screen-score">
        <h1>Score</h1>
        <EmptyState title={!models.length ? 'No model to score with' : 'No dataset to score'} testId="score-empty">
          Add {!models.length ? 'a model' : 'a dataset'} on the <a href="#/data">Data</a> screen first.
        </EmptyState>
      </div>
    );
  }

  const toggle = (s: string, on: boolean) =>
    setSignals((prev) => {
      const next = new Set(prev);
      if (on) next.add(s);
      else next.delete(s);
      return next;
    });

  const start = async () => {
    if (model === null) return;
    const started = await startScoring(scoreInput(form, model, datasetId, signals));
    if (started) {
      setPlan(started.plan);
      runs.reload();
    }
  };

  return (
    <div className="screen" data-testid="screen-score">
      <div className="toolbar">
        <h1>Score</h1>
        <CurrentDataset />
      </div>
      <section className="card">
        <ScoreSettings form={form} set={set} model={model} models={models} subsets={subsets.data} needs={needs} />
        <SignalChoice signals={signals} onToggle={toggle} />
        <SignalOptions form={form} set={set} signals={signals} needs={needs} subsets={subsets.data} />
        <ScoreStart form={form} signals={signals} needs={needs} disabled={busy || model === null || signals.size === 0 || !rowsReady(form)} onStart={() => void start()} />
        <ErrorText error={error} testId="score-error" />
      </section>
      {plan && <ScorePlanCard plan={plan} />}
      {shownJobId && (
        <section className="card" ref={progressCard}>
          <h2>Progress</h2>
          <JobProgress jobId={shownJobId} label="scoring" />
        </section>
      )}
      {runs.data && runs.data.length > 0 && <ScoreRunsTable runs={runs.data} onChanged={runs.reload} />}
    </div>
  );
}
