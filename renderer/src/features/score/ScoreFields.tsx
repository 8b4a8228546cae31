/** The Score form's sections: model and rows, the signals, the options the ticked signals need, and the Score button. */
import { IMPORT_SIGNALS, type ModelInfo, type RowScope, type SubsetInfo } from '../../../../preload/contract';
import { SelectField, SubsetField, TextField } from '../../components/Field';
import { NEEDS_REFERENCE, SCORE_SCREEN_SIGNALS, SIGNAL_HELP } from '../../components/signals';
import { rowsReady, type ScoreForm, type SetScoreForm, type SignalNeeds } from './scoreForm';

const ROW_KINDS: ReadonlyArray<readonly [RowScope['kind'], string]> = [
  ['all', 'all rows'],
  ['subset', 'a subset'],
  ['sample', 'a random sample'],
];

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

/** The scoring model, the rows, the second models the signals need, batch size and max tokens. */
export function ScoreSettings({ form, set, model, models, subsets, needs }: {
  form: ScoreForm;
  set: SetScoreForm;
  model: number | null;
  models: ModelInfo[];
  subsets: SubsetInfo[] | null | undefined;
  needs: SignalNeeds;
}) {
  return (
    <div className="form-row">
      <SelectField label="Model" testId="score-model" value={String(model ?? '')} onChange={(v) => set({ modelId: Number(v) })} options={models.map((m) => [String(m.id), m.name] as const)} />
      <SelectField
        label="Rows"
        testId="score-rows"
        title="Score every row of the dataset, only a subset's rows, or a seeded random sample (the rows a random subset rule with the same n and seed picks)"
        value={form.rowsKind}
        onChange={(rowsKind) => set({ rowsKind })}
        options={ROW_KINDS}
      />
      {form.rowsKind === 'subset' && <SubsetField emptyLabel="choose a subset…" label="Subset" testId="score-rows-subset" value={form.rowsSubsetId} onChange={(rowsSubsetId) => set({ rowsSubsetId })} subsets={subsets} />}
      {form.rowsKind === 'sample' && (
        <>
          <TextField label="Sample n" testId="score-sample-n" width="narrow" inputMode="numeric" value={form.sampleN} onChange={(sampleN) => set({ sampleN })} />
          <TextField label="Seed" testId="score-sample-seed" width="narrow" inputMode="numeric" value={form.sampleSeed} onChange={(sampleSeed) => set({ sampleSeed })} />
        </>
      )}
      {needs.needsRef && (
        <OtherModelSelect
          label="Reference model (later, e.g. tuned)"
          title="excess_loss = ℓ^θ − ℓ^ref and learnability take the LATER model as the reference: e.g. the model tuned from the scored one"
          testId="score-ref-model"
          models={models}
          value={form.refModelId}
          onChange={(refModelId) => set({ refModelId })}
        />
      )}
      {needs.needsHistory && (
        <OtherModelSelect
          label="History model (earlier, e.g. base)"
          title="sstoken's REL = ℓ^his − ℓ^θ takes the EARLIER model as its history: e.g. the base the scored model was tuned from"
          testId="score-history-model"
          models={models}
          value={form.historyModelId}
          onChange={(historyModelId) => set({ historyModelId })}
        />
      )}
      <TextField label="Batch size" testId="score-batch-size" width="narrow" inputMode="numeric" value={form.batchSize} onChange={(batchSize) => set({ batchSize })} />
      <TextField label="Max tokens" testId="score-max-tokens" width="narrow" inputMode="numeric" value={form.maxTokens} onChange={(maxTokens) => set({ maxTokens })} />
    </div>
  );
}

