/**
 * Subsets: create one from a rule (top-k, top-k%, threshold, random, IFD's drop-then-top, n or n% per K-means cluster,
 * k-center diversity, S2L over a run's loss trajectories, UDS over a model's logits), combine existing ones (union, intersection, difference), list them with size and rule,
 * delete; undo/redo of create and delete. k-center and UDS run as a job with progress and cancel. A stale subset (its dataset
 * was re-mapped) can be recreated in place from its stored rule; that is not on the undo stack (its old rows are gone).
 */
import { useEffect, useState } from 'react';
import type { ApiError, SubsetInfo, SubsetRule } from '../../../../preload/contract';
import { useApp, useCall, useJob } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { ModelField, SelectField, TextField } from '../../components/Field';
import { JobProgress } from '../../components/JobProgress';
import { fmtNum, parseOptionalNumber, plural } from '../../components/format';
import { STALE_ADVICE, StaleMark, staleTitle, subsetOptionText } from '../../components/StaleSubset';
import { opOf, useSubsetHistory } from './useSubsetHistory';
import { CurrentDataset } from '../../components/CurrentDataset';
import { ItemActions } from '../../components/ItemActions';

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
const COMBINE_OPS = [
  ['union', 'union (in any)'],
  ['intersection', 'intersection (in all)'],
  ['difference', 'difference (first minus the others)'],
] as const;
type CombineOp = (typeof COMBINE_OPS)[number][0];
const DIRS = [
  ['desc', 'highest'],
  ['asc', 'lowest'],
] as const;

/**
 * A rule in words. `names`: the project's subsets by id, for a rule that refers to one by id alone (an older rule
 * stored no name): it is named as it is called now, or said to be deleted, never "subset #N".
 */
export function describeRule(rule: SubsetRule, names: ReadonlyMap<number, string> = new Map()): string {
  const subsetName = (id: number) => (names.has(id) ? `“${names.get(id)}”` : 'a deleted subset');
  switch (rule.kind) {
    case 'all':
      return 'all rows';
    case 'top': {
      const end = rule.dir === 'asc' ? 'lowest' : 'highest';
      return rule.percent !== undefined ? `${end} ${rule.percent}% by ${rule.signal}` : `${end} ${rule.count} by ${rule.signal}`;
    }
    case 'threshold':
      return `${rule.min ?? '−∞'} ≤ ${rule.signal} ≤ ${rule.max ?? '∞'}`;
    case 'random':
      return `random ${rule.count} (seed ${rule.seed})`;
    case 'ifd_top':
      return `ifd ≤ 1, then highest ${rule.percent !== undefined ? `${rule.percent}%` : rule.count} by ifd`;
    case 'cluster_quota': {
      const n = rule.percent !== undefined ? `${rule.percent}%` : String(rule.count);
      const by = rule.signal ? `${rule.dir === 'asc' ? 'lowest' : 'highest'} by ${rule.signal}` : `random (seed ${rule.seed})`;
      const run = rule.clusterRunId !== undefined ? ` of K-means run ${rule.clusterRunId}${rule.k ? ` (k = ${rule.k})` : ''}` : '';
      return `${n} per cluster${run}, ${by}`;
    }
    case 'kcenter': {
      const within = rule.subsetName ? ` within “${rule.subsetName}”` : rule.subsetId !== undefined ? ` within ${subsetName(rule.subsetId)}` : '';
      const radius = rule.radius !== undefined ? `; every row within ${rule.radius.toPrecision(3)} of one picked` : '';
      return `k-center ${rule.count} on embedding${within} (seed ${rule.seed})${radius}`;
    }
    case 's2l':
      return `S2L ${rule.count} from the loss trajectories of run #${rule.runId} (${rule.clusters} clusters, seed ${rule.seed})`;
    case 'uds':
      return `UDS: best ${Math.round(rule.keep * 100)}% of each batch of ${rule.batchSize} under model #${rule.modelId} (λ = ${rule.lambda}, buffer ${rule.bufferSize})`;
    case 'ids':
      return `${rule.ids.length} picked rows${rule.source ? ` (${rule.source})` : ''}`;
    case 'combine': {
      const names = rule.names ?? rule.subsetIds.map((id) => `#${id}`);
      const sym = rule.op === 'union' ? ' ∪ ' : rule.op === 'intersection' ? ' ∩ ' : ' − ';
      return names.join(sym);
    }
  }
}

