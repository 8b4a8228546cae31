/**
 * Playground: held-out prompts (a subset, or a data file) answered by the base model and by finished train runs, side
 * by side, each with its answer checked against the reference and the reference answer coloured by that model's
 * per-token loss (one scale per row, so the colours compare across models). Every answer and metric is saved with the
 * run (eval_runs / eval_rows), so the page shows the latest evaluation of each model when it opens.
 */
import { useEffect, useMemo, useState } from 'react';
import type { EvalRowView, EvalRunInfo } from '../../../../preload/contract';
import { useApp, useCall, useJobs } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { HeatLegend, TokenHeat, valueRange } from '../../components/TokenHeat';
import { fmtNum, rowNumber } from '../../components/format';
import { EvalReport, heldOutKey, latestPerModel, modelLabel } from './EvalReport';
import { candidates, type EvalForm, INITIAL_EVAL_FORM, limitOf, PlaygroundForm, type SetEvalForm, useStartEvals } from './PlaygroundForm';

/** The lists the screen shows, each re-fetched when a job that changes it (eval and generate; train) changes state. */
function usePlaygroundData() {
  const subsets = useCall('subsets.list', {});
  const trainRuns = useCall('train.list', {});
  const evalRuns = useCall('eval.list', {});
  const jobs = useJobs();
  const evalStates = jobs.filter((j) => j.kind === 'eval' || j.kind === 'generate').map((j) => `${j.jobId}:${j.status}`).join(',');
  const { reload } = evalRuns;
  useEffect(() => reload(), [evalStates, reload]);
  const trainStates = jobs.filter((j) => j.kind === 'train').map((j) => `${j.jobId}:${j.status}`).join(',');
  const reloadRuns = trainRuns.reload;
  useEffect(() => reloadRuns(), [trainStates, reloadRuns]);
  return { subsets, trainRuns, evalRuns };
}

export function PlaygroundScreen() {
  const { project } = useApp();
  const { subsets, trainRuns, evalRuns } = usePlaygroundData();
  const [form, setForm] = useState<EvalForm>(INITIAL_EVAL_FORM);
  const set: SetEvalForm = (patch) => setForm((f) => ({ ...f, ...(typeof patch === 'function' ? patch(f) : patch) }));

  const runs = trainRuns.data ?? [];
  // the base: the project's first model that no train run wrote (a run's tuned model is registered as a model too)
  const tuned = new Set(runs.map((r) => r.outModelId));
  const modelId = project?.models.find((m) => !tuned.has(m.id))?.id ?? project?.models[0]?.id ?? null;
  const choices = candidates(runs);
  const { started, error, start } = useStartEvals(runs, choices, modelId, evalRuns.reload);
  const subsetList = subsets.data ?? [];
  const shownSubset = form.subsetId ?? subsetList[0]?.id ?? null;
  const currentKey = heldOutKey({
    subsetId: form.source === 'subset' ? shownSubset : null,
    dataPath: form.source === 'file' ? form.dataPath.trim() : null,
    params: { metrics: [], maxNewTokens: 0, maxTokens: 0, limit: limitOf(form) },
  });

  if (project && (!project.models.length || !project.datasets.length)) {
    return (
      <div className="screen" data-testid="screen-playground">
        <h1>Playground</h1>
        <EmptyState title={!project.models.length ? 'No model to ask' : 'No data to ask it about'} testId="playground-empty">
          Add {!project.models.length ? 'a model' : 'a dataset'} on the <a href="#/data">Data</a> screen first.
        </EmptyState>
      </div>
    );
  }

  const list = evalRuns.data ?? [];
  // shown: the held-out set the form names when it was evaluated, else the one evaluated last (reopening the page)
  const bySet = latestPerModel(list);
  const lastDone = list.find((r) => r.kind === 'eval' && r.status === 'done');
  const shownKey = bySet.has(currentKey) || !lastDone ? currentKey : heldOutKey(lastDone);
  return (
    <div className="screen" data-testid="screen-playground">
      <div className="toolbar">
        <h1>Playground</h1>
      </div>
      <PlaygroundForm
        f={form}
        set={set}
        subsets={subsetList}
        shownSubset={shownSubset}
        choices={choices}
        onStart={() => void start(form, shownSubset)}
        error={error ?? evalRuns.error}
        started={started}
      />
      <section className="card" data-testid="playground-report">
        <h2>Task metrics</h2>
        <EvalReport runs={list} subsets={subsets.data} only={shownKey} empty="Nothing evaluated on these rows yet: choose the models above and press Answer and evaluate." />
      </section>
      <SideBySide runs={bySet.get(shownKey) ?? []} />
    </div>
  );
}

