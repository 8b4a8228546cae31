/** The Train form's sections: layers, parameter mask, LoRA, the optimiser's numbers, run options and the estimate. */
import type { ApiError, ParamMaskInfo, TrainEstimate } from '../../../../preload/contract';
import { SelectField, TextField } from '../../components/Field';
import { fmtBytes, fmtCount, fmtNum, plural } from '../../components/format';
import { MemoryBreakdown } from '../../components/MemoryBreakdown';
import { describeEvalSplit } from '../layers/ParamMaskPanel';
import { LORA_TARGET_OPTIONS } from './lora';
import type { SetTrainFields, TrainFields } from './trainFields';

const mem = fmtBytes;

const OPTIMIZERS = [
  ['adamw', 'AdamW'],
  ['sgd', 'SGD'],
] as const;
const SCHEDULES = [
  ['cosine', 'cosine'],
  ['linear', 'linear'],
  ['constant', 'constant'],
] as const;

interface Section {
  f: TrainFields;
  set: SetTrainFields;
}

/** The last N layers or a layer spec; locked while a parameter mask's scope decides. */
export function LayersFieldset({ f, set, layers, numLayers, locked }: Section & { layers: string; numLayers: number | undefined; locked: boolean }) {
  return (
    <fieldset className="field-group" disabled={locked}>
      <legend>Layers</legend>
      <label className="check">
        <input type="radio" name="layer-mode" data-testid="train-layers-mode-last" checked={f.layerMode === 'last'} onChange={() => set({ layerMode: 'last' })} />
        Last
        <input className="tiny" data-testid="train-last-n" inputMode="numeric" value={f.lastN} disabled={f.layerMode !== 'last'} onChange={(e) => set({ lastN: e.target.value })} />
        layers{numLayers ? ` of ${numLayers}` : ''}
      </label>
      <label className="check">
        <input type="radio" name="layer-mode" data-testid="train-layers-mode-custom" checked={f.layerMode === 'custom'} onChange={() => set({ layerMode: 'custom' })} />
        Spec
        <input
          data-testid="train-layers"
          value={f.layersText}
          disabled={f.layerMode !== 'custom'}
          onChange={(e) => set({ layersText: e.target.value })}
          title="last:N · top:N:fim · attention · mlp · hft:SEED · all · names:a,b"
        />
      </label>
      <span className="muted hint">
        Sent as <code data-testid="train-layers-spec">{layers}</code> — forms: last:N, top:N:fim, attention, mlp, hft:SEED, all, names:a,b
      </span>
    </fieldset>
  );
}

