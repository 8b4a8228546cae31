/** The training form. Validation is the engine's: its message names the field at fault. */
import { useState } from 'react';
import type { ApiInput } from '../../../../preload/contract';
import { useApp, useCall, useStartJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { ModelField, SelectField, SubsetField, TextField } from '../../components/Field';
import { fmtCount, fmtNum, plural, fmtBytes } from '../../components/format';
import { MemoryBreakdown } from '../../components/MemoryBreakdown';
import { TokenPolicyFields, tokenPolicyInput, useTokenPolicy } from '../../components/TokenPolicyFields';
import { describeEvalSplit, maskLeavesOutEval } from '../layers/ParamMaskPanel';
import { LORA_TARGET_OPTIONS, loraTargets, type LoraTargetMode } from './lora';

const mem = fmtBytes;

const num = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

const OPTIMIZERS = [
  ['adamw', 'AdamW'],
  ['sgd', 'SGD'],
] as const;
const SCHEDULES = [
  ['cosine', 'cosine'],
  ['linear', 'linear'],
  ['constant', 'constant'],
] as const;

/**
 * `#/train?layers=SPEC&model=ID[&paramMask=ID][&lora=TARGETS]` (from the Layers screen) pre-fills the form once, then
 * leaves the URL clean; `lora` turns LoRA on with those targets (a preset, or module names with commas).
 */
function takeHashParams(): { layers: string | null; model: number | null; paramMask: number | null; lora: string | null } {
  const q = window.location.hash.split('?')[1];
  if (!q) return { layers: null, model: null, paramMask: null, lora: null };
  const params = new URLSearchParams(q);
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}#/train`);
  const id = (k: string) => {
    const n = Number(params.get(k));
    return Number.isInteger(n) && n > 0 ? n : null;
  };
  return { layers: params.get('layers'), model: id('model'), paramMask: id('paramMask'), lora: params.get('lora') };
}