/** The rows of each evaluated model, fetched per eval run and lined up by row index. */
function SideBySide({ runs }: { runs: EvalRunInfo[] }) {
  const { client, epoch } = useApp();
  const [rows, setRows] = useState<Record<number, EvalRowView[]>>({});
  const key = runs.map((r) => r.id).join(',');
  useEffect(() => {
    let live = true;
    for (const r of runs) {
      void client.call('eval.rows', { evalRunId: r.id, limit: 200 }).then((res) => live && res.ok && setRows((m) => ({ ...m, [r.id]: res.value })));
    }
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, epoch, key]);
  const indices = useMemo(() => [...new Set(runs.flatMap((r) => (rows[r.id] ?? []).map((x) => x.rowIndex)))].sort((a, b) => a - b), [runs, rows]);
  if (!runs.length) return null;
  return (
    <section className="card" data-testid="playground-side">
      <h2>Answers side by side</h2>
      <p className="muted">
        The reference answer under each model is coloured by that model’s loss on each token (−log p, one scale per row: darker is more surprising). ✓ / ✗:
        the final answer matches the reference’s or not.
      </p>
      {indices.map((i) => {
        const per = runs.map((r) => (rows[r.id] ?? []).find((x) => x.rowIndex === i) ?? null);
        const first = per.find((x) => x !== null)!;
        const answerLoss = per.flatMap((x) => (x ? x.tokenLoss.filter((_, t) => x.tokens[t]!.label) : []));
        const scale = valueRange(answerLoss);
        return (
          <div key={i} className="pg-row" data-testid="pg-row" data-row={i}>
            <div className="pg-prompt">
              <span className="muted">Row {rowNumber(i)}</span> <span className="pg-prompt-text">{promptOf(first)}</span>
              {scale && <HeatLegend scale={scale} label="token loss" />}
            </div>
            <div className="pg-cols" style={{ gridTemplateColumns: `repeat(${runs.length}, minmax(0, 1fr))` }}>
              {runs.map((r, k) => {
                const x = per[k];
                return (
                  <div key={r.id} className="pg-col" data-testid="pg-answer" data-model={modelLabel(r)} data-correct={x?.correct ?? ''}>
                    <div className="pg-col-head">
                      <strong>{modelLabel(r)}</strong>
                      {x?.correct !== null && x?.correct !== undefined && (
                        <span className={x.correct ? 'ok-text' : 'warn-text'} title={`answer ${JSON.stringify(x.prediction)}, reference ${JSON.stringify(x.referenceAnswer)}`}>
                          {x.correct ? '✓' : '✗'} answer {x.prediction === null ? '(none found)' : JSON.stringify(x.prediction.length > 24 ? x.prediction.slice(0, 24) + '…' : x.prediction)}
                          {!x.correct && <span className="muted"> (reference {x.referenceAnswer})</span>}
                        </span>
                      )}
                      {x?.labelPrediction && (
                        <span className={x.labelCorrect ? 'ok-text' : 'warn-text'}>
                          label {x.labelCorrect ? '✓' : '✗'} {x.labelPrediction}
                        </span>
                      )}
                      <span className="spacer" />
                      <span className="muted num">loss {fmtNum(x?.loss ?? null, 3)}</span>
                    </div>
                    {x ? (
                      <>
                        <div className="pg-completion" data-testid="pg-completion">
                          {x.completion ?? <span className="muted">(no completion asked)</span>}
                        </div>
                        <div className="muted pg-sub">Reference answer, coloured by this model’s token loss</div>
                        <TokenHeat tokens={x.tokens} values={x.tokenLoss} valueName="loss" scale={scale} only testId="pg-ref-tokens" />
                      </>
                    ) : (
                      <span className="muted">not evaluated yet</span>
                    )}
                  </div>
                );
              })}
            </div>
          </div>
        );
      })}
    </section>
  );
}

/** the prompt's last user turn, as rendered text is long and full of template tokens */
function promptOf(r: EvalRowView): string {
  const ref = r.reference;
  const p = r.prompt;
  return p.length > 400 ? p.slice(0, 400) + '…' : p || (ref ?? '');
}
