/**
 * Parameter masks (salience, gps) on the Layers screen: which entries of the chosen tensors a run may change, from one
 * gradient pass over the rows. The scope is the grid's current choice (or every tensor); the mask's trainable count
 * is shown next to the scope's; "Train with" opens the Train form with the mask picked. The rows a training run holds
 * out for eval (its "eval rows %" and seed, the Train form's defaults here) are left out of the pass.
 */
import { useState } from 'react';
import type { ApiInput, ParamMaskInfo } from '../../../../preload/contract';
import { type CallState, useApp, useCall, useStartJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { SelectField, SubsetField, TextField } from '../../components/Field';
import { JobProgress } from '../../components/JobProgress';
import { fmtCount, fmtNum } from '../../components/format';
import { ItemActions } from '../../components/ItemActions';
import { TokenPolicyFields, tokenPolicyInput, useTokenPolicy } from '../../components/TokenPolicyFields';

const METRICS = [
  ['abs_wg', '|w·Σg| (saliency)'],
  ['abs_g', '|Σg| (gradient)'],
  ['sq_wg', '(w·Σg)² (Taylor-FO)'],
] as const satisfies ReadonlyArray<readonly [ParamMaskInfo['metric'] & string, string]>;
/** metrics of masks saved by earlier versions, named for what they computed */
const OLD_METRICS: Record<string, string> = { sq_wg_per_example: 'w²·Σg² (per-example squares, an older mask)' };
const METHODS = [
  ['salience', 'salience'],
  ['gps', 'gps (per output row)'],
] as const;
const TOPK = [
  ['global', 'the whole scope'],
  ['per_tensor', 'each tensor'],
] as const;
// the pass counts the label mask (with hand-edited masks where saved) or every token
const POLICIES = ['response', 'all'] as const;

export function describeMask(m: ParamMaskInfo): string {
  if (m.method === 'gps') return `gps, ${m.perRow !== null ? `${m.perRow} inputs per row` : `${fmtNum(100 * (m.density ?? 0))}% of each row`}`;
  const label = METRICS.find(([k]) => k === m.metric)?.[1] ?? OLD_METRICS[m.metric ?? ''] ?? m.metric;
  const scored = m.provenance.tensorsScored === 'linear' ? ' linear matrices' : m.provenance.tensorsScored === 'all' ? ' all tensors' : '';
  return `salience ${label}, ${fmtNum(100 * (m.density ?? 0))}% ${m.topk === 'global' ? `of the scope${scored}` : `per tensor${scored ? ` (${scored.trim()})` : ''}`}`;
}

/** The eval split a mask's pass left out, from its provenance. */
export function describeEvalSplit(m: ParamMaskInfo): string {
  const e = m.provenance.evalSplit as { fraction: number; seed: number; heldOut: number } | null | undefined;
  if (!e) return 'none left out';
  return `${fmtNum(e.heldOut)} left out (${fmtNum(100 * e.fraction)}%, seed ${e.seed})`;
}

/**
 * Whether the mask's pass left out the eval rows of a run with these settings (same rows, token policy, max tokens,
 * eval fraction and seed pick the same split); a run with no eval rows has nothing to leave out.
 */
export function maskLeavesOutEval(
  m: ParamMaskInfo,
  run: { subsetId: number | null; datasetId: number | null; tokenPolicy: string; maxTokens: number; evalFraction: number; seed: number },
): boolean {
  if (!(run.evalFraction > 0)) return true;
  const p = m.provenance as { evalSplit?: { fraction: number; seed: number } | null; subsetId?: number | null; datasetId?: number | null; tokenPolicy?: { kind?: string }; maxTokens?: number };
  const sameRows = (p.subsetId ?? null) === run.subsetId && (run.subsetId !== null || (p.datasetId ?? null) === run.datasetId);
  return !!p.evalSplit && sameRows && p.evalSplit.fraction === run.evalFraction && p.evalSplit.seed === run.seed && p.tokenPolicy?.kind === run.tokenPolicy && p.maxTokens === run.maxTokens;
}

const pct = (part: number, whole: number) => `${((100 * part) / Math.max(1, whole)).toFixed(part / Math.max(1, whole) < 0.01 ? 2 : 1)}%`;

export function ParamMaskPanel({ modelId, scope }: { modelId: number; scope: string | null }) {
  const { datasetId } = useApp();
  const masks = useCall('paramMasks.list', { modelId });
  const subsets = useCall('subsets.list', {});
  const [method, setMethod] = useState<'salience' | 'gps'>('salience');
  const [metric, setMetric] = useState<'abs_g' | 'abs_wg' | 'sq_wg'>('abs_wg');
  const [densityPct, setDensityPct] = useState('1');
  const [topk, setTopk] = useState<'global' | 'per_tensor'>('global');
  const [allParams, setAllParams] = useState(false);
  const [perRow, setPerRow] = useState('4');
  const [subsetId, setSubsetId] = useState<number | null>(null);
  const [examples, setExamples] = useState('100');
  const [tokens, setTokens] = useTokenPolicy();
  // the Train form's defaults: a run started from there holds out these rows
  const [evalPercent, setEvalPercent] = useState('5');
  const [evalSeed, setEvalSeed] = useState('0');
  const [name, setName] = useState('');
  const [made, setMade] = useState<string | null>(null);
  const scopeSpec = scope ?? 'all';
  const { jobId, error, start } = useStartJob('paramMasks.compute', (job) => {
    if (job.status === 'done') {
      setMade(typeof job.stats.maskId === 'number' ? String(job.stats.maskId) : null);
      masks.reload();
    }
  });

  const compute = async () => {
    const input: ApiInput<'paramMasks.compute'> = {
      name: name.trim(),
      modelId,
      method,
      scope: scopeSpec,
      subsetId,
      datasetId: subsetId === null ? (datasetId ?? undefined) : undefined,
      examples: Number(examples),
      evalFraction: Number(evalPercent) / 100,
      evalSeed: Number(evalSeed),
      // hand-edited masks (saved as "edited") replace the template mask where they exist, as in training
      ...tokenPolicyInput(tokens),
      ...(method === 'salience' ? { metric, density: Number(densityPct) / 100, topk, allParams } : { perRow: Number(perRow) }),
    };
    if (await start(input)) {
      setMade(null);
      setName('');
    }
  };

  return (
    <section className="card" data-testid="param-mask-panel">
      <h2>Parameter mask</h2>
      <p className="muted hint">
        Train only some entries of the chosen tensors, picked from one gradient pass over the rows: <b>salience</b> keeps the entries with the highest score
        (of the whole scope or of each tensor), <b>gps</b> keeps, for every output row of each matrix, the inputs with the largest accumulated gradient. Every
        other entry stays exactly as in the base model.
      </p>
      <div className="form-row">
        <SelectField label="Method" testId="pm-method" value={method} onChange={setMethod} options={METHODS} />
        {method === 'salience' ? (
          <>
            <SelectField label="Metric" testId="pm-metric" value={metric} onChange={setMetric} options={METRICS} />
            <TextField label="Density %" testId="pm-density" width="narrow" inputMode="decimal" value={densityPct} onChange={setDensityPct} />
            <SelectField label="Top-k over" testId="pm-topk" value={topk} onChange={setTopk} options={TOPK} />
            <label className="check" title="SPEFT scores the linear weight matrices only; tick to let embeddings, norms, biases and the LM head compete too">
              <input type="checkbox" data-testid="pm-all-params" checked={allParams} onChange={(e) => setAllParams(e.target.checked)} /> score all tensors, not only linear weights
            </label>
          </>
        ) : (
          <TextField label="Inputs per row" testId="pm-per-row" width="narrow" inputMode="numeric" value={perRow} onChange={setPerRow} />
        )}
      </div>
      <div className="form-row">
        <SubsetField testId="pm-subset" value={subsetId} onChange={setSubsetId} subsets={subsets.data} />
        <TextField
          label="Examples"
          testId="pm-examples"
          width="narrow"
          inputMode="numeric"
          value={examples}
          onChange={setExamples}
          title="a seeded choice of this many rows with trainable tokens; one backward pass each"
        />
        <TokenPolicyFields label="Tokens" testIdPrefix="pm" value={tokens} onChange={setTokens} policies={POLICIES} />
        <TextField
          label="Eval rows %"
          testId="pm-eval-percent"
          width="narrow"
          inputMode="decimal"
          value={evalPercent}
          onChange={setEvalPercent}
          title="left out of the pass: the rows a training run on the same rows holds out for its eval loss at this “eval rows %” and seed (0 leaves none out)"
        />
        <TextField
          label="Training seed"
          testId="pm-eval-seed"
          width="narrow"
          inputMode="numeric"
          value={evalSeed}
          onChange={setEvalSeed}
          title="the seed of the training run whose eval rows to leave out"
        />
        <TextField label="Name" testId="pm-name" width="grow" value={name} placeholder="salience-1pct" onChange={setName} />
        <button className="btn btn-primary" data-testid="pm-compute" disabled={!name.trim()} onClick={() => void compute()}>
          Compute mask
        </button>
      </div>
      <div className="spec-line">
        <span className="muted">Scope</span> <code data-testid="pm-scope">{scopeSpec}</code>{' '}
        <span className="muted">{scope ? '— the grid’s choice' : '— every tensor (choose tensors above to narrow it)'}</span>
      </div>
      <ErrorText error={error} testId="pm-error" />
      {jobId && <JobProgress jobId={jobId} label="parameter mask" />}
      {made && (
        <div className="ok-text" data-testid="pm-made">
          Mask computed.
        </div>
      )}
      <ParamMaskList modelId={modelId} masks={masks} />
    </section>
  );
}

/** The model's saved parameter masks: rule, scope, trainable count of the scope's, eval rows left out; "Train with" each. */
function ParamMaskList({ modelId, masks }: { modelId: number; masks: CallState<ParamMaskInfo[]> }) {
  const trainWith = (m: ParamMaskInfo) => {
    window.location.hash = `#/train?model=${modelId}&paramMask=${m.id}&layers=${encodeURIComponent(m.scope)}`;
  };
  return (
    <>
      <ErrorText error={masks.error} />
      {masks.data && masks.data.length === 0 && <div className="muted">No parameter masks for this model yet.</div>}
      {masks.data && masks.data.length > 0 && (
        <table className="simple-table" data-testid="pm-list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Rule</th>
              <th>Scope</th>
              <th className="num">Trainable entries</th>
              <th className="num">Tensors</th>
              <th className="num">Examples</th>
              <th>Eval rows</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {masks.data.map((m) => (
              <tr key={m.id} data-testid="pm-row" data-name={m.name} data-trainable={m.trainableParams} data-scope-params={m.scopeParams}>
                <td>{m.name}</td>
                <td>{describeMask(m)}</td>
                <td className="ellipsis spec-cell">
                  <code title={m.scope}>{m.scope}</code>
                </td>
                <td className="num" title={`${fmtNum(m.trainableParams)} of the scope's ${fmtNum(m.scopeParams)} parameters`}>
                  {fmtCount(m.trainableParams)} of {fmtCount(m.scopeParams)} ({pct(m.trainableParams, m.scopeParams)})
                </td>
                <td className="num">{m.tensors.length}</td>
                <td className="num">{fmtNum(Number(m.provenance.examples ?? 0))}</td>
                <td data-testid="pm-eval-split">{describeEvalSplit(m)}</td>
                <td className="actions">
                  <button className="btn btn-small" data-testid="pm-train" onClick={() => trainWith(m)}>
                    Train with
                  </button>
                  <ItemActions kind="param_mask" id={m.id} name={m.name} onChanged={masks.reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
