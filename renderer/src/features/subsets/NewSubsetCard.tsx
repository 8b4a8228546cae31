/**
 * The Subsets screen's "New subset" card: the fields of a rule (only those its kind uses), the check of what was typed
 * (a message naming the field, before anything is sent), and the create call, or for k-center and UDS the job that
 * makes the subset. A subset made either way joins the list and the undo history.
 */
import { useState } from 'react';
import type { ApiError, ClusterInfo, ModelInfo, SubsetInfo, SubsetRule, TrainRunInfo } from '../../../../preload/contract';
import { type CallState, useApp, useCall, useStartJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { ModelField, SelectField, TextField } from '../../components/Field';
import { JobProgress } from '../../components/JobProgress';
import { parseOptionalNumber, plural } from '../../components/format';
import { staleTitle, subsetOptionText } from '../../components/StaleSubset';
import { opOf, type useSubsetHistory } from './useSubsetHistory';

const RULE_KINDS = [
  ['top', 'Top k by a column'],
  ['top_percent', 'Top k% by a column'],
  ['threshold', 'Threshold on a column'],
  ['random', 'Random sample'],
  ['ifd_top', 'IFD: drop ifd > 1, then top k'],
  ['ifd_top_percent', 'IFD: drop ifd > 1, then top k%'],
  ['cluster_quota', 'n per cluster (K-means)'],
  ['cluster_quota_percent', 'n% of each cluster (K-means)'],
  ['kcenter', 'Diverse k (k-center on embedding)'],
  ['s2l', 'S2L: k over loss-trajectory clusters'],
  ['uds', 'UDS: best share of each batch (model)'],
] as const;
type RuleKind = (typeof RULE_KINDS)[number][0];
const RANDOM = '(random)';
const DIRS = [
  ['desc', 'highest'],
  ['asc', 'lowest'],
] as const;

/** What is typed into the rule's fields, as typed (numbers are checked by `buildRule` when the form is sent). */
interface RuleForm {
  kind: RuleKind;
  signal: string;
  amount: string;
  dir: 'desc' | 'asc';
  min: string;
  max: string;
  seed: string;
  rankBy: string;
  within: string;
  s2lRun: string;
  s2lClusters: string;
  udsModel: string;
  udsBatch: string;
  udsLambda: string;
  udsBuffer: string;
}
const EMPTY_FORM: RuleForm = {
  kind: 'top',
  signal: '',
  amount: '100',
  dir: 'desc',
  min: '',
  max: '',
  seed: '0',
  rankBy: '',
  within: '',
  s2lRun: '',
  s2lClusters: '10',
  udsModel: '',
  udsBatch: '8',
  udsLambda: '0.0025',
  udsBuffer: '1024',
};
type SetField = <K extends keyof RuleForm>(key: K) => (value: RuleForm[K]) => void;

/** What the form's defaults resolve to: the column, the clustering, the S2L run and the UDS model in use. */
interface RuleContext {
  column: string;
  clusters: ClusterInfo | null;
  s2lRunId: string;
  udsModelId: string;
}

/** The rule the form describes, or a message saying which field is wrong. */
function buildRule(f: RuleForm, { column, clusters, s2lRunId, udsModelId }: RuleContext): SubsetRule | string {
  const { kind, dir } = f;
  const n = Number(f.amount);
  switch (kind) {
    case 'top':
      if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
      return { kind: 'top', signal: column, count: n, dir };
    case 'top_percent':
      if (!(n > 0 && n <= 100)) return 'Percent must be more than 0 and at most 100.';
      return { kind: 'top', signal: column, percent: n, dir };
    case 'threshold': {
      const lo = parseOptionalNumber(f.min);
      const hi = parseOptionalNumber(f.max);
      if (Number.isNaN(lo) || Number.isNaN(hi)) return 'Min and max must be numbers (or empty).';
      if (lo === undefined && hi === undefined) return 'Give a min, a max or both.';
      return { kind: 'threshold', signal: column, min: lo, max: hi };
    }
    case 'ifd_top':
      if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
      return { kind: 'ifd_top', count: n };
    case 'ifd_top_percent':
      if (!(n > 0 && n <= 100)) return 'Percent must be more than 0 and at most 100.';
      return { kind: 'ifd_top', percent: n };
    case 'random': {
      const s = Number(f.seed);
      if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
      if (!Number.isInteger(s)) return 'Seed must be a whole number.';
      return { kind: 'random', count: n, seed: s };
    }
    case 'cluster_quota':
    case 'cluster_quota_percent': {
      const s = Number(f.seed);
      if (!clusters) return 'No clusters yet: run K-means on the Map screen first.';
      if (kind === 'cluster_quota' && (!Number.isInteger(n) || n <= 0)) return 'Count must be a positive whole number.';
      if (kind === 'cluster_quota_percent' && !(n > 0 && n <= 100)) return 'Percent must be more than 0 and at most 100.';
      if (!Number.isInteger(s)) return 'Seed must be a whole number.';
      const by = f.rankBy || column;
      return {
        kind: 'cluster_quota',
        ...(kind === 'cluster_quota' ? { count: n } : { percent: n }),
        ...(by === RANDOM ? { dir, seed: s } : { signal: by, dir, seed: s }),
        clusterRunId: clusters.runId,
      };
    }
    case 'kcenter': {
      const s = Number(f.seed);
      if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
      if (!Number.isInteger(s)) return 'Seed must be a whole number.';
      return { kind: 'kcenter', count: n, seed: s, ...(f.within ? { subsetId: Number(f.within) } : {}) };
    }
    case 's2l': {
      const s = Number(f.seed);
      const k = Number(f.s2lClusters);
      if (!s2lRunId) return 'No training run recorded loss trajectories: train with "Record loss trajectories" on first.';
      if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
      if (!Number.isInteger(k) || k <= 0) return 'Clusters must be a positive whole number.';
      if (!Number.isInteger(s)) return 'Seed must be a whole number.';
      return { kind: 's2l', runId: Number(s2lRunId), count: n, clusters: k, seed: s };
    }
    case 'uds': {
      const s = Number(f.seed);
      const b = Number(f.udsBatch);
      const lambda = Number(f.udsLambda);
      const buf = Number(f.udsBuffer);
      if (!udsModelId) return 'No model: add one on the Data screen first.';
      if (!(n > 0 && n <= 100)) return 'Keep percent must be more than 0 and at most 100.';
      if (!Number.isInteger(b) || b < 2) return 'Batch must be a whole number of at least 2.';
      if (!(lambda >= 0) || f.udsLambda.trim() === '') return 'λ must be a number ≥ 0.';
      if (!Number.isInteger(buf) || buf <= 0) return 'Buffer must be a positive whole number.';
      if (!Number.isInteger(s)) return 'Seed must be a whole number.';
      return { kind: 'uds', modelId: Number(udsModelId), keep: n / 100, batchSize: b, bufferSize: buf, lambda, seed: s, maxTokens: 256 };
    }
  }
}

/** The fields after the name: the rule's kind, then those that kind uses. */
function RuleFields({ form, set, columns, column, subsets, trajectoryRuns, s2lRunId, models, udsModelId }: {
  form: RuleForm;
  set: SetField;
  columns: string[];
  column: string;
  subsets: SubsetInfo[] | null;
  trajectoryRuns: TrainRunInfo[];
  s2lRunId: string;
  models: ModelInfo[];
  udsModelId: string;
}) {
  const { kind } = form;
  return (
    <>
      <SelectField label="Rule" testId="subset-kind" value={kind} onChange={set('kind')} options={RULE_KINDS} />
      {kind.startsWith('cluster_quota') && (
        <label className="field">
          <span>Rank by</span>
          <select data-testid="subset-rank-by" value={form.rankBy || column} onChange={(e) => set('rankBy')(e.target.value)}>
            <option value={RANDOM}>random (seeded)</option>
            {columns
              .filter((c) => c !== 'cluster')
              .map((c) => (
                <option key={c}>{c}</option>
              ))}
          </select>
        </label>
      )}
      {kind === 'kcenter' && (
        <label className="field">
          <span>Among</span>
          <select data-testid="subset-within" value={form.within} onChange={(e) => set('within')(e.target.value)}>
            <option value="">all rows with an embedding</option>
            {subsets?.map((s) => (
              <option key={s.id} value={s.id} title={s.staleReason ? staleTitle(s) : undefined}>
                subset {subsetOptionText(s)}
              </option>
            ))}
          </select>
        </label>
      )}
      {kind === 's2l' && (
        <>
          <label className="field">
            <span>Run</span>
            <select data-testid="subset-s2l-run" value={s2lRunId} onChange={(e) => set('s2lRun')(e.target.value)}>
              {!trajectoryRuns.length && <option value="">no run with trajectories</option>}
              {trajectoryRuns.map((r) => (
                <option key={r.id} value={r.id}>
                  run #{r.id} ({r.totalSteps} steps, checkpoint every {r.config.checkpointEvery})
                </option>
              ))}
            </select>
          </label>
          <TextField label="Clusters" testId="subset-s2l-clusters" width="narrow" inputMode="numeric" value={form.s2lClusters} onChange={set('s2lClusters')} />
        </>
      )}
      {kind === 'uds' && (
        <>
          <ModelField testId="subset-uds-model" value={udsModelId ? Number(udsModelId) : null} onChange={(id) => set('udsModel')(String(id))} models={models} />
          <TextField label="Batch" testId="subset-uds-batch" width="narrow" inputMode="numeric" value={form.udsBatch} onChange={set('udsBatch')} />
          <TextField label="λ" testId="subset-uds-lambda" width="narrow" inputMode="decimal" value={form.udsLambda} onChange={set('udsLambda')} />
          <TextField label="Buffer" testId="subset-uds-buffer" width="narrow" inputMode="numeric" value={form.udsBuffer} onChange={set('udsBuffer')} />
        </>
      )}
      {!['random', 'kcenter', 's2l', 'uds'].includes(kind) && !kind.startsWith('ifd') && !kind.startsWith('cluster_quota') && (
        <SelectField label="Column" testId="subset-column" value={column} onChange={set('signal')} options={columns.map((c) => [c, c] as const)} />
      )}
      {kind !== 'threshold' && (
        <TextField
          label={kind.endsWith('percent') ? 'Percent' : kind === 'uds' ? 'Keep %' : kind.startsWith('cluster_quota') ? 'Per cluster' : 'Count'}
          testId="subset-amount"
          width="narrow"
          inputMode="decimal"
          value={form.amount}
          onChange={set('amount')}
        />
      )}
      {(kind === 'top' || kind === 'top_percent' || (kind.startsWith('cluster_quota') && (form.rankBy || column) !== RANDOM)) && (
        <SelectField label="Keep" testId="subset-dir" value={form.dir} onChange={set('dir')} options={DIRS} />
      )}
      {kind === 'threshold' && (
        <>
          <TextField label="Min" testId="subset-min" width="narrow" inputMode="decimal" value={form.min} onChange={set('min')} />
          <TextField label="Max" testId="subset-max" width="narrow" inputMode="decimal" value={form.max} onChange={set('max')} />
        </>
      )}
      {(kind === 'random' || kind === 'kcenter' || kind === 's2l' || kind === 'uds' || kind.startsWith('cluster_quota')) && (
        <TextField label="Seed" testId="subset-seed" width="narrow" inputMode="numeric" value={form.seed} onChange={set('seed')} />
      )}
    </>
  );
}

/** What the chosen rule does and what it needs, under the form. */
function RuleHint({ kind, clusters }: { kind: RuleKind; clusters: ClusterInfo | null }) {
  return (
    <>
      {kind.startsWith('ifd') && (
        <p className="muted hint">
          IFD &gt; 1 means the prompt makes the answer harder to predict; the IFD paper drops those rows, then keeps the highest
          {kind === 'ifd_top_percent' ? ' percent of the rest' : ''}. Needs the <code>ifd</code> score.
        </p>
      )}
      {kind.startsWith('cluster_quota') && (
        <p className="muted hint" data-testid="subset-cluster-hint">
          {clusters
            ? `Uses K-means run ${clusters.runId}: k = ${clusters.k}, seed ${clusters.seed}, cluster sizes ${clusters.sizes.slice(0, 10).join(' · ')}${clusters.sizes.length > 10 ? ' …' : ''}. Rows without a value of the ranking column are left out.`
            : 'No clusters yet: run K-means on the Map screen (Clusters), then come back.'}
        </p>
      )}
      {kind === 'kcenter' && (
        <p className="muted hint">
          Greedy k-center: from a seeded random row, keep taking the row farthest from those taken, so the subset covers the embedding
          space; the rule records the radius within which every candidate lies. Runs as a job; needs the <code>embedding</code> score.
        </p>
      )}
      {kind === 's2l' && (
        <p className="muted hint" data-testid="subset-s2l-hint">
          S2L: K-means on each row&apos;s loss trajectory (its loss at every checkpoint of the chosen run), then the count is spread over
          the clusters, smallest first, each taking its even share of what is left. Train a small model with &ldquo;Record loss
          trajectories&rdquo; on to get a run.
        </p>
      )}
      {kind === 'uds' && (
        <p className="muted hint" data-testid="subset-uds-hint">
          UDS: the rows in order, in batches; each row scored by the nuclear norm of the model&apos;s logits plus λ × its distance to a
          buffer of rows kept before, and the best share of each batch kept. One forward pass per batch; runs as a job.
        </p>
      )}
    </>
  );
}

/** `created`: the subset made last, here or by Combine (shown under the form). */
export function NewSubsetCard({ list, history, created, setCreated }: {
  list: CallState<SubsetInfo[]>;
  history: ReturnType<typeof useSubsetHistory>;
  created: SubsetInfo | null;
  setCreated: (subset: SubsetInfo | null) => void;
}) {
  const { client, datasetId, project } = useApp();
  const columnsQuery = useCall('examples.query', datasetId === null ? null : { datasetId, limit: 1 });
  const columns = [...new Set([...(columnsQuery.data?.columns ?? []), 'n_chars'])];
  const [name, setName] = useState('');
  const [form, setForm] = useState<RuleForm>(EMPTY_FORM);
  const set: SetField = (key) => (value) => setForm((f) => ({ ...f, [key]: value }));
  const runs = useCall('train.list', form.kind === 's2l' ? {} : null);
  // runs that recorded loss trajectories (S2L needs them), newest first
  const trajectoryRuns = (runs.data ?? []).filter((r) => r.config.recordTrajectories && r.status === 'done').reverse();
  const s2lRunId = form.s2lRun || String(trajectoryRuns[0]?.id ?? '');
  const models = project?.models ?? [];
  const udsModelId = form.udsModel || String(models[0]?.id ?? '');
  const clusters = useCall('clusters.info', datasetId === null ? null : { datasetId });
  const column = form.signal || columns.find((c) => c === 'mean_loss') || columns[0] || '';
  const [error, setError] = useState<ApiError | null>(null);
  const [localError, setLocalError] = useState<string | null>(null);
  // k-center and UDS run as a job (its label names the subset); when it is done, the new subset joins the list and the undo history
  const [jobLabel, setJobLabel] = useState<string | null>(null);
  const job = useStartJob('subsets.start', (done) => {
    const subsetId = Number(done.stats.subsetId);
    setJobLabel(null);
    void client.call('subsets.list', {}).then((r) => {
      const made = r.ok ? r.value.find((x) => x.id === subsetId) : undefined;
      if (made) {
        setCreated(made);
        history.record(opOf('create', made));
      }
      list.reload();
    });
  });

  const create = async () => {
    const rule = buildRule(form, { column, clusters: clusters.data, s2lRunId, udsModelId });
    if (typeof rule === 'string') {
      setLocalError(rule);
      return;
    }
    setLocalError(null);
    if (rule.kind === 'kcenter' || rule.kind === 'uds') {
      setError(null);
      if (await job.start({ name: name.trim(), rule, datasetId: datasetId ?? undefined })) {
        setJobLabel(`${rule.kind === 'uds' ? 'UDS' : 'k-center'} “${name.trim()}”`);
        setCreated(null);
        setName('');
      }
      return;
    }
    const r = await client.call('subsets.create', { name: name.trim(), rule, datasetId: datasetId ?? undefined });
    job.setError(null);
    setError(r.ok ? null : r.error);
    if (r.ok) {
      setCreated(r.value);
      setName('');
      history.record(opOf('create', r.value));
      list.reload();
    }
  };

  return (
    <section className="card">
      <h2>New subset</h2>
      <div className="form-row">
        <TextField label="Name" testId="subset-name" width="grow" value={name} placeholder="hardest-500" onChange={setName} />
        <RuleFields
          form={form}
          set={set}
          columns={columns}
          column={column}
          subsets={list.data}
          trajectoryRuns={trajectoryRuns}
          s2lRunId={s2lRunId}
          models={models}
          udsModelId={udsModelId}
        />
        <button className="btn btn-primary" data-testid="subset-create" disabled={!name.trim()} onClick={() => void create()}>
          Create
        </button>
      </div>
      {localError && (
        <div className="error-text" role="alert" data-testid="subset-form-error">
          {localError}
        </div>
      )}
      <RuleHint kind={form.kind} clusters={clusters.data} />
      <ErrorText error={error ?? job.error} testId="subset-error" />
      {jobLabel && job.jobId && <JobProgress jobId={job.jobId} label={jobLabel} />}
      {created && (
        <div className="ok-text" data-testid="subset-created" data-size={created.size}>
          Created “{created.name}” with {plural(created.size, 'row')}.
        </div>
      )}
    </section>
  );
}
