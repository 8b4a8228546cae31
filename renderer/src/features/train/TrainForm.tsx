/** The training form. Validation is the engine's: its message names the field at fault. */
import { useState } from 'react';
import type { ApiError, ApiInput } from '../../../../preload/contract';
import { useApp, useCall } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { fmtCount, fmtNum } from '../../components/format';

const mem = (b: number) => (b < 1024 ** 3 ? `${(b / 1024 ** 2).toFixed(1)} MiB` : `${(b / 1024 ** 3).toFixed(2)} GiB`);

const num = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

/** `#/train?layers=SPEC&model=ID[&paramMask=ID]` (from the Layers screen) pre-fills the form once, then leaves the URL clean. */
function takeHashParams(): { layers: string | null; model: number | null; paramMask: number | null } {
  const q = window.location.hash.split('?')[1];
  if (!q) return { layers: null, model: null, paramMask: null };
  const params = new URLSearchParams(q);
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}#/train`);
  const id = (k: string) => {
    const n = Number(params.get(k));
    return Number.isInteger(n) && n > 0 ? n : null;
  };
  return { layers: params.get('layers'), model: id('model'), paramMask: id('paramMask') };
}

export function TrainForm({ onStarted }: { onStarted: (runId: number, jobId: string) => void }) {
  const { client, project, datasetId } = useApp();
  const subsets = useCall('subsets.list', {});
  const models = project?.models ?? [];
  const [given] = useState(takeHashParams);
  const [modelId, setModelId] = useState<number | null>(given.model);
  const [subsetId, setSubsetId] = useState<number | null>(null);
  const [layerMode, setLayerMode] = useState<'last' | 'custom'>(given.layers ? 'custom' : 'last');
  const [lastN, setLastN] = useState('2');
  const [layersText, setLayersText] = useState(given.layers ?? 'all');
  const [steps, setSteps] = useState('50');
  const [batchSize, setBatchSize] = useState('4');
  const [lr, setLr] = useState('0.001');
  const [optimizer, setOptimizer] = useState<'adamw' | 'sgd'>('adamw');
  const [schedule, setSchedule] = useState<'constant' | 'linear' | 'cosine'>('cosine');
  const [warmup, setWarmup] = useState('0');
  const [maxTokens, setMaxTokens] = useState('256');
  const [tokenPolicy, setTokenPolicy] = useState<'response' | 'all' | 'top_percent'>('response');
  const [tokenSignal, setTokenSignal] = useState('excess_loss');
  const [tokenPercent, setTokenPercent] = useState('60');
  const [tokenScope, setTokenScope] = useState<'example' | 'global'>('example');
  const [useEdited, setUseEdited] = useState(true);
  const [paramMaskId, setParamMaskId] = useState<number | null>(given.paramMask);
  const [gradAccum, setGradAccum] = useState('1');
  const [weightDecay, setWeightDecay] = useState('0');
  const [clipNorm, setClipNorm] = useState('1');
  const [dft, setDft] = useState(false);
  const [evalEvery, setEvalEvery] = useState('10');
  const [evalPercent, setEvalPercent] = useState('5');
  const [checkpointEvery, setCheckpointEvery] = useState('20');
  const [seed, setSeed] = useState('0');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const model = modelId ?? models[0]?.id ?? null;
  const numLayers = models.find((m) => m.id === model)?.numLayers;
  const paramMasks = useCall('paramMasks.list', model === null ? null : { modelId: model });
  // a mask of another model cannot be used: it addresses that model's entries
  const paramMask = paramMasks.data?.find((m) => m.id === paramMaskId) ?? null;
  const layers = paramMask ? paramMask.scope : layerMode === 'last' ? `last:${lastN.trim()}` : layersText.trim();
  const bs = num(batchSize);
  const mt = num(maxTokens);
  const ga = num(gradAccum);
  const estimate = useCall(
    'train.estimate',
    model !== null && layers && Number.isInteger(bs) && bs > 0 && Number.isInteger(mt) && mt > 0 && Number.isInteger(ga) && ga > 0
      ? { modelId: model, layers, batchSize: bs, maxTokens: mt, gradAccum: ga, ...(paramMask ? { paramMaskId: paramMask.id } : {}) }
      : null,
  );
  const est = estimate.error ? null : estimate.data;

  const start = async () => {
    if (model === null) return;
    const config: ApiInput<'train.start'> = {
      modelId: model,
      subsetId,
      datasetId: datasetId ?? undefined,
      layers,
      ...(paramMask ? { paramMaskId: paramMask.id } : {}),
      steps: num(steps),
      batchSize: num(batchSize),
      gradAccum: num(gradAccum),
      lr: num(lr),
      weightDecay: num(weightDecay),
      // empty = no clipping
      clipNorm: clipNorm.trim() === '' ? null : num(clipNorm),
      dftWeight: dft,
      evalEvery: num(evalEvery),
      evalFraction: num(evalPercent) / 100,
      checkpointEvery: num(checkpointEvery),
      seed: num(seed),
      optimizer,
      schedule,
      warmupSteps: num(warmup),
      maxTokens: num(maxTokens),
      tokenPolicy,
      ...(tokenPolicy === 'top_percent' ? { tokenSignal, tokenPercent: num(tokenPercent), tokenScope } : {}),
      // masks edited by hand in the example view (saved as "edited") replace the template mask where they exist
      ...(tokenPolicy !== 'all' && useEdited ? { tokenMaskName: 'edited' } : {}),
    };
    setBusy(true);
    const r = await client.call('train.start', config);
    setBusy(false);
    setError(r.ok ? null : r.error);
    if (r.ok) onStarted(r.value.runId, r.value.jobId);
  };

  return (
    <section className="card">
      <h2>New training run</h2>
      <div className="form-row">
        <label className="field">
          <span>Model</span>
          <select data-testid="train-model" value={model ?? ''} onChange={(e) => setModelId(Number(e.target.value))}>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} ({m.numLayers} layers)
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Rows</span>
          <select data-testid="train-subset" value={subsetId ?? ''} onChange={(e) => setSubsetId(e.target.value ? Number(e.target.value) : null)}>
            <option value="">All rows of the dataset</option>
            {subsets.data?.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} ({fmtNum(s.size)})
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Tokens trained on</span>
          <select data-testid="train-token-policy" value={tokenPolicy} onChange={(e) => setTokenPolicy(e.target.value as 'response' | 'all' | 'top_percent')}>
            <option value="response">response only</option>
            <option value="top_percent">top k% of response by a signal</option>
            <option value="all">all tokens</option>
          </select>
        </label>
        {tokenPolicy === 'top_percent' && (
          <>
            <label className="field">
              <span>Token signal</span>
              <select data-testid="train-token-signal" value={tokenSignal} onChange={(e) => setTokenSignal(e.target.value)}>
                {['excess_loss', 'token_loss', 'token_entropy', 'token_prob', 'token_rank'].map((sig) => (
                  <option key={sig} value={sig}>
                    {sig}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              <span>Keep %</span>
              <input data-testid="train-token-percent" inputMode="decimal" value={tokenPercent} onChange={(e) => setTokenPercent(e.target.value)} />
            </label>
            <label className="field">
              <span>Threshold</span>
              <select data-testid="train-token-scope" value={tokenScope} onChange={(e) => setTokenScope(e.target.value as 'example' | 'global')}>
                <option value="example">per example</option>
                <option value="global">global</option>
              </select>
            </label>
          </>
        )}
        {tokenPolicy !== 'all' && (
          <label className="check">
            <input type="checkbox" data-testid="train-use-edited" checked={useEdited} onChange={(e) => setUseEdited(e.target.checked)} />
            use hand-edited masks where saved
          </label>
        )}
      </div>
      <div className="form-row">
        <fieldset className="field-group" disabled={paramMask !== null}>
          <legend>Layers</legend>
          <label className="check">
            <input type="radio" name="layer-mode" data-testid="train-layers-mode-last" checked={layerMode === 'last'} onChange={() => setLayerMode('last')} />
            Last
            <input
              className="tiny"
              data-testid="train-last-n"
              inputMode="numeric"
              value={lastN}
              disabled={layerMode !== 'last'}
              onChange={(e) => setLastN(e.target.value)}
            />
            layers{numLayers ? ` of ${numLayers}` : ''}
          </label>
          <label className="check">
            <input type="radio" name="layer-mode" data-testid="train-layers-mode-custom" checked={layerMode === 'custom'} onChange={() => setLayerMode('custom')} />
            Spec
            <input
              data-testid="train-layers"
              value={layersText}
              disabled={layerMode !== 'custom'}
              onChange={(e) => setLayersText(e.target.value)}
              title="last:N · top:N:fim · attention · mlp · hft:SEED · all · names:a,b"
            />
          </label>
          <span className="muted hint">
            Sent as <code data-testid="train-layers-spec">{layers}</code> — forms: last:N, top:N:fim, attention, mlp, hft:SEED, all, names:a,b
          </span>
        </fieldset>
        <label className="field">
          <span>Parameter mask</span>
          <select data-testid="train-param-mask" value={paramMask?.id ?? ''} onChange={(e) => setParamMaskId(e.target.value ? Number(e.target.value) : null)}>
            <option value="">none — whole tensors</option>
            {paramMasks.data?.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name} ({fmtCount(m.trainableParams)} entries)
              </option>
            ))}
          </select>
          {paramMask && (
            <span className="muted hint" data-testid="train-param-mask-note">
              only the mask’s {fmtNum(paramMask.trainableParams)} entries change; its scope <code>{paramMask.scope}</code> replaces the layer choice
            </span>
          )}
        </label>
      </div>
      <div className="form-row">
        <label className="field narrow">
          <span>Steps</span>
          <input data-testid="train-steps" inputMode="numeric" value={steps} onChange={(e) => setSteps(e.target.value)} />
        </label>
        <label className="field narrow">
          <span>Batch size</span>
          <input data-testid="train-batch-size" inputMode="numeric" value={batchSize} onChange={(e) => setBatchSize(e.target.value)} />
        </label>
        <label className="field narrow">
          <span>Learning rate</span>
          <input data-testid="train-lr" inputMode="decimal" value={lr} onChange={(e) => setLr(e.target.value)} />
        </label>
        <label className="field">
          <span>Optimizer</span>
          <select data-testid="train-optimizer" value={optimizer} onChange={(e) => setOptimizer(e.target.value as 'adamw' | 'sgd')}>
            <option value="adamw">AdamW</option>
            <option value="sgd">SGD</option>
          </select>
        </label>
        <label className="field">
          <span>Schedule</span>
          <select data-testid="train-schedule" value={schedule} onChange={(e) => setSchedule(e.target.value as 'constant' | 'linear' | 'cosine')}>
            <option value="cosine">cosine</option>
            <option value="linear">linear</option>
            <option value="constant">constant</option>
          </select>
        </label>
        <label className="field narrow">
          <span>Warmup steps</span>
          <input data-testid="train-warmup" inputMode="numeric" value={warmup} onChange={(e) => setWarmup(e.target.value)} />
        </label>
        <label className="field narrow">
          <span>Max tokens</span>
          <input data-testid="train-max-tokens" inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
        </label>
      </div>
      <div className="form-row">
        <label className="field narrow" title="micro-batches per optimizer step: the effective batch is batch size × this, at the memory of one micro-batch">
          <span>Accumulation</span>
          <input data-testid="train-grad-accum" inputMode="numeric" value={gradAccum} onChange={(e) => setGradAccum(e.target.value)} />
        </label>
        <label className="field narrow">
          <span>Weight decay</span>
          <input data-testid="train-weight-decay" inputMode="decimal" value={weightDecay} onChange={(e) => setWeightDecay(e.target.value)} />
        </label>
        <label className="field narrow" title="global gradient-norm clipping; empty for none">
          <span>Clip norm</span>
          <input data-testid="train-clip-norm" inputMode="decimal" value={clipNorm} placeholder="none" onChange={(e) => setClipNorm(e.target.value)} />
        </label>
        <label className="field narrow" title="held-out loss every N steps">
          <span>Eval every</span>
          <input data-testid="train-eval-every" inputMode="numeric" value={evalEvery} onChange={(e) => setEvalEvery(e.target.value)} />
        </label>
        <label className="field narrow" title="share of the rows held out for the eval loss (0–50%)">
          <span>Eval rows %</span>
          <input data-testid="train-eval-percent" inputMode="decimal" value={evalPercent} onChange={(e) => setEvalPercent(e.target.value)} />
        </label>
        <label className="field narrow" title="weights, optimizer state, data cursor and RNG are saved every N steps; a killed run resumes from the last one">
          <span>Checkpoint every</span>
          <input data-testid="train-checkpoint-every" inputMode="numeric" value={checkpointEvery} onChange={(e) => setCheckpointEvery(e.target.value)} />
        </label>
        <label className="field narrow">
          <span>Seed</span>
          <input data-testid="train-seed" inputMode="numeric" value={seed} onChange={(e) => setSeed(e.target.value)} />
        </label>
        <label className="check" title="Dynamic Fine-Tuning: each token's loss × its (gradient-stopped) probability">
          <input type="checkbox" data-testid="train-dft" checked={dft} onChange={(e) => setDft(e.target.checked)} />
          DFT weighting
        </label>
      </div>
      <div className="train-estimate" data-testid="train-estimate" data-fits={est ? est.fits : ''} data-trainable={est?.trainableParams ?? ''}>
        {est ? (
          <>
            <span>
              <span className="muted">Trainable</span>{' '}
              {est.maskedParams !== null ? (
                <span className="num" data-testid="train-estimate-masked" data-masked={est.maskedParams}>
                  {fmtCount(est.maskedParams)} entries of {fmtCount(est.totalParams)} params ({((100 * est.maskedParams) / Math.max(1, est.totalParams)).toFixed(2)}%) in {est.trainableTensors} tensors;
                  gradients and optimizer state are dense over those tensors ({fmtCount(est.trainableParams)})
                </span>
              ) : (
                <span className="num">
                  {fmtCount(est.trainableParams)} of {fmtCount(est.totalParams)} params ({((100 * est.trainableParams) / Math.max(1, est.totalParams)).toFixed(1)}%, {est.trainableTensors} tensors)
                </span>
              )}
            </span>
            <span title={`weights ${mem(est.memory.weightsBytes)} · activations ${mem(est.memory.activationBytes)} · gradients ${mem(est.memory.gradBytes)} · optimizer ${mem(est.memory.optimizerBytes)}`}>
              <span className="muted">Memory</span> <span className="num">{mem(est.memory.totalBytes)}</span>
            </span>
            <span className={est.fits ? 'ok-text' : 'error-text'} data-testid="train-estimate-fits">
              {est.fits ? 'fits' : 'does not fit'}
              {est.limitBytes ? ` the ${mem(est.limitBytes)} limit` : ''}
              {!est.fits && ' — lower the batch size and raise accumulation (same effective batch), or train fewer tensors'}
            </span>
          </>
        ) : (
          <span className="muted">{estimate.error ? `No estimate: ${estimate.error.message}` : 'Estimating…'}</span>
        )}
      </div>
      <div className="form-row">
        <button className="btn btn-primary" data-testid="train-start" disabled={busy || model === null} onClick={() => void start()}>
          Start training
        </button>
      </div>
      <ErrorText error={error} testId="train-error" />
    </section>
  );
}
