/** The training form. Validation is the engine's: its message names the field at fault. */
import { useState } from 'react';
import { useApp, useCall, useStartJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { ModelField, SubsetField } from '../../components/Field';
import { TokenPolicyFields, useTokenPolicy } from '../../components/TokenPolicyFields';
import { maskLeavesOutEval } from '../layers/ParamMaskPanel';
import { estimateInput, initialTrainFields, loraIsValid, loraOf, num, takeHashParams, type TrainFields, trainStartInput, type TrainTarget } from './trainFields';
import { LayersFieldset, LoraFieldset, OptimizerFields, ParamMaskField, RunOptionFields, TrainEstimateLine } from './TrainFormSections';

/**
 * What the form trains on the chosen model: its parameter masks (a mask of another model cannot be used: it addresses
 * that model's entries), the one picked, the layer spec, the LoRA block, and the engine's estimate for all that.
 */
function useTrainTarget(f: TrainFields, model: number | null) {
  const paramMasks = useCall('paramMasks.list', model === null ? null : { modelId: model });
  // LoRA trains adapters, not a mask's entries: the two are exclusive (the engine refuses both)
  const paramMask = f.loraOn ? null : (paramMasks.data?.find((m) => m.id === f.paramMaskId) ?? null);
  const layers = paramMask ? paramMask.scope : f.layerMode === 'last' ? `last:${f.lastN.trim()}` : f.layersText.trim();
  const lora = loraOf(f);
  const loraValid = loraIsValid(lora);
  const target: TrainTarget | null = model === null ? null : { modelId: model, layers, paramMask, lora };
  const estimate = useCall('train.estimate', estimateInput(f, target));
  // a call left out (bad LoRA numbers) keeps the last answer: it is not this form's estimate
  const est = estimate.error || !loraValid ? null : estimate.data;
  return { paramMasks: paramMasks.data, paramMask, layers, target, loraValid, est, estimateError: estimate.error };
}

export function TrainForm({ onStarted }: { onStarted: (runId: number, jobId: string) => void }) {
  const { project, datasetId } = useApp();
  const subsets = useCall('subsets.list', {});
  const models = project?.models ?? [];
  const [given] = useState(takeHashParams);
  const [f, setFields] = useState<TrainFields>(() => initialTrainFields(given));
  const set = (patch: Partial<TrainFields>) => setFields((s) => ({ ...s, ...patch }));
  const [tokens, setTokens] = useTokenPolicy();
  const { error, busy, start: startTrain } = useStartJob('train.start');
  const model = f.modelId ?? models[0]?.id ?? null;
  const numLayers = models.find((m) => m.id === model)?.numLayers;
  const { paramMasks, paramMask, layers, target, loraValid, est, estimateError } = useTrainTarget(f, model);
  const evalRun = { subsetId: f.subsetId, datasetId: f.subsetId === null ? (datasetId ?? null) : null, tokenPolicy: tokens.tokenPolicy, maxTokens: num(f.maxTokens), evalFraction: num(f.evalPercent) / 100, seed: num(f.seed) };

  const start = async () => {
    if (target === null) return;
    const started = await startTrain(trainStartInput(f, target, datasetId, tokens));
    if (started) onStarted(started.runId, started.jobId);
  };

  return (
    <section className="card">
      <h2>New training run</h2>
      <div className="form-row">
        <ModelField testId="train-model" value={model} onChange={(modelId) => set({ modelId })} models={models} />
        <SubsetField testId="train-subset" value={f.subsetId} onChange={(subsetId) => set({ subsetId })} subsets={subsets.data} />
        <TokenPolicyFields label="Tokens trained on" testIdPrefix="train" value={tokens} onChange={setTokens} editedToggle />
      </div>
      <div className="form-row">
        <LayersFieldset f={f} set={set} layers={layers} numLayers={numLayers} locked={paramMask !== null} />
        <ParamMaskField f={f} set={set} masks={paramMasks} paramMask={paramMask} leavesOutEval={!paramMask || maskLeavesOutEval(paramMask, evalRun)} />
      </div>
      <LoraFieldset f={f} set={set} />
      <OptimizerFields f={f} set={set} />
      <RunOptionFields f={f} set={set} />
      <TrainEstimateLine est={est} error={estimateError} loraValid={loraValid} />
      <div className="form-row">
        <button className="btn btn-primary" data-testid="train-start" disabled={busy || model === null} onClick={() => void start()}>
          Start training
        </button>
      </div>
      <ErrorText error={error} testId="train-error" />
    </section>
  );
}
