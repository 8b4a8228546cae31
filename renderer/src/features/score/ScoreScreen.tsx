/** Score: pick a model and signals (with the options the chosen ones need), see the planned passes, follow the job. */
import { useState } from 'react';
import { IMPORT_SIGNALS, type RowScope, type ScorePlan, SIGNALS } from '../../../../preload/contract';
import { useApp, useCall, useJobs, useOnJobDone, useStartJob } from '../../api/hooks';
import { ItemActions } from '../../components/ItemActions';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { JobProgress } from '../../components/JobProgress';
import { fmtEta, fmtNum } from '../../components/format';
import { staleTitle, subsetOptionText } from '../../components/StaleSubset';
import { LAYER_GRADIENT, NEEDS_HISTORY, NEEDS_REFERENCE, PER_EXAMPLE_GRADIENT, SCORE_SCREEN_SIGNALS, SIGNAL_HELP } from '../../components/signals';
import { CurrentDataset } from '../../components/CurrentDataset';

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

const FIM_LOSS = [
  ['sum', 'summed response NLL Σ_t ℓ_t (surgical fine-tuning)'],
  ['mean', 'mean response NLL (Σ_t ℓ_t / T)'],
] as const;

/** A second model the chosen signals need (reference or history): "choose…" until one is picked. */
function OtherModelSelect(props: {
  label: string;
  title: string;
  testId: string;
  models: readonly { id: number; name: string }[];
  value: number | null;
  onChange: (id: number | null) => void;
}) {
  const { label, title, testId, models, value, onChange } = props;
  return (
    <label className="field" title={title}>
      <span>{label}</span>
      <select data-testid={testId} value={value ?? ''} onChange={(e) => onChange(e.target.value ? Number(e.target.value) : null)}>
        <option value="">choose…</option>
        {models.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name}
          </option>
        ))}
      </select>
    </label>
  );
}