/** A parameter mask of the chosen model, and whether its gradient pass left this run's eval rows out. */
export function ParamMaskField({ f, set, masks, paramMask, leavesOutEval }: Section & {
  masks: ParamMaskInfo[] | null;
  paramMask: ParamMaskInfo | null;
  leavesOutEval: boolean;
}) {
  return (
    <label className="field">
      <span>Parameter mask</span>
      <select
        data-testid="train-param-mask"
        disabled={f.loraOn}
        title={f.loraOn ? 'LoRA trains adapters, not a mask’s entries' : undefined}
        value={paramMask?.id ?? ''}
        onChange={(e) => set({ paramMaskId: e.target.value ? Number(e.target.value) : null })}
      >
        <option value="">none — whole tensors</option>
        {masks?.map((m) => (
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
      {paramMask && !leavesOutEval && (
        <span className="muted hint" data-testid="train-param-mask-eval">
          its gradient pass did not leave out this run’s eval rows ({describeEvalSplit(paramMask)}; compute it with the same rows, eval rows % and seed to do so) — the run reports how many of them it saw
        </span>
      )}
    </label>
  );
}

/** LoRA off (the chosen tensors train in full) or on, with its rank, alpha, dropout and target modules. */
export function LoraFieldset({ f, set }: Section) {
  return (
    <div className="form-row" data-testid="train-lora">
      <fieldset className="field-group lora-group">
        <legend>LoRA</legend>
        <label className="check">
          <input type="radio" name="lora-mode" data-testid="train-lora-off" checked={!f.loraOn} onChange={() => set({ loraOn: false })} />
          off — train the chosen tensors in full
        </label>
        <label className="check">
          <input type="radio" name="lora-mode" data-testid="train-lora-on" checked={f.loraOn} onChange={() => set({ loraOn: true })} />
          on — adapters on the chosen blocks, the base frozen
        </label>
        {f.loraOn && (
          <div className="form-row">
            <TextField label="Rank r" testId="train-lora-rank" width="narrow" inputMode="numeric" value={f.loraRank} onChange={(loraRank) => set({ loraRank })} />
            <TextField label="Alpha" testId="train-lora-alpha" width="narrow" inputMode="decimal" value={f.loraAlpha} onChange={(loraAlpha) => set({ loraAlpha })} title="B·A is scaled by alpha / r (alpha / √r with rsLoRA)" />
            <TextField label="Dropout" testId="train-lora-dropout" width="narrow" inputMode="decimal" value={f.loraDropout} onChange={(loraDropout) => set({ loraDropout })} title="dropout on the adapter's input, 0 to 1" />
            <label className="check" title="rank-stabilised LoRA: scale alpha / √r instead of alpha / r">
              <input type="checkbox" data-testid="train-lora-rslora" checked={f.loraRslora} onChange={(e) => set({ loraRslora: e.target.checked })} />
              rsLoRA
            </label>
            <SelectField label="Target modules" testId="train-lora-targets" value={f.loraTargetMode} onChange={(loraTargetMode) => set({ loraTargetMode })} options={LORA_TARGET_OPTIONS} />
            {f.loraTargetMode === 'names' && (
              <TextField
                label="Module names"
                testId="train-lora-names"
                value={f.loraNames}
                onChange={(loraNames) => set({ loraNames })}
                title="PEFT target_modules: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (GPT-2: c_attn, c_proj, c_fc; attn.c_proj names one)"
              />
            )}
          </div>
        )}
      </fieldset>
    </div>
  );
}

/** Steps, batch, learning rate, optimizer, schedule, warmup and max tokens. */
export function OptimizerFields({ f, set }: Section) {
  return (
    <div className="form-row">
      <TextField label="Steps" testId="train-steps" width="narrow" inputMode="numeric" value={f.steps} onChange={(steps) => set({ steps })} />
      <TextField label="Batch size" testId="train-batch-size" width="narrow" inputMode="numeric" value={f.batchSize} onChange={(batchSize) => set({ batchSize })} />
      <TextField label="Learning rate" testId="train-lr" width="narrow" inputMode="decimal" value={f.lr} onChange={(lr) => set({ lr })} />
      <SelectField label="Optimizer" testId="train-optimizer" value={f.optimizer} onChange={(optimizer) => set({ optimizer })} options={OPTIMIZERS} />
      <SelectField label="Schedule" testId="train-schedule" value={f.schedule} onChange={(schedule) => set({ schedule })} options={SCHEDULES} />
      <TextField label="Warmup steps" testId="train-warmup" width="narrow" inputMode="numeric" value={f.warmup} onChange={(warmup) => set({ warmup })} />
      <TextField label="Max tokens" testId="train-max-tokens" width="narrow" inputMode="numeric" value={f.maxTokens} onChange={(maxTokens) => set({ maxTokens })} />
    </div>
  );
}

/** Accumulation, regularisation, eval and checkpoints, the seed, and the per-token / per-batch options (DFT, S2L, UDS). */
export function RunOptionFields({ f, set }: Section) {
  return (
    <div className="form-row">
      <TextField
        label="Accumulation"
        testId="train-grad-accum"
        width="narrow"
        inputMode="numeric"
        value={f.gradAccum}
        onChange={(gradAccum) => set({ gradAccum })}
        title="micro-batches per optimizer step: the effective batch is batch size × this, at the memory of one micro-batch"
      />
      <TextField label="Weight decay" testId="train-weight-decay" width="narrow" inputMode="decimal" value={f.weightDecay} onChange={(weightDecay) => set({ weightDecay })} />
      <TextField label="Clip norm" testId="train-clip-norm" width="narrow" inputMode="decimal" value={f.clipNorm} onChange={(clipNorm) => set({ clipNorm })} placeholder="none" title="global gradient-norm clipping; empty for none" />
      <TextField label="Eval every" testId="train-eval-every" width="narrow" inputMode="numeric" value={f.evalEvery} onChange={(evalEvery) => set({ evalEvery })} title="held-out loss every N steps" />
      <TextField label="Eval rows %" testId="train-eval-percent" width="narrow" inputMode="decimal" value={f.evalPercent} onChange={(evalPercent) => set({ evalPercent })} title="share of the rows held out for the eval loss (0–50%)" />
      <TextField
        label="Checkpoint every"
        testId="train-checkpoint-every"
        width="narrow"
        inputMode="numeric"
        value={f.checkpointEvery}
        onChange={(checkpointEvery) => set({ checkpointEvery })}
        title="weights, optimizer state, data cursor and RNG are saved every N steps; a killed run resumes from the last one"
      />
      <TextField label="Seed" testId="train-seed" width="narrow" inputMode="numeric" value={f.seed} onChange={(seed) => set({ seed })} />
      <label className="check" title="Dynamic Fine-Tuning: each token's loss × its (gradient-stopped) probability">
        <input type="checkbox" data-testid="train-dft" checked={f.dft} onChange={(e) => set({ dft: e.target.checked })} />
        DFT weighting
      </label>
      <label className="check" title="S2L: store every example's loss at each checkpoint, for the S2L subset rule">
        <input type="checkbox" data-testid="train-record-trajectories" checked={f.recordTrajectories} onChange={(e) => set({ recordTrajectories: e.target.checked })} />
        Record loss trajectories
      </label>
      <label className="check" title="UDS online batch selection: each batch is scored in a forward pass (nuclear norm of the logits + diversity against earlier kept rows) and only its best share trains">
        <input type="checkbox" data-testid="train-uds" checked={f.uds} onChange={(e) => set({ uds: e.target.checked })} />
        UDS batch selection
      </label>
      {f.uds && <TextField label="UDS keep %" testId="train-uds-keep" width="narrow" inputMode="decimal" value={f.udsKeep} onChange={(udsKeep) => set({ udsKeep })} />}
    </div>
  );
}

/** What trains (adapters, a mask's entries or whole tensors), in how much memory, and whether it fits. */
function EstimateParts({ est }: { est: TrainEstimate }) {
  return (
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
        <span className="muted">Memory</span> <span className="num">{mem(est.memory.totalBytes)}</span> <MemoryBreakdown memory={est.memory} testId="train-memory-parts" />
      </span>
      <span className={est.fits ? 'ok-text' : 'error-text'} data-testid="train-estimate-fits">
        {est.fits ? 'fits' : 'does not fit'}
        {est.limitBytes ? ` the ${mem(est.limitBytes)} limit` : ''}
        {!est.fits && ` — lower the batch size and raise accumulation (same effective batch), or train fewer ${est.lora ? 'blocks or a lower rank' : 'tensors'}`}
      </span>
    </>
  );
}

/** The engine's estimate for the form as it stands, or why there is none. */
export function TrainEstimateLine({ est, error, loraValid }: { est: TrainEstimate | null; error: ApiError | null; loraValid: boolean }) {
  return (
    <div className="train-estimate" data-testid="train-estimate" data-fits={est ? est.fits : ''} data-trainable={est?.trainableParams ?? ''} data-lora={est ? est.lora !== null : ''}>
      {est ? (
        <EstimateParts est={est} />
      ) : (
        <span className="muted" data-testid="train-estimate-none">
          {error
            ? `No estimate: ${error.message}`
            : !loraValid
              ? 'No estimate: LoRA needs a whole rank of at least 1, an alpha above 0 and a dropout from 0 to below 1'
              : 'Estimating…'}
        </span>
      )}
    </div>
  );
}
