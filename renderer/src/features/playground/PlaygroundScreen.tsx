/**
 * Playground: held-out prompts (a subset, or a data file) answered by the base model and by finished train runs, side
 * by side, each with its answer checked against the reference and the reference answer coloured by that model's
 * per-token loss (one scale per row, so the colours compare across models). Every answer and metric is saved with the
 * run (eval_runs / eval_rows), so the page shows the latest evaluation of each model when it opens.
 */
import { useEffect, useMemo, useState } from 'react';
import type { ApiError, EvalRowView, EvalRunInfo, TrainRunInfo } from '../../../../preload/contract';
import { useApp, useCall, useJob, useJobs } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { JobActions, ProgressBar } from '../../components/JobProgress';
import { HeatLegend, TokenHeat, valueRange } from '../../components/TokenHeat';
import { fmtNum, rowNumber } from '../../components/format';
import { EvalReport, heldOutKey, latestPerModel, modelLabel } from './EvalReport';

type Metric = 'exact_match' | 'accuracy' | 'loss';

/** a model to evaluate: the base, or a finished run (its merged model, or the base + its adapter) */
interface Candidate {
  key: string;
  trainRunId?: number;
  adapter: boolean;
  label: string;
}

function candidates(runs: TrainRunInfo[]): Candidate[] {
  const out: Candidate[] = [{ key: 'base', adapter: false, label: 'Base' }];
  for (const r of runs.filter((x) => x.status === 'done').sort((a, b) => a.id - b.id)) {
    out.push({ key: `run${r.id}`, trainRunId: r.id, adapter: false, label: `Run #${r.id}` });
    if (r.config.lora) out.push({ key: `run${r.id}a`, trainRunId: r.id, adapter: true, label: `Run #${r.id} (base + adapter)` });
  }
  return out;
}