/** Why a subset's rule cannot be run again, for the Recreate button's title (the engine refuses the same cases). */
function whyNotRecreatable(s: SubsetInfo, all: SubsetInfo[]): string | null {
  const rule = s.rule;
  if (rule.kind === 'ids') return `Hand-picked rows${rule.source ? ` (${rule.source})` : ''} have no rule to run again: delete the subset and pick the rows again.`;
  if (rule.kind === 'uds') return 'A UDS pass runs a model over every row: make it again as a new subset.';
  const sources = rule.kind === 'combine' ? rule.subsetIds : rule.kind === 'kcenter' && rule.subsetId !== undefined ? [rule.subsetId] : [];
  const gone = sources.filter((id) => !all.some((x) => x.id === id));
  if (gone.length) return `Made from subset${gone.length > 1 ? 's' : ''} ${gone.map((id) => `#${id}`).join(', ')}, which no longer exist${gone.length > 1 ? '' : 's'}: it cannot be made again.`;
  return null;
}

export function SubsetsScreen() {
  const { client, datasetId, project } = useApp();
  const list = useCall('subsets.list', {});
  const columnsQuery = useCall('examples.query', datasetId === null ? null : { datasetId, limit: 1 });
  const columns = [...new Set([...(columnsQuery.data?.columns ?? []), 'n_chars'])];
  const [name, setName] = useState('');
  const [kind, setKind] = useState<RuleKind>('top');
  const [signal, setSignal] = useState('');
  const [amount, setAmount] = useState('100');
  const [dir, setDir] = useState<'desc' | 'asc'>('desc');
  const [min, setMin] = useState('');
  const [max, setMax] = useState('');
  const [seed, setSeed] = useState('0');
  const [rankBy, setRankBy] = useState('');
  const [within, setWithin] = useState('');
  const [selectJob, setSelectJob] = useState<{ jobId: string; name: string; label: string } | null>(null);
  const [s2lRun, setS2lRun] = useState('');
  const [s2lClusters, setS2lClusters] = useState('10');
  const [udsModel, setUdsModel] = useState('');
  const [udsBatch, setUdsBatch] = useState('8');
  const [udsLambda, setUdsLambda] = useState('0.0025');
  const [udsBuffer, setUdsBuffer] = useState('1024');
  const runs = useCall('train.list', kind === 's2l' ? {} : null);
  // runs that recorded loss trajectories (S2L needs them), newest first
  const trajectoryRuns = (runs.data ?? []).filter((r) => r.config.recordTrajectories && r.status === 'done').reverse();
  const s2lRunId = s2lRun || String(trajectoryRuns[0]?.id ?? '');
  const models = project?.models ?? [];
  const udsModelId = udsModel || String(models[0]?.id ?? '');
  const clusters = useCall('clusters.info', datasetId === null ? null : { datasetId });
  const [error, setError] = useState<ApiError | null>(null);
  const [localError, setLocalError] = useState<string | null>(null);
  const [created, setCreated] = useState<SubsetInfo | null>(null);
  const column = signal || columns.find((c) => c === 'mean_loss') || columns[0] || '';
  const history = useSubsetHistory(list.reload);
  const [picked, setPicked] = useState<number[]>([]);
  const [combineName, setCombineName] = useState('');
  const [combineOp, setCombineOp] = useState<CombineOp>('union');
  const [combineError, setCombineError] = useState<ApiError | null>(null);
  const [recreateErrors, setRecreateErrors] = useState<Record<number, ApiError>>({});
  const [recreating, setRecreating] = useState<number | null>(null);
  const livePicked = picked.filter((id) => list.data?.some((s) => s.id === id));

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return;
      if (!(e.ctrlKey || e.metaKey) || e.key.toLowerCase() !== 'z') return;
      e.preventDefault();
      void (e.shiftKey ? history.redo() : history.undo());
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  const buildRule = (): SubsetRule | string => {
    const n = Number(amount);
    switch (kind) {
      case 'top':
        if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
        return { kind: 'top', signal: column, count: n, dir };
      case 'top_percent':
        if (!(n > 0 && n <= 100)) return 'Percent must be more than 0 and at most 100.';
        return { kind: 'top', signal: column, percent: n, dir };
      case 'threshold': {
        const lo = parseOptionalNumber(min);
        const hi = parseOptionalNumber(max);
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
        const s = Number(seed);
        if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
        if (!Number.isInteger(s)) return 'Seed must be a whole number.';
        return { kind: 'random', count: n, seed: s };
      }
      case 'cluster_quota':
      case 'cluster_quota_percent': {
        const s = Number(seed);
        if (!clusters.data) return 'No clusters yet: run K-means on the Map screen first.';
        if (kind === 'cluster_quota' && (!Number.isInteger(n) || n <= 0)) return 'Count must be a positive whole number.';
        if (kind === 'cluster_quota_percent' && !(n > 0 && n <= 100)) return 'Percent must be more than 0 and at most 100.';
        if (!Number.isInteger(s)) return 'Seed must be a whole number.';
        const by = rankBy || column;
        return {
          kind: 'cluster_quota',
          ...(kind === 'cluster_quota' ? { count: n } : { percent: n }),
          ...(by === RANDOM ? { dir, seed: s } : { signal: by, dir, seed: s }),
          clusterRunId: clusters.data.runId,
        };
      }
      case 'kcenter': {
        const s = Number(seed);
        if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
        if (!Number.isInteger(s)) return 'Seed must be a whole number.';
        return { kind: 'kcenter', count: n, seed: s, ...(within ? { subsetId: Number(within) } : {}) };
      }
      case 's2l': {
        const s = Number(seed);
        const k = Number(s2lClusters);
        if (!s2lRunId) return 'No training run recorded loss trajectories: train with "Record loss trajectories" on first.';
        if (!Number.isInteger(n) || n <= 0) return 'Count must be a positive whole number.';
        if (!Number.isInteger(k) || k <= 0) return 'Clusters must be a positive whole number.';
        if (!Number.isInteger(s)) return 'Seed must be a whole number.';
        return { kind: 's2l', runId: Number(s2lRunId), count: n, clusters: k, seed: s };
      }
      case 'uds': {
        const s = Number(seed);
        const b = Number(udsBatch);
        const lambda = Number(udsLambda);
        const buf = Number(udsBuffer);
        if (!udsModelId) return 'No model: add one on the Data screen first.';
        if (!(n > 0 && n <= 100)) return 'Keep percent must be more than 0 and at most 100.';
        if (!Number.isInteger(b) || b < 2) return 'Batch must be a whole number of at least 2.';
        if (!(lambda >= 0) || udsLambda.trim() === '') return 'λ must be a number ≥ 0.';
        if (!Number.isInteger(buf) || buf <= 0) return 'Buffer must be a positive whole number.';
        if (!Number.isInteger(s)) return 'Seed must be a whole number.';
        return { kind: 'uds', modelId: Number(udsModelId), keep: n / 100, batchSize: b, bufferSize: buf, lambda, seed: s, maxTokens: 256 };
      }
    }
  };

  // k-center: a job; when it is done, the new subset joins the list and the undo history
  const selectState = useJob(selectJob?.jobId);
  useEffect(() => {
    if (!selectJob || selectState?.status !== 'done') return;
    const subsetId = Number(selectState.stats.subsetId);
    setSelectJob(null);
    void client.call('subsets.list', {}).then((r) => {
      const made = r.ok ? r.value.find((x) => x.id === subsetId) : undefined;
      if (made) {
        setCreated(made);
        history.record(opOf('create', made));
      }
      list.reload();
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selectState?.status]);

  const create = async () => {
    const rule = buildRule();
    if (typeof rule === 'string') {
      setLocalError(rule);
      return;
    }
    setLocalError(null);
    if (rule.kind === 'kcenter' || rule.kind === 'uds') {
      const r = await client.call('subsets.start', { name: name.trim(), rule, datasetId: datasetId ?? undefined });
      setError(r.ok ? null : r.error);
      if (r.ok) {
        setSelectJob({ jobId: r.value.jobId, name: name.trim(), label: rule.kind === 'uds' ? 'UDS' : 'k-center' });
        setCreated(null);
        setName('');
      }
      return;
    }
    const r = await client.call('subsets.create', { name: name.trim(), rule, datasetId: datasetId ?? undefined });
    setError(r.ok ? null : r.error);
    if (r.ok) {
      setCreated(r.value);
      setName('');
      history.record(opOf('create', r.value));
      list.reload();
    }
  };

  // deleted after its dependency report (components/ItemActions.tsx): on the undo stack, recreated from its rule on undo
  const deleted = (subset: SubsetInfo) => {
    history.record(opOf('delete', subset));
    setPicked((p) => p.filter((id) => id !== subset.id));
  };

  // the stored rule again, in place (same id and name); on failure the old subset stays and the error shows in its row
  const recreate = async (subset: SubsetInfo) => {
    setRecreating(subset.id);
    const r = await client.call('subsets.recreate', { subsetId: subset.id });
    setRecreating(null);
    setRecreateErrors(({ [subset.id]: _, ...rest }) => (r.ok ? rest : { ...rest, [subset.id]: r.error }));
    list.reload();
  };

  const combine = async () => {
    const r = await client.call('subsets.combine', { name: combineName.trim(), op: combineOp, subsetIds: livePicked });
    setCombineError(r.ok ? null : r.error);
    if (r.ok) {
      setCreated(r.value);
      setCombineName('');
      setPicked([]);
      history.record(opOf('create', r.value));
      list.reload();
    }
  };
  const nameOf = (id: number) => list.data?.find((s) => s.id === id)?.name ?? `#${id}`;
  const subsetNames = new Map((list.data ?? []).map((s) => [s.id, s.name]));
  const sym = combineOp === 'union' ? ' ∪ ' : combineOp === 'intersection' ? ' ∩ ' : ' − ';

  return (
    <div className="screen" data-testid="screen-subsets">
      <div className="toolbar">
        <h1>Subsets</h1>
        <CurrentDataset />
        <span className="spacer" />
        <button
          className="btn btn-small"
          data-testid="subset-undo"
          data-count={history.undoCount}
          disabled={!history.canUndo}
          title={history.canUndo ? `Undo ${history.undoLabel} (Ctrl+Z)` : 'Nothing to undo'}
          onClick={() => void history.undo()}
        >
          ↶ Undo{history.canUndo ? ` ${history.undoLabel}` : ''}
        </button>
        <button
          className="btn btn-small"
          data-testid="subset-redo"
          data-count={history.redoCount}
          disabled={!history.canRedo}
          title={history.canRedo ? `Redo ${history.redoLabel} (Ctrl+Shift+Z)` : 'Nothing to redo'}
          onClick={() => void history.redo()}
        >
          ↷ Redo{history.canRedo ? ` ${history.redoLabel}` : ''}
        </button>
      </div>
      <ErrorText error={history.error} testId="subset-history-error" />
      <section className="card">
        <h2>New subset</h2>
        <div className="form-row">
          <TextField label="Name" testId="subset-name" width="grow" value={name} placeholder="hardest-500" onChange={setName} />
          <SelectField label="Rule" testId="subset-kind" value={kind} onChange={setKind} options={RULE_KINDS} />
          {kind.startsWith('cluster_quota') && (
            <label className="field">
              <span>Rank by</span>
              <select data-testid="subset-rank-by" value={rankBy || column} onChange={(e) => setRankBy(e.target.value)}>
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
              <select data-testid="subset-within" value={within} onChange={(e) => setWithin(e.target.value)}>
                <option value="">all rows with an embedding</option>
                {list.data?.map((s) => (
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
                <select data-testid="subset-s2l-run" value={s2lRunId} onChange={(e) => setS2lRun(e.target.value)}>
                  {!trajectoryRuns.length && <option value="">no run with trajectories</option>}
                  {trajectoryRuns.map((r) => (
                    <option key={r.id} value={r.id}>
                      run #{r.id} ({r.totalSteps} steps, checkpoint every {r.config.checkpointEvery})
                    </option>
                  ))}
                </select>
              </label>
              <TextField label="Clusters" testId="subset-s2l-clusters" width="narrow" inputMode="numeric" value={s2lClusters} onChange={setS2lClusters} />
            </>
          )}
          {kind === 'uds' && (
            <>
              <ModelField testId="subset-uds-model" value={udsModelId ? Number(udsModelId) : null} onChange={(id) => setUdsModel(String(id))} models={models} />
              <TextField label="Batch" testId="subset-uds-batch" width="narrow" inputMode="numeric" value={udsBatch} onChange={setUdsBatch} />
              <TextField label="λ" testId="subset-uds-lambda" width="narrow" inputMode="decimal" value={udsLambda} onChange={setUdsLambda} />
              <TextField label="Buffer" testId="subset-uds-buffer" width="narrow" inputMode="numeric" value={udsBuffer} onChange={setUdsBuffer} />
            </>
          )}
          {!['random', 'kcenter', 's2l', 'uds'].includes(kind) && !kind.startsWith('ifd') && !kind.startsWith('cluster_quota') && (
            <SelectField label="Column" testId="subset-column" value={column} onChange={setSignal} options={columns.map((c) => [c, c] as const)} />
          )}
          {kind !== 'threshold' && (
            <TextField
              label={kind.endsWith('percent') ? 'Percent' : kind === 'uds' ? 'Keep %' : kind.startsWith('cluster_quota') ? 'Per cluster' : 'Count'}
              testId="subset-amount"
              width="narrow"
              inputMode="decimal"
              value={amount}
              onChange={setAmount}
            />
          )}
          {(kind === 'top' || kind === 'top_percent' || (kind.startsWith('cluster_quota') && (rankBy || column) !== RANDOM)) && (
            <SelectField label="Keep" testId="subset-dir" value={dir} onChange={setDir} options={DIRS} />
          )}
          {kind === 'threshold' && (
            <>
              <TextField label="Min" testId="subset-min" width="narrow" inputMode="decimal" value={min} onChange={setMin} />
              <TextField label="Max" testId="subset-max" width="narrow" inputMode="decimal" value={max} onChange={setMax} />
            </>
          )}
          {(kind === 'random' || kind === 'kcenter' || kind === 's2l' || kind === 'uds' || kind.startsWith('cluster_quota')) && (
            <TextField label="Seed" testId="subset-seed" width="narrow" inputMode="numeric" value={seed} onChange={setSeed} />
          )}
          <button className="btn btn-primary" data-testid="subset-create" disabled={!name.trim()} onClick={() => void create()}>
            Create
          </button>
        </div>
        {localError && (
          <div className="error-text" role="alert" data-testid="subset-form-error">
            {localError}
          </div>
        )}
        {kind.startsWith('ifd') && (
          <p className="muted hint">
            IFD &gt; 1 means the prompt makes the answer harder to predict; the IFD paper drops those rows, then keeps the highest
            {kind === 'ifd_top_percent' ? ' percent of the rest' : ''}. Needs the <code>ifd</code> score.
          </p>
        )}
        {kind.startsWith('cluster_quota') && (
          <p className="muted hint" data-testid="subset-cluster-hint">
            {clusters.data
              ? `Uses K-means run ${clusters.data.runId}: k = ${clusters.data.k}, seed ${clusters.data.seed}, cluster sizes ${clusters.data.sizes.slice(0, 10).join(' · ')}${clusters.data.sizes.length > 10 ? ' …' : ''}. Rows without a value of the ranking column are left out.`
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
        <ErrorText error={error} testId="subset-error" />
        {selectJob && <JobProgress jobId={selectJob.jobId} label={`${selectJob.label} “${selectJob.name}”`} />}
        {created && (
          <div className="ok-text" data-testid="subset-created" data-size={created.size}>
            Created “{created.name}” with {plural(created.size, 'row')}.
          </div>
        )}
      </section>
      <section className="card">
        <h2>Subsets</h2>
        <ErrorText error={list.error} />
        {list.data && list.data.length === 0 && (
          <EmptyState title="No subsets yet" testId="subsets-empty">
            {project && project.datasets.length === 0 ? (
              <>
                Import a dataset on the <a href="#/data">Data</a> screen, score it on <a href="#/score">Score</a>, then keep the rows you want
                with a rule above.
              </>
            ) : (
              <>
                Keep the rows you want with a rule above — e.g. the 500 with the highest <code>mean_loss</code> (score it on{' '}
                <a href="#/score?signals=mean_loss">Score</a>), a seeded random sample, or n per K-means cluster (run it on the <a href="#/map">Map</a>).
              </>
            )}
          </EmptyState>
        )}
        {list.data && list.data.length > 0 && (
          <table className="simple-table" data-testid="subsets-table">
            <thead>
              <tr>
                <th title="Pick subsets to combine">Pick</th>
                <th>Name</th>
                <th className="num">Rows</th>
                <th>Rule</th>
                <th className="num">Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((s) => (
                <tr key={s.id} data-testid="subset-row" data-subset-id={s.id} data-name={s.name} data-stale={s.staleReason ? 'true' : 'false'} className={livePicked.includes(s.id) ? 'selected' : ''}>
                  <td>
                    <label className="check pick">
                      <input
                        type="checkbox"
                        data-testid="subset-pick"
                        checked={livePicked.includes(s.id)}
                        onChange={(e) => setPicked((p) => (e.target.checked ? [...p.filter((x) => x !== s.id), s.id] : p.filter((x) => x !== s.id)))}
                      />
                      {livePicked.includes(s.id) && <span className="pick-order num">{livePicked.indexOf(s.id) + 1}</span>}
                    </label>
                  </td>
                  <td>
                    {s.name}
                    <StaleMark subset={s} testId="subset-stale" />
                    {s.staleReason && (
                      <div className="stale-reason" data-testid="subset-stale-reason">
                        {s.staleReason}. {STALE_ADVICE}
                      </div>
                    )}
                    <ErrorText error={recreateErrors[s.id] ?? null} testId="subset-recreate-error" />
                  </td>
                  <td className="num" data-testid="subset-size">
                    {fmtNum(s.size)}
                  </td>
                  <td>{describeRule(s.rule, subsetNames)}</td>
                  <td className="num">{new Date(s.createdAt).toLocaleString()}</td>
                  <td>
                    {s.staleReason && (() => {
                      const why = whyNotRecreatable(s, list.data ?? []);
                      return (
                        <button
                          className="btn btn-small"
                          data-testid="subset-recreate"
                          disabled={why !== null || recreating !== null}
                          title={why ?? `Run the rule again (${describeRule(s.rule, subsetNames)}) on the dataset as it is now and put the rows in place of these, under the same name. Not undoable.`}
                          onClick={() => void recreate(s)}
                        >
                          {recreating === s.id ? 'Recreating…' : 'Recreate'}
                        </button>
                      );
                    })()}{' '}
                    <ItemActions kind="subset" id={s.id} name={s.name} onChanged={list.reload} onDeleted={() => deleted(s)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {list.data && list.data.length > 0 && (
          <div className="combine" data-testid="combine">
            <h3>Combine</h3>
            <div className="form-row">
              <SelectField label="Operation" testId="combine-op" value={combineOp} onChange={setCombineOp} options={COMBINE_OPS} />
              <TextField label="Name" testId="combine-name" width="grow" value={combineName} placeholder="hard-and-long" onChange={setCombineName} />
              <button
                className="btn btn-primary"
                data-testid="combine-create"
                disabled={livePicked.length < 2 || !combineName.trim()}
                onClick={() => void combine()}
              >
                Combine
              </button>
            </div>
            <p className="muted hint" data-testid="combine-preview">
              {livePicked.length < 2 ? 'Pick two or more subsets in the table (the order you pick them in matters for difference).' : livePicked.map(nameOf).join(sym)}
            </p>
            <ErrorText error={combineError} testId="combine-error" />
          </div>
        )}
      </section>
    </div>
  );
}
