/** The Playground's form: the held-out rows, the metrics, the models to ask, and the eval jobs it started. */
import { useState } from 'react';
import type { ApiError, SubsetInfo, TrainRunInfo } from '../../../../preload/contract';
import { useApp, useJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { JobActions, ProgressBar } from '../../components/JobProgress';

type Metric = 'exact_match' | 'accuracy' | 'loss';

/** a model to evaluate: the base, or a finished run (its merged model, or the base + its adapter) */
export interface Candidate {
  key: string;
  trainRunId?: number;
  adapter: boolean;
  label: string;
}

export function candidates(runs: TrainRunInfo[]): Candidate[] {
  const out: Candidate[] = [{ key: 'base', adapter: false, label: 'Base' }];
  for (const r of runs.filter((x) => x.status === 'done').sort((a, b) => a.id - b.id)) {
    out.push({ key: `run${r.id}`, trainRunId: r.id, adapter: false, label: `Run #${r.id}` });
    if (r.config.lora) out.push({ key: `run${r.id}a`, trainRunId: r.id, adapter: true, label: `Run #${r.id} (base + adapter)` });
  }
  return out;
}

/** The form as typed; the models chosen by Candidate key. */
export interface EvalForm {
  source: 'subset' | 'file';
  subsetId: number | null;
  dataPath: string;
  limit: string;
  metrics: Metric[];
  answerRegex: string;
  maxNewTokens: string;
  chosen: string[];
}

export const INITIAL_EVAL_FORM: EvalForm = { source: 'subset', subsetId: null, dataPath: '', limit: '20', metrics: ['exact_match', 'loss'], answerRegex: '', maxNewTokens: '64', chosen: ['base'] };

/** a patch, or (for lists the user ticks) a function of the form as it is when React applies it */
export type SetEvalForm = (patch: Partial<EvalForm> | ((f: EvalForm) => Partial<EvalForm>)) => void;

/** The first-rows limit as the call takes it: a whole number above 0, else none. */
export function limitOf(f: EvalForm): number | undefined {
  return Number(f.limit) > 0 ? Math.floor(Number(f.limit)) : undefined;
}

/**
 * Starts one eval job per chosen model, stopping at the first the engine refuses (its message names the field).
 * `modelId` is the project's base model; `start` takes the subset on show (the one chosen, else the first).
 */
export function useStartEvals(runs: TrainRunInfo[], choices: Candidate[], modelId: number | null, onStarted: () => void) {
  const { client } = useApp();
  const [started, setStarted] = useState<Array<{ jobId: string; label: string }>>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const start = async (f: EvalForm, shownSubset: number | null) => {
    setError(null);
    const ids: Array<{ jobId: string; label: string }> = [];
    for (const key of f.chosen) {
      const c = choices.find((x) => x.key === key);
      if (!c || modelId === null) continue;
      // each model's run of the train runs is on its own base: the run's model, else the project's first
      const base = c.trainRunId !== undefined ? runs.find((r) => r.id === c.trainRunId)!.modelId : modelId;
      const res = await client.call('eval.start', {
        kind: 'eval',
        modelId: base,
        trainRunId: c.trainRunId,
        adapter: c.adapter,
        ...(f.source === 'subset' ? { subsetId: shownSubset ?? undefined } : { dataPath: f.dataPath.trim() }),
        limit: limitOf(f),
        metrics: f.metrics,
        answerRegex: f.answerRegex.trim() || undefined,
        maxNewTokens: Number(f.maxNewTokens) || 64,
      });
      if (!res.ok) {
        setError(res.error);
        break;
      }
      ids.push({ jobId: res.value.jobId, label: c.label });
    }
    setStarted(ids);
    onStarted();
  };
  return { started, error, start };
}

/** Where the held-out rows come from (a subset or a data file), how many, and how long an answer may be. */
function HeldOutFields({ f, set, subsets, shownSubset }: { f: EvalForm; set: SetEvalForm; subsets: SubsetInfo[]; shownSubset: number | null }) {
  return (
    <div className="row wrap">
      <label className="field inline">
        <span>Held-out rows from</span>
        <select data-testid="pg-source" value={f.source} onChange={(e) => set({ source: e.target.value as 'subset' | 'file' })}>
          <option value="subset">a subset</option>
          <option value="file">a data file</option>
        </select>
      </label>
      {f.source === 'subset' ? (
        <label className="field inline">
          <span>Subset</span>
          <select data-testid="pg-subset" value={shownSubset ?? ''} onChange={(e) => set({ subsetId: Number(e.target.value) })}>
            {subsets.length === 0 && <option value="">no subsets yet — make one on Subsets</option>}
            {subsets.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} ({s.size} rows)
              </option>
            ))}
          </select>
        </label>
      ) : (
        <label className="field inline grow">
          <span>File path</span>
          <input data-testid="pg-file" value={f.dataPath} placeholder="/path/to/heldout.jsonl" onChange={(e) => set({ dataPath: e.target.value })} />
        </label>
      )}
      <label className="field inline">
        <span>First rows</span>
        <input style={{ width: '5em' }} data-testid="pg-limit" value={f.limit} inputMode="numeric" onChange={(e) => set({ limit: e.target.value })} />
      </label>
      <label className="field inline">
        <span>Max new tokens</span>
        <input style={{ width: '5em' }} data-testid="pg-max-new" value={f.maxNewTokens} inputMode="numeric" onChange={(e) => set({ maxNewTokens: e.target.value })} />
      </label>
    </div>
  );
}

