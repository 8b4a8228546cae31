/**
 * The Layers screen's summary, always in view: the trainable parameter count and the memory estimate of training the
 * grid's choice (or its LoRA adapters) at the batch size and max tokens typed here, and the choice as a layer spec.
 */
import { useState } from 'react';
import { useCall } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { TextField } from '../../components/Field';
import { MemoryBreakdown } from '../../components/MemoryBreakdown';
import { fmtCount } from '../../components/format';
import { type LoraTargetMode, loraTargets } from '../train/lora';

const gib = (b: number) => `${(b / 1024 ** 3).toFixed(b < 1024 ** 3 ? 3 : 2)} GiB`;
const mib = (b: number) => (b < 1024 ** 3 ? `${(b / 1024 ** 2).toFixed(1)} MiB` : gib(b));

export interface LoraChoice {
  on: boolean;
  rank: string;
  targetMode: LoraTargetMode;
  names: string;
}

/** The engine's estimate for training `spec` (null while nothing is chosen), with the batch size and max tokens it is for. */
export function useTrainEstimate(modelId: number | null, spec: string | null, lora: LoraChoice) {
  const [batchSize, setBatchSize] = useState('4');
  const [maxTokens, setMaxTokens] = useState('256');
  const bs = Number(batchSize);
  const mt = Number(maxTokens);
  const lr = Number(lora.rank);
  const targets = loraTargets(lora.targetMode, lora.names);
  const estimate = useCall(
    'train.estimate',
    modelId !== null && spec && Number.isInteger(bs) && bs > 0 && Number.isInteger(mt) && mt > 0 && (!lora.on || (Number.isInteger(lr) && lr > 0))
      ? { modelId, layers: spec, batchSize: bs, maxTokens: mt, ...(lora.on ? { lora: { r: lr, alpha: 2 * lr, dropout: 0, rslora: false, ...(targets ? { targets } : {}) } } : {}) }
      : null,
  );
  const est = spec ? estimate.data : null;
  return { est, error: estimate.error && spec ? estimate.error : null, batchSize, setBatchSize, maxTokens, setMaxTokens };
}

export function LayersSummary({ estimate, spec, chosenCount, tensorCount }: {
  estimate: ReturnType<typeof useTrainEstimate>;
  spec: string | null;
  chosenCount: number;
  tensorCount: number;
}) {
  const { est } = estimate;
  return (
    <section className="card layers-summary" data-testid="layers-summary">
      <div className="stat-row">
        <div className="stat">
          <span className="stat-label">{est?.lora ? 'LoRA parameters' : 'Trainable parameters'}</span>
          <span className="stat-value num" data-testid="layers-trainable" data-value={est?.trainableParams ?? 0}>
            {est ? `${fmtCount(est.trainableParams)} of ${fmtCount(est.totalParams)} (${((100 * est.trainableParams) / Math.max(1, est.totalParams)).toFixed(1)}%)` : '0'}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">{est?.lora ? 'Adapted modules' : 'Tensors'}</span>
          <span className="stat-value num" data-testid="layers-count" data-value={chosenCount} data-lora-modules={est?.lora ? est.lora.tensors.length : ''}>
            {est?.lora ? `${est.lora.tensors.length} (${est.lora.targets.join(', ')}) in blocks ${est.lora.blocks.join(', ')}` : `${chosenCount} of ${tensorCount}`}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">Memory to train</span>
          <span className="stat-value num" data-testid="layers-memory" data-bytes={est?.memory.totalBytes ?? ''}>
            {est ? mib(est.memory.totalBytes) : '—'}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">Fits</span>
          <span className={`stat-value ${est ? (est.fits ? 'ok-text' : 'error-text') : ''}`} data-testid="layers-fits" data-fits={est ? est.fits : ''}>
            {est ? (est.fits ? `yes${est.limitBytes ? ` (limit ${gib(est.limitBytes)})` : ''}` : `no — over ${gib(est.limitBytes!)}`) : '—'}
          </span>
        </div>
        <TextField label="Batch size" testId="layers-batch-size" width="narrow" inputMode="numeric" value={estimate.batchSize} onChange={estimate.setBatchSize} />
        <TextField label="Max tokens" testId="layers-max-tokens" width="narrow" inputMode="numeric" value={estimate.maxTokens} onChange={estimate.setMaxTokens} />
      </div>
      <div className="spec-line">
        <span className="muted">Spec</span>{' '}
        <code data-testid="layers-spec" title={spec ?? ''}>
          {spec ?? 'nothing chosen — pick a preset or click cells'}
        </code>
      </div>
      {est && (
        <div className="spec-line">
          <span className="muted">Memory to train</span> <MemoryBreakdown memory={est.memory} testId="layers-memory-parts" />
        </div>
      )}
      <ErrorText error={estimate.error} testId="layers-estimate-error" />
    </section>
  );
}