export function ScoreScreen() {
  const { project, datasetId } = useApp();
  const jobs = useJobs();
  const [given] = useState(takeScoreHashParams);
  const [modelId, setModelId] = useState<number | null>(given.model);
  const [refModelId, setRefModelId] = useState<number | null>(null);
  const [historyModelId, setHistoryModelId] = useState<number | null>(null);
  const [fimLoss, setFimLoss] = useState<'sum' | 'mean'>('sum');
  const [signals, setSignals] = useState<Set<string>>(() => new Set(given.signals ?? ['token_loss', 'mean_loss']));
  const [batchSize, setBatchSize] = useState('8');
  const [maxTokens, setMaxTokens] = useState('512');
  const [gradLayers, setGradLayers] = useState('all');
  // empty: the engine's default, 1024 for grad_sim_base and LESS's 8192 for grad_sim
  const [gradDim, setGradDim] = useState('');
  const [targetSubsetId, setTargetSubsetId] = useState<number | null>(null);
  const [lessRunId, setLessRunId] = useState('');
  const [gamma, setGamma] = useState('0.5');
  // which rows: all of the dataset, a subset's, or a seeded random sample
  const [rowsKind, setRowsKind] = useState<RowScope['kind']>('all');
  const [rowsSubsetId, setRowsSubsetId] = useState<number | null>(null);
  const [sampleN, setSampleN] = useState('500');
  const [sampleSeed, setSampleSeed] = useState('0');
  const subsets = useCall('subsets.list', {});
  const runs = useCall('scoring.runs', {});
  const [plan, setPlan] = useState<ScorePlan | null>(null);
  const { jobId, error, busy, start: startScoring } = useStartJob('scoring.start');

  const models = project?.models ?? [];
  const model = (modelId !== null && models.some((m) => m.id === modelId) ? modelId : null) ?? models[0]?.id ?? null;
  const needsRef = [...signals].some((s) => NEEDS_REFERENCE.has(s));
  const needsHistory = [...signals].some((s) => NEEDS_HISTORY.has(s));
  const layerGrad = [...signals].some((s) => LAYER_GRADIENT.has(s));
  const perExampleGrad = [...signals].some((s) => PER_EXAMPLE_GRADIENT.has(s));
  // grad_sim (LESS) and grad_sim_base both compare with a target set; LESS also reads a LoRA warm-up run
  const wantLess = signals.has('grad_sim');
  const wantSim = wantLess || signals.has('grad_sim_base');
  const wantSs = signals.has('sstoken');
  // after navigating away and back, keep showing the latest scoring job
  const shownJobId = jobId ?? jobs.find((j) => j.kind === 'score')?.jobId ?? null;
  useOnJobDone(shownJobId, runs.reload);
  const rowsReady = rowsKind !== 'subset' || rowsSubsetId !== null;
  const rows: RowScope | undefined =
    rowsKind === 'subset' && rowsSubsetId !== null
      ? { kind: 'subset', subsetId: rowsSubsetId }
      : rowsKind === 'sample'
        ? { kind: 'sample', n: Number(sampleN), seed: Number(sampleSeed) }
        : undefined;

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
    const started = await startScoring({
      modelId: model,
      datasetId: datasetId ?? undefined,
      signals: SIGNALS.filter((s) => signals.has(s)),
      refModelId: needsRef && refModelId !== null ? refModelId : undefined,
      historyModelId: needsHistory && historyModelId !== null ? historyModelId : undefined,
      fimLoss,
      batchSize: Number(batchSize),
      maxTokens: Number(maxTokens),
      gradLayers: perExampleGrad && gradLayers.trim() && gradLayers.trim() !== 'all' ? gradLayers.trim() : undefined,
      gradDim: wantSim && gradDim.trim() ? Number(gradDim) : undefined,
      targetSubsetId: wantSim && targetSubsetId !== null ? targetSubsetId : undefined,
      lessRunId: wantLess && lessRunId.trim() ? Number(lessRunId) : undefined,
      sstokenGamma: wantSs ? Number(gamma) : undefined,
      rows,
    });
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
        <div className="form-row">
          <label className="field">
            <span>Model</span>
            <select data-testid="score-model" value={model ?? ''} onChange={(e) => setModelId(Number(e.target.value))}>
              {models.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field" title="Score every row of the dataset, only a subset's rows, or a seeded random sample (the rows a random subset rule with the same n and seed picks)">
            <span>Rows</span>
            <select data-testid="score-rows" value={rowsKind} onChange={(e) => setRowsKind(e.target.value as RowScope['kind'])}>
              <option value="all">all rows</option>
              <option value="subset">a subset</option>
              <option value="sample">a random sample</option>
            </select>
          </label>
          {rowsKind === 'subset' && (
            <label className="field">
              <span>Subset</span>
              <select data-testid="score-rows-subset" value={rowsSubsetId ?? ''} onChange={(e) => setRowsSubsetId(e.target.value ? Number(e.target.value) : null)}>
                <option value="">choose a subset…</option>
                {subsets.data?.map((s) => (
                  <option key={s.id} value={s.id} title={s.staleReason ? staleTitle(s) : undefined}>
                    {subsetOptionText(s)}
                  </option>
                ))}
              </select>
            </label>
          )}
          {rowsKind === 'sample' && (
            <>
              <label className="field narrow">
                <span>Sample n</span>
                <input data-testid="score-sample-n" inputMode="numeric" value={sampleN} onChange={(e) => setSampleN(e.target.value)} />
              </label>
              <label className="field narrow">
                <span>Seed</span>
                <input data-testid="score-sample-seed" inputMode="numeric" value={sampleSeed} onChange={(e) => setSampleSeed(e.target.value)} />
              </label>
            </>
          )}
          {needsRef && (
            <OtherModelSelect
              label="Reference model (later, e.g. tuned)"
              title="excess_loss = ℓ^θ − ℓ^ref and learnability take the LATER model as the reference: e.g. the model tuned from the scored one"
              testId="score-ref-model"
              models={models}
              value={refModelId}
              onChange={setRefModelId}
            />
          )}
          {needsHistory && (
            <OtherModelSelect
              label="History model (earlier, e.g. base)"
              title="sstoken's REL = ℓ^his − ℓ^θ takes the EARLIER model as its history: e.g. the base the scored model was tuned from"
              testId="score-history-model"
              models={models}
              value={historyModelId}
              onChange={setHistoryModelId}
            />
          )}
          <label className="field narrow">
            <span>Batch size</span>
            <input data-testid="score-batch-size" inputMode="numeric" value={batchSize} onChange={(e) => setBatchSize(e.target.value)} />
          </label>
          <label className="field narrow">
            <span>Max tokens</span>
            <input data-testid="score-max-tokens" inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          </label>
        </div>
        <fieldset className="signal-grid">
          <legend>Signals</legend>
          {SCORE_SCREEN_SIGNALS.map((s) => (
            <label key={s} className="check" title={SIGNAL_HELP[s]}>
              <input type="checkbox" data-testid={`signal-${s}`} checked={signals.has(s)} onChange={(e) => toggle(s, e.target.checked)} />
              <code>{s}</code> <span className="muted">{SIGNAL_HELP[s]}</span>
            </label>
          ))}
        </fieldset>
        <p className="muted" data-testid="score-import-signals">
          Already computed at import for every dataset, no model needed:{' '}
          {IMPORT_SIGNALS.map((s) => (
            <span key={s} title={SIGNAL_HELP[s]}>
              <code>{s}</code>{' '}
            </span>
          ))}
          — on the Examples screen (duplicate filter), in subset rules and in every export&apos;s scores.
        </p>
        {(perExampleGrad || wantSs || layerGrad) && (
          <div className="form-row" data-testid="score-options">
            {layerGrad && (
              <label
                className="field"
                title="fim and layer_grad_norm differentiate each example's loss: its summed response NLL (as surgical fine-tuning's fim_calculator.py, one unnormalised scalar per example) or its mean over the response tokens (long answers then weigh no more than short ones)"
              >
                <span>fim / layer_grad_norm loss per example</span>
                <select data-testid="score-fim-loss" value={fimLoss} onChange={(e) => setFimLoss(e.target.value as 'sum' | 'mean')}>
                  {FIM_LOSS.map(([v, label]) => (
                    <option key={v} value={v}>
                      {label}
                    </option>
                  ))}
                </select>
              </label>
            )}
            {perExampleGrad && (
              <label className="field" title="layer spec: all | last:N | top:N:fim | attention | mlp | names:t1,t2">
                <span>Gradient over</span>
                <input data-testid="score-grad-layers" value={gradLayers} onChange={(e) => setGradLayers(e.target.value)} />
              </label>
            )}
            {wantSim && (
              <label className="field">
                <span>Target set (grad_sim)</span>
                <select data-testid="score-target-subset" value={targetSubsetId ?? ''} onChange={(e) => setTargetSubsetId(e.target.value ? Number(e.target.value) : null)}>
                  <option value="">choose a subset…</option>
                  {subsets.data?.map((s) => (
                    <option key={s.id} value={s.id} title={s.staleReason ? staleTitle(s) : undefined}>
                      {subsetOptionText(s)}
                    </option>
                  ))}
                </select>
              </label>
            )}
            {wantLess && (
              <label className="field narrow" title="the LoRA warm-up run (Train with LoRA and kept checkpoints) whose checkpoints give LESS its gradients">
                <span>Warm-up run #</span>
                <input data-testid="score-less-run" inputMode="numeric" value={lessRunId} onChange={(e) => setLessRunId(e.target.value)} />
              </label>
            )}
            {wantSim && (
              <label className="field narrow" title="dimension of the random projection (LESS uses 8192 on GPU)">
                <span>Projection d</span>
                <input data-testid="score-grad-dim" inputMode="numeric" value={gradDim} placeholder={wantLess ? (signals.has('grad_sim_base') ? '1024 / 8192' : '8192') : '1024'} onChange={(e) => setGradDim(e.target.value)} />
              </label>
            )}
            {wantSs && (
              <label className="field narrow" title="weight of the loss-gain term; 1 − γ weighs the attention term">
                <span>sstoken γ</span>
                <input data-testid="score-sstoken-gamma" inputMode="decimal" value={gamma} onChange={(e) => setGamma(e.target.value)} />
              </label>
            )}
          </div>
        )}
        <div className="form-row">
          <button className="btn btn-primary" data-testid="score-start" disabled={busy || model === null || signals.size === 0 || !rowsReady} onClick={() => void start()}>
            Score
          </button>
          {signals.size === 0 && <span className="muted">Choose at least one signal.</span>}
          {!rowsReady && <span className="warn-text">Choose the subset whose rows to score.</span>}
          {needsRef && refModelId === null && (
            <span className="warn-text">{[...signals].filter((s) => NEEDS_REFERENCE.has(s)).join(', ')} need a reference model: the later one, e.g. the model tuned from the scored one.</span>
          )}
          {needsHistory && historyModelId === null && (
            <span className="warn-text">sstoken needs a history model: the earlier one, e.g. the base the scored model was tuned from.</span>
          )}
          {wantSim && targetSubsetId === null && <span className="warn-text">grad_sim needs a target set: make a subset on the Subsets screen, then choose it.</span>}
          {perExampleGrad && <span className="muted">grad_norm / grad_sim_base take one backward pass per example; grad_sim one per example and warm-up checkpoint.</span>}
        </div>
        <ErrorText error={error} testId="score-error" />
      </section>
      {plan && (
        <section className="card" data-testid="score-plan">
          <h2>Plan</h2>
          <p className="muted">
            <span data-testid="score-plan-rows">{plan.rows}</span> · {fmtNum(plan.examples)} examples · estimated {fmtEta(plan.estimatedSeconds)}
          </p>
          <ol className="plan">
            {plan.passes.map((p, i) => (
              <li key={i} data-testid="score-pass">
                <strong>{p.kind.replace(/_/g, ' ')}</strong> pass with <code>{p.model}</code> → {p.signals.map((s) => <code key={s}>{s} </code>)}
                {p.examples !== undefined && (
                  <span className="muted">
                    {' '}
                    · {fmtNum(p.examples)} examples · {fmtEta(p.estimatedSeconds ?? null)}
                  </span>
                )}
              </li>
            ))}
          </ol>
        </section>
      )}
      {shownJobId && (
        <section className="card">
          <h2>Progress</h2>
          <JobProgress jobId={shownJobId} label="scoring" />
        </section>
      )}
      {runs.data && runs.data.length > 0 && (
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
              {runs.data.map((r) => (
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
                    <ItemActions kind="score_run" id={r.id} name={r.label ?? ''} onChanged={runs.reload} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