/** The signals a scoring run can compute, and those import already computed. */
export function SignalChoice({ signals, onToggle }: { signals: ReadonlySet<string>; onToggle: (signal: string, on: boolean) => void }) {
  return (
    <>
      <fieldset className="signal-grid">
        <legend>Signals</legend>
        {SCORE_SCREEN_SIGNALS.map((s) => (
          <label key={s} className="check" title={SIGNAL_HELP[s]}>
            <input type="checkbox" data-testid={`signal-${s}`} checked={signals.has(s)} onChange={(e) => onToggle(s, e.target.checked)} />
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
    </>
  );
}

/** The gradient and sstoken options, shown only for the ticked signals that use them. */
export function SignalOptions({ form, set, signals, needs, subsets }: {
  form: ScoreForm;
  set: SetScoreForm;
  signals: ReadonlySet<string>;
  needs: SignalNeeds;
  subsets: SubsetInfo[] | null | undefined;
}) {
  const { layerGrad, perExampleGrad, wantLess, wantSim, wantSs } = needs;
  if (!(perExampleGrad || wantSs || layerGrad)) return null;
  return (
    <div className="form-row" data-testid="score-options">
      {layerGrad && (
        <SelectField
          label="fim / layer_grad_norm loss per example"
          testId="score-fim-loss"
          title="fim and layer_grad_norm differentiate each example's loss: its summed response NLL (as surgical fine-tuning's fim_calculator.py, one unnormalised scalar per example) or its mean over the response tokens (long answers then weigh no more than short ones)"
          value={form.fimLoss}
          onChange={(fimLoss) => set({ fimLoss })}
          options={FIM_LOSS}
        />
      )}
      {perExampleGrad && (
        <TextField label="Gradient over" testId="score-grad-layers" title="layer spec: all | last:N | top:N:fim | attention | mlp | names:t1,t2" value={form.gradLayers} onChange={(gradLayers) => set({ gradLayers })} />
      )}
      {wantSim && <SubsetField emptyLabel="choose a subset…" label="Target set (grad_sim)" testId="score-target-subset" value={form.targetSubsetId} onChange={(targetSubsetId) => set({ targetSubsetId })} subsets={subsets} />}
      {wantLess && (
        <TextField
          label="Warm-up run #"
          testId="score-less-run"
          width="narrow"
          inputMode="numeric"
          title="the LoRA warm-up run (Train with LoRA and kept checkpoints) whose checkpoints give LESS its gradients"
          value={form.lessRunId}
          onChange={(lessRunId) => set({ lessRunId })}
        />
      )}
      {wantSim && (
        <TextField
          label="Projection d"
          testId="score-grad-dim"
          width="narrow"
          inputMode="numeric"
          title="dimension of the random projection (LESS uses 8192 on GPU)"
          value={form.gradDim}
          placeholder={wantLess ? (signals.has('grad_sim_base') ? '1024 / 8192' : '8192') : '1024'}
          onChange={(gradDim) => set({ gradDim })}
        />
      )}
      {wantSs && (
        <TextField label="sstoken γ" testId="score-sstoken-gamma" width="narrow" inputMode="decimal" title="weight of the loss-gain term; 1 − γ weighs the attention term" value={form.gamma} onChange={(gamma) => set({ gamma })} />
      )}
    </div>
  );
}

/** The Score button and what still keeps it from starting (or what the run will cost). */
export function ScoreStart({ form, signals, needs, disabled, onStart }: {
  form: ScoreForm;
  signals: ReadonlySet<string>;
  needs: SignalNeeds;
  disabled: boolean;
  onStart: () => void;
}) {
  return (
    <div className="form-row">
      <button className="btn btn-primary" data-testid="score-start" disabled={disabled} onClick={onStart}>
        Score
      </button>
      {signals.size === 0 && <span className="muted">Choose at least one signal.</span>}
      {!rowsReady(form) && <span className="warn-text">Choose the subset whose rows to score.</span>}
      {needs.needsRef && form.refModelId === null && (
        <span className="warn-text">{[...signals].filter((s) => NEEDS_REFERENCE.has(s)).join(', ')} need a reference model: the later one, e.g. the model tuned from the scored one.</span>
      )}
      {needs.needsHistory && form.historyModelId === null && (
        <span className="warn-text">sstoken needs a history model: the earlier one, e.g. the base the scored model was tuned from.</span>
      )}
      {needs.wantSim && form.targetSubsetId === null && <span className="warn-text">grad_sim needs a target set: make a subset on the Subsets screen, then choose it.</span>}
      {needs.perExampleGrad && <span className="muted">grad_norm / grad_sim_base take one backward pass per example; grad_sim one per example and warm-up checkpoint.</span>}
    </div>
  );
}