export function TrainForm({ onStarted }: { onStarted: (runId: number, jobId: string) => void }) {
  const { project, datasetId } = useApp();
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
  const [tokens, setTokens] = useTokenPolicy();
  const [paramMaskId, setParamMaskId] = useState<number | null>(given.paramMask);
  const [gradAccum, setGradAccum] = useState('1');
  const [weightDecay, setWeightDecay] = useState('0');
  const [clipNorm, setClipNorm] = useState('1');
  const [dft, setDft] = useState(false);
  const [recordTrajectories, setRecordTrajectories] = useState(false);
  const [uds, setUds] = useState(false);
  const [udsKeep, setUdsKeep] = useState('50');
  const [evalEvery, setEvalEvery] = useState('10');
  const [evalPercent, setEvalPercent] = useState('5');
  const [checkpointEvery, setCheckpointEvery] = useState('20');
  const [seed, setSeed] = useState('0');
  const [loraOn, setLoraOn] = useState(given.lora !== null);
  const [loraRank, setLoraRank] = useState('8');
  const [loraAlpha, setLoraAlpha] = useState('16');
  const [loraDropout, setLoraDropout] = useState('0');
  const [loraRslora, setLoraRslora] = useState(false);
  const givenTargets: LoraTargetMode =
    given.lora === null || given.lora === '' ? '' : LORA_TARGET_OPTIONS.some(([v]) => v === given.lora && v !== 'names') ? (given.lora as LoraTargetMode) : 'names';
  const [loraTargetMode, setLoraTargetMode] = useState<LoraTargetMode>(givenTargets);
  const [loraNames, setLoraNames] = useState(givenTargets === 'names' ? given.lora! : 'q_proj,v_proj');
  const { error, busy, start: startTrain } = useStartJob('train.start');
  const model = modelId ?? models[0]?.id ?? null;
  const numLayers = models.find((m) => m.id === model)?.numLayers;
  const paramMasks = useCall('paramMasks.list', model === null ? null : { modelId: model });
  // a mask of another model cannot be used: it addresses that model's entries
  // LoRA trains adapters, not a mask's entries: the two are exclusive (the engine refuses both)
  const paramMask = loraOn ? null : (paramMasks.data?.find((m) => m.id === paramMaskId) ?? null);
  const layers = paramMask ? paramMask.scope : layerMode === 'last' ? `last:${lastN.trim()}` : layersText.trim();
  const bs = num(batchSize);
  const mt = num(maxTokens);
  const ga = num(gradAccum);
  // the blocks that carry adapters are the layer choice's (its tensors' blocks)
  const lora = loraOn
    ? { r: num(loraRank), alpha: num(loraAlpha), dropout: num(loraDropout), rslora: loraRslora, ...(loraTargets(loraTargetMode, loraNames) ? { targets: loraTargets(loraTargetMode, loraNames) } : {}) }
    : null;
  const loraValid = !lora || (Number.isInteger(lora.r) && lora.r > 0 && lora.alpha > 0 && lora.dropout >= 0 && lora.dropout < 1);
  const estimate = useCall(
    'train.estimate',
    model !== null && layers && Number.isInteger(bs) && bs > 0 && Number.isInteger(mt) && mt > 0 && Number.isInteger(ga) && ga > 0 && loraValid
      ? { modelId: model, layers, batchSize: bs, maxTokens: mt, gradAccum: ga, ...(paramMask ? { paramMaskId: paramMask.id } : {}), ...(lora ? { lora } : {}) }
      : null,
  );
  // a call left out (bad LoRA numbers) keeps the last answer: it is not this form's estimate
  const est = estimate.error || !loraValid ? null : estimate.data;

  const start = async () => {
    if (model === null) return;
    const config: ApiInput<'train.start'> = {
      modelId: model,
      subsetId,
      datasetId: datasetId ?? undefined,
      layers,
      ...(paramMask ? { paramMaskId: paramMask.id } : {}),
      ...(lora ? { lora } : {}),
      steps: num(steps),
      batchSize: num(batchSize),
      gradAccum: num(gradAccum),
      lr: num(lr),
      weightDecay: num(weightDecay),
      // empty = no clipping
      clipNorm: clipNorm.trim() === '' ? null : num(clipNorm),
      dftWeight: dft,
      recordTrajectories,
      // UDS: the best share of each micro-batch trains (buffer and λ at UDS's defaults)
      ...(uds ? { uds: { keep: num(udsKeep) / 100, bufferSize: 1024, lambda: 2.5e-3 } } : {}),
      evalEvery: num(evalEvery),
      evalFraction: num(evalPercent) / 100,
      checkpointEvery: num(checkpointEvery),
      seed: num(seed),
      optimizer,
      schedule,
      warmupSteps: num(warmup),
      maxTokens: num(maxTokens),
      ...tokenPolicyInput(tokens),
    };
    const started = await startTrain(config);
    if (started) onStarted(started.runId, started.jobId);
  };

  return (
    <section className="card">
      <h2>New training run</h2>
      <div className="form-row">
        <ModelField testId="train-model" value={model} onChange={setModelId} models={models} />
        <SubsetField testId="train-subset" value={subsetId} onChange={setSubsetId} subsets={subsets.data} />
        <TokenPolicyFields label="Tokens trained on" testIdPrefix="train" value={tokens} onChange={setTokens} editedToggle />
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
          <select data-testid="train-param-mask" disabled={loraOn} title={loraOn ? 'LoRA trains adapters, not a mask’s entries' : undefined} value={paramMask?.id ?? ''} onChange={(e) => setParamMaskId(e.target.value ? Number(e.target.value) : null)}>
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
          {paramMask &&
            !maskLeavesOutEval(paramMask, { subsetId, datasetId: subsetId === null ? (datasetId ?? null) : null, tokenPolicy: tokens.tokenPolicy, maxTokens: num(maxTokens), evalFraction: num(evalPercent) / 100, seed: num(seed) }) && (
              <span className="muted hint" data-testid="train-param-mask-eval">
                its gradient pass did not leave out this run’s eval rows ({describeEvalSplit(paramMask)}; compute it with the same rows, eval rows % and seed to do so) — the run reports how many of them it saw
              </span>
            )}
        </label>
      </div>
      <div className="form-row" data-testid="train-lora">
        <fieldset className="field-group lora-group">
          <legend>LoRA</legend>
          <label className="check">
            <input type="radio" name="lora-mode" data-testid="train-lora-off" checked={!loraOn} onChange={() => setLoraOn(false)} />
            off — train the chosen tensors in full
          </label>
          <label className="check">
            <input type="radio" name="lora-mode" data-testid="train-lora-on" checked={loraOn} onChange={() => setLoraOn(true)} />
            on — adapters on the chosen blocks, the base frozen
          </label>
          {loraOn && (
            <div className="form-row">
              <TextField label="Rank r" testId="train-lora-rank" width="narrow" inputMode="numeric" value={loraRank} onChange={setLoraRank} />
              <TextField label="Alpha" testId="train-lora-alpha" width="narrow" inputMode="decimal" value={loraAlpha} onChange={setLoraAlpha} title="B·A is scaled by alpha / r (alpha / √r with rsLoRA)" />
              <TextField label="Dropout" testId="train-lora-dropout" width="narrow" inputMode="decimal" value={loraDropout} onChange={setLoraDropout} title="dropout on the adapter's input, 0 to 1" />
              <label className="check" title="rank-stabilised LoRA: scale alpha / √r instead of alpha / r">
                <input type="checkbox" data-testid="train-lora-rslora" checked={loraRslora} onChange={(e) => setLoraRslora(e.target.checked)} />
                rsLoRA
              </label>
              <SelectField label="Target modules" testId="train-lora-targets" value={loraTargetMode} onChange={setLoraTargetMode} options={LORA_TARGET_OPTIONS} />
              {loraTargetMode === 'names' && (
                <TextField label="Module names" testId="train-lora-names" value={loraNames} onChange={setLoraNames} title="PEFT target_modules: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (GPT-2: c_attn, c_proj, c_fc; attn.c_proj names one)" />
              )}
            </div>
          )}
        </fieldset>
      </div>
      <div className="form-row">
        <TextField label="Steps" testId="train-steps" width="narrow" inputMode="numeric" value={steps} onChange={setSteps} />
        <TextField label="Batch size" testId="train-batch-size" width="narrow" inputMode="numeric" value={batchSize} onChange={setBatchSize} />
        <TextField label="Learning rate" testId="train-lr" width="narrow" inputMode="decimal" value={lr} onChange={setLr} />
        <SelectField label="Optimizer" testId="train-optimizer" value={optimizer} onChange={setOptimizer} options={OPTIMIZERS} />
        <SelectField label="Schedule" testId="train-schedule" value={schedule} onChange={setSchedule} options={SCHEDULES} />
        <TextField label="Warmup steps" testId="train-warmup" width="narrow" inputMode="numeric" value={warmup} onChange={setWarmup} />
        <TextField label="Max tokens" testId="train-max-tokens" width="narrow" inputMode="numeric" value={maxTokens} onChange={setMaxTokens} />
      </div>
      <div className="form-row">
        <TextField
          label="Accumulation"
          testId="train-grad-accum"
          width="narrow"
          inputMode="numeric"
          value={gradAccum}
          onChange={setGradAccum}
          title="micro-batches per optimizer step: the effective batch is batch size × this, at the memory of one micro-batch"
        />
        <TextField label="Weight decay" testId="train-weight-decay" width="narrow" inputMode="decimal" value={weightDecay} onChange={setWeightDecay} />
        <TextField
          label="Clip norm"
          testId="train-clip-norm"
          width="narrow"
          inputMode="decimal"
          value={clipNorm}
          onChange={setClipNorm}
          placeholder="none"
          title="global gradient-norm clipping; empty for none"
        />
        <TextField label="Eval every" testId="train-eval-every" width="narrow" inputMode="numeric" value={evalEvery} onChange={setEvalEvery} title="held-out loss every N steps" />
        <TextField
          label="Eval rows %"
          testId="train-eval-percent"
          width="narrow"
          inputMode="decimal"
          value={evalPercent}
          onChange={setEvalPercent}
          title="share of the rows held out for the eval loss (0–50%)"
        />
        <TextField
          label="Checkpoint every"
          testId="train-checkpoint-every"
          width="narrow"
          inputMode="numeric"
          value={checkpointEvery}
          onChange={setCheckpointEvery}
          title="weights, optimizer state, data cursor and RNG are saved every N steps; a killed run resumes from the last one"
        />
        <TextField label="Seed" testId="train-seed" width="narrow" inputMode="numeric" value={seed} onChange={setSeed} />
        <label className="check" title="Dynamic Fine-Tuning: each token's loss × its (gradient-stopped) probability">
          <input type="checkbox" data-testid="train-dft" checked={dft} onChange={(e) => setDft(e.target.checked)} />
          DFT weighting
        </label>
        <label className="check" title="S2L: store every example's loss at each checkpoint, for the S2L subset rule">
          <input type="checkbox" data-testid="train-record-trajectories" checked={recordTrajectories} onChange={(e) => setRecordTrajectories(e.target.checked)} />
          Record loss trajectories
        </label>
        <label className="check" title="UDS online batch selection: each batch is scored in a forward pass (nuclear norm of the logits + diversity against earlier kept rows) and only its best share trains">
          <input type="checkbox" data-testid="train-uds" checked={uds} onChange={(e) => setUds(e.target.checked)} />
          UDS batch selection
        </label>
        {uds && <TextField label="UDS keep %" testId="train-uds-keep" width="narrow" inputMode="decimal" value={udsKeep} onChange={setUdsKeep} />}
      </div>
      <div className="train-estimate" data-testid="train-estimate" data-fits={est ? est.fits : ''} data-trainable={est?.trainableParams ?? ''} data-lora={est ? est.lora !== null : ''}>
        {est ? (
          <>
            <span>
              <span className="muted">Trainable</span>{' '}
              {est.lora ? (
                <span className="num" data-testid="train-estimate-lora" data-modules={est.lora.tensors.length}>
                  {fmtCount(est.trainableParams)} adapter params (A and B on {est.lora.tensors.length} modules: {est.lora.targets.join(', ')} in block{est.lora.blocks.length === 1 ? '' : 's'}{' '}
                  {est.lora.blocks.join(', ')}; scale {fmtNum(est.lora.scale, 3)}) — {((100 * est.trainableParams) / Math.max(1, est.totalParams)).toFixed(2)}% of {fmtCount(est.totalParams)} params
                </span>
              ) : est.maskedParams !== null ? (
                <span className="num" data-testid="train-estimate-masked" data-masked={est.maskedParams}>
                  {fmtCount(est.maskedParams)} entries of {fmtCount(est.totalParams)} params ({((100 * est.maskedParams) / Math.max(1, est.totalParams)).toFixed(2)}%) in {plural(est.trainableTensors, 'tensor')};
                  gradients and optimizer state are dense over those tensors ({fmtCount(est.trainableParams)})
                </span>
              ) : (
                <span className="num">
                  {fmtCount(est.trainableParams)} of {fmtCount(est.totalParams)} params ({((100 * est.trainableParams) / Math.max(1, est.totalParams)).toFixed(1)}%, {plural(est.trainableTensors, 'tensor')})
                </span>
              )}
            </span>
            <span>
              <span className="muted">Memory</span> <span className="num">{mem(est.memory.totalBytes)}</span>{' '}
              <MemoryBreakdown memory={est.memory} testId="train-memory-parts" />
            </span>
            <span className={est.fits ? 'ok-text' : 'error-text'} data-testid="train-estimate-fits">
              {est.fits ? 'fits' : 'does not fit'}
              {est.limitBytes ? ` the ${mem(est.limitBytes)} limit` : ''}
              {!est.fits && ` — lower the batch size and raise accumulation (same effective batch), or train fewer ${est.lora ? 'blocks or a lower rank' : 'tensors'}`}
            </span>
          </>
        ) : (
          <span className="muted" data-testid="train-estimate-none">
            {estimate.error
              ? `No estimate: ${estimate.error.message}`
              : !loraValid
                ? 'No estimate: LoRA needs a whole rank of at least 1, an alpha above 0 and a dropout from 0 to below 1'
                : 'Estimating…'}
          </span>
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