/** The metrics to compute, and the regex that finds the final answer. */
function MetricFields({ f, set }: { f: EvalForm; set: SetEvalForm }) {
  return (
    <div className="row wrap">
      <span className="muted">Metrics</span>
      {(['exact_match', 'accuracy', 'loss'] as const).map((m) => (
        <label key={m} className="check">
          <input
            type="checkbox"
            data-testid={`pg-metric-${m}`}
            checked={f.metrics.includes(m)}
            onChange={(e) => set((x) => ({ metrics: e.target.checked ? [...x.metrics, m] : x.metrics.filter((y) => y !== m) }))}
          />{' '}
          {m === 'exact_match' ? 'exact match of the final answer' : m === 'accuracy' ? 'label accuracy' : 'loss and perplexity'}
        </label>
      ))}
      <label className="field inline grow" title="The final answer is this regex's last match (its first group); empty: GSM8K's #### N, else the last number">
        <span>Answer regex</span>
        <input data-testid="pg-regex" value={f.answerRegex} placeholder="#### N, else the last number" onChange={(e) => set({ answerRegex: e.target.value })} />
      </label>
    </div>
  );
}

/** The base and each finished run (and its adapter on the base, for LoRA runs). */
function ModelChoices({ f, set, choices }: { f: EvalForm; set: SetEvalForm; choices: Candidate[] }) {
  return (
    <div className="row wrap" data-testid="pg-models">
      <span className="muted">Models</span>
      {choices.map((c) => (
        <label key={c.key} className="check">
          <input
            type="checkbox"
            data-testid="pg-model"
            data-key={c.key}
            checked={f.chosen.includes(c.key)}
            onChange={(e) => set((x) => ({ chosen: e.target.checked ? [...x.chosen, c.key] : x.chosen.filter((y) => y !== c.key) }))}
          />{' '}
          {c.label}
        </label>
      ))}
      {choices.length === 1 && <span className="muted">(finished train runs appear here)</span>}
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

export function PlaygroundForm({ f, set, subsets, shownSubset, choices, onStart, error, started }: {
  f: EvalForm;
  set: SetEvalForm;
  subsets: SubsetInfo[];
  shownSubset: number | null;
  choices: Candidate[];
  onStart: () => void;
  error: ApiError | null;
  started: Array<{ jobId: string; label: string }>;
}) {
  return (
    <section className="card" data-testid="playground-form">
      <h2>Ask held-out prompts</h2>
      <p className="muted">
        Each chosen model answers the prompts (the conversation up to its last assistant turn); that turn is the reference. Keep the held-out rows out of
        the subset you train on.
      </p>
      <HeldOutFields f={f} set={set} subsets={subsets} shownSubset={shownSubset} />
      <MetricFields f={f} set={set} />
      <ModelChoices f={f} set={set} choices={choices} />
      <div className="row">
        <button
          className="btn btn-primary"
          data-testid="pg-start"
          disabled={!f.chosen.length || !f.metrics.length || (f.source === 'subset' ? shownSubset === null : !f.dataPath.trim())}
          onClick={onStart}
        >
          Answer and evaluate ({f.chosen.length} {f.chosen.length === 1 ? 'model' : 'models'})
        </button>
      </div>
      <ErrorText error={error} testId="pg-error" />
      {started.map((s) => (
        <StartedJob key={s.jobId} jobId={s.jobId} label={s.label} />
      ))}
    </section>
  );
}