export function PlaygroundScreen() {
  const { project, client } = useApp();
  const subsets = useCall('subsets.list', {});
  const trainRuns = useCall('train.list', {});
  const evalRuns = useCall('eval.list', {});
  const jobs = useJobs();
  const [source, setSource] = useState<'subset' | 'file'>('subset');
  const [subsetId, setSubsetId] = useState<number | null>(null);
  const [dataPath, setDataPath] = useState('');
  const [limit, setLimit] = useState('20');
  const [metrics, setMetrics] = useState<Metric[]>(['exact_match', 'loss']);
  const [answerRegex, setAnswerRegex] = useState('');
  const [maxNewTokens, setMaxNewTokens] = useState('64');
  const [chosen, setChosen] = useState<string[]>(['base']);
  const [started, setStarted] = useState<Array<{ jobId: string; label: string }>>([]);
  const [error, setError] = useState<ApiError | null>(null);

  const evalStates = jobs.filter((j) => j.kind === 'eval' || j.kind === 'generate').map((j) => `${j.jobId}:${j.status}`).join(',');
  const { reload } = evalRuns;
  useEffect(() => reload(), [evalStates, reload]);
  const trainStates = jobs.filter((j) => j.kind === 'train').map((j) => `${j.jobId}:${j.status}`).join(',');
  const reloadRuns = trainRuns.reload;
  useEffect(() => reloadRuns(), [trainStates, reloadRuns]);

  const runs = trainRuns.data ?? [];
  // the base: the project's first model that no train run wrote (a run's tuned model is registered as a model too)
  const tuned = new Set(runs.map((r) => r.outModelId));
  const modelId = project?.models.find((m) => !tuned.has(m.id))?.id ?? project?.models[0]?.id ?? null;
  const choices = candidates(runs);
  const subsetList = subsets.data ?? [];
  const shownSubset = subsetId ?? subsetList[0]?.id ?? null;
  const lim = Number(limit) > 0 ? Math.floor(Number(limit)) : undefined;
  const currentKey = heldOutKey({
    subsetId: source === 'subset' ? shownSubset : null,
    dataPath: source === 'file' ? dataPath.trim() : null,
    params: { metrics: [], maxNewTokens: 0, maxTokens: 0, limit: lim },
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

  const start = async () => {
    setError(null);
    const ids: Array<{ jobId: string; label: string }> = [];
    for (const key of chosen) {
      const c = choices.find((x) => x.key === key);
      if (!c || modelId === null) continue;
      // each model's run of the train runs is on its own base: the run's model, else the project's first
      const base = c.trainRunId !== undefined ? runs.find((r) => r.id === c.trainRunId)!.modelId : modelId;
      const res = await client.call('eval.start', {
        kind: 'eval',
        modelId: base,
        trainRunId: c.trainRunId,
        adapter: c.adapter,
        ...(source === 'subset' ? { subsetId: shownSubset ?? undefined } : { dataPath: dataPath.trim() }),
        limit: lim,
        metrics,
        answerRegex: answerRegex.trim() || undefined,
        maxNewTokens: Number(maxNewTokens) || 64,
      });
      if (!res.ok) {
        setError(res.error);
        break;
      }
      ids.push({ jobId: res.value.jobId, label: c.label });
    }
    setStarted(ids);
    reload();
  };

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
      <section className="card" data-testid="playground-form">
        <h2>Ask held-out prompts</h2>
        <p className="muted">
          Each chosen model answers the prompts (the conversation up to its last assistant turn); that turn is the reference. Keep the held-out rows out of
          the subset you train on.
        </p>
        <div className="row wrap">
          <label className="field inline">
            <span>Held-out rows from</span>
            <select data-testid="pg-source" value={source} onChange={(e) => setSource(e.target.value as 'subset' | 'file')}>
              <option value="subset">a subset</option>
              <option value="file">a data file</option>
            </select>
          </label>
          {source === 'subset' ? (
            <label className="field inline">
              <span>Subset</span>
              <select data-testid="pg-subset" value={shownSubset ?? ''} onChange={(e) => setSubsetId(Number(e.target.value))}>
                {subsetList.length === 0 && <option value="">no subsets yet — make one on Subsets</option>}
                {subsetList.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name} ({s.size} rows)
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <label className="field inline grow">
              <span>File path</span>
              <input data-testid="pg-file" value={dataPath} placeholder="/path/to/heldout.jsonl" onChange={(e) => setDataPath(e.target.value)} />
            </label>
          )}
          <label className="field inline">
            <span>First rows</span>
            <input style={{ width: '5em' }} data-testid="pg-limit" value={limit} inputMode="numeric" onChange={(e) => setLimit(e.target.value)} />
          </label>
          <label className="field inline">
            <span>Max new tokens</span>
            <input style={{ width: '5em' }} data-testid="pg-max-new" value={maxNewTokens} inputMode="numeric" onChange={(e) => setMaxNewTokens(e.target.value)} />
          </label>
        </div>
        <div className="row wrap">
          <span className="muted">Metrics</span>
          {(['exact_match', 'accuracy', 'loss'] as const).map((m) => (
            <label key={m} className="check">
              <input
                type="checkbox"
                data-testid={`pg-metric-${m}`}
                checked={metrics.includes(m)}
                onChange={(e) => setMetrics((x) => (e.target.checked ? [...x, m] : x.filter((y) => y !== m)))}
              />{' '}
              {m === 'exact_match' ? 'exact match of the final answer' : m === 'accuracy' ? 'label accuracy' : 'loss and perplexity'}
            </label>
          ))}
          <label className="field inline grow" title="The final answer is this regex's last match (its first group); empty: GSM8K's #### N, else the last number">
            <span>Answer regex</span>
            <input data-testid="pg-regex" value={answerRegex} placeholder="#### N, else the last number" onChange={(e) => setAnswerRegex(e.target.value)} />
          </label>
        </div>
        <div className="row wrap" data-testid="pg-models">
          <span className="muted">Models</span>
          {choices.map((c) => (
            <label key={c.key} className="check">
              <input
                type="checkbox"
                data-testid="pg-model"
                data-key={c.key}
                checked={chosen.includes(c.key)}
                onChange={(e) => setChosen((x) => (e.target.checked ? [...x, c.key] : x.filter((y) => y !== c.key)))}
              />{' '}
              {c.label}
            </label>
          ))}
          {choices.length === 1 && <span className="muted">(finished train runs appear here)</span>}
        </div>
        <div className="row">
          <button
            className="btn btn-primary"
            data-testid="pg-start"
            disabled={!chosen.length || !metrics.length || (source === 'subset' ? shownSubset === null : !dataPath.trim())}
            onClick={() => void start()}
          >
            Answer and evaluate ({chosen.length} {chosen.length === 1 ? 'model' : 'models'})
          </button>
        </div>
        <ErrorText error={error ?? evalRuns.error} testId="pg-error" />
        {started.map((s) => (
          <StartedJob key={s.jobId} jobId={s.jobId} label={s.label} />
        ))}
      </section>
      <section className="card" data-testid="playground-report">
        <h2>Task metrics</h2>
        <EvalReport runs={list} subsets={subsets.data} only={shownKey} empty="Nothing evaluated on these rows yet: choose the models above and press Answer and evaluate." />
      </section>
      <SideBySide runs={bySet.get(shownKey) ?? []} />
    </div>
  );
}

function StartedJob({ jobId, label }: { jobId: string; label: string }) {
  const job = useJob(jobId);
  if (!job) return null;
  return (
    <div className="started-job" data-testid="pg-job" data-status={job.status}>
      <strong>{label}</strong>
      <span className={`status-pill status-${job.status}`}>{job.status}</span>
      <ProgressBar current={job.current} total={job.total} status={job.status} />
      <span className="muted">{job.message}</span>
      <JobActions job={job} />
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
