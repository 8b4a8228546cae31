/**
 * Layers: which tensors to train. A heatmap of every tensor (blocks × roles, the rest in a "model" row) coloured by a
 * per-tensor score, presets that resolve through the engine's layer spec, click-to-toggle for single tensors and
 * whole blocks, the trainable parameter count and memory estimate always in view, named masks, and a jump to Train.
 */
import { useEffect, useMemo, useState } from 'react';
import { LAYER_SIGNALS, type ApiError, type ApiOutputs } from '../../../../preload/contract';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { ModelField, SelectField, TextField } from '../../components/Field';
import { layerGrid, simplestSpec } from './layerGrid';
import { ParamMaskPanel } from './ParamMaskPanel';
import { CurrentDataset } from '../../components/CurrentDataset';
import { LORA_TARGET_OPTIONS, type LoraTargetMode } from '../train/lora';
import { LayerMasksCard } from './LayerMasksCard';
import { LayersSummary, useTrainEstimate } from './LayersSummary';
import { TensorGrid } from './TensorGrid';

/** The preset buttons: each resolves a layer spec through the engine and puts its tensors in the grid. */
function PresetRow({ scored, signal, applyPreset, onNone }: {
  /** whether the model has per-tensor scores (the Top preset needs them) */
  scored: boolean;
  signal: string | null;
  applyPreset: (spec: string) => void;
  onNone: () => void;
}) {
  const [topN, setTopN] = useState('2');
  const [lastN, setLastN] = useState('2');
  const [seed, setSeed] = useState('0');
  return (
    <div className="preset-row">
      <span className="muted">Presets</span>
      <span className="preset">
        <button className="btn btn-small" data-testid="preset-top" disabled={!scored} onClick={() => applyPreset(`top:${topN}:${signal ?? 'fim'}`)} title={scored ? '' : 'Score layers first'}>
          Top
        </button>
        <input className="tiny" data-testid="preset-top-n" value={topN} onChange={(e) => setTopN(e.target.value)} aria-label="top N blocks" />
        <span className="muted">blocks by {signal ?? 'fim'}</span>
      </span>
      <span className="preset">
        <button className="btn btn-small" data-testid="preset-last" onClick={() => applyPreset(`last:${lastN}`)}>
          Last
        </button>
        <input className="tiny" data-testid="preset-last-n" value={lastN} onChange={(e) => setLastN(e.target.value)} aria-label="last N blocks" />
        <span className="muted">blocks</span>
      </span>
      <button className="btn btn-small" data-testid="preset-attention" onClick={() => applyPreset('attention')}>
        Attention only
      </button>
      <button className="btn btn-small" data-testid="preset-mlp" onClick={() => applyPreset('mlp')}>
        MLP only
      </button>
      <span className="preset">
        <button className="btn btn-small" data-testid="preset-hft" onClick={() => applyPreset(`hft:${seed}`)} title="HFT: in every block, half of its attention matrices and half of its MLP matrices, a seeded random choice (norms, biases, embeddings frozen)">
          HFT
        </button>
        <span className="muted">seed</span>
        <input className="tiny" data-testid="preset-hft-seed" value={seed} onChange={(e) => setSeed(e.target.value)} aria-label="HFT seed" />
      </span>
      <button className="btn btn-small" data-testid="preset-all" onClick={() => applyPreset('all')}>
        All
      </button>
      <button className="btn btn-small btn-ghost" data-testid="preset-none" onClick={onNone}>
        None
      </button>
    </div>
  );
}

/** Notes above the grid: no scores yet, how the colouring score was computed, what LoRA changes. */
function GridNotes({ layers, scored, signal, modelId, loraOn }: {
  layers: ApiOutputs['layers.list'] | null;
  scored: boolean;
  signal: string | null;
  modelId: number | null;
  loraOn: boolean;
}) {
  return (
    <>
      {layers && !scored && (
        <div className="banner banner-info" data-testid="layers-no-scores">
          No per-tensor scores for this model yet — score layers first: <a href={`#/score?signals=fim${modelId !== null ? `&model=${modelId}` : ''}`} data-testid="layers-score-fim">Score → fim</a> (or layer_grad_norm). Presets other than Top work
          without them.
        </div>
      )}
      {signal === 'fim' && (
        <p className="muted hint" data-testid="layers-fim-note">
          FIM is not normalised by tensor size, as in the surgical fine-tuning code: bigger tensors tend to score higher. Colours use a log scale.
        </p>
      )}
      {signal && layers?.lossForms[signal] && (
        <p className="muted hint" data-testid="layers-loss-form" data-form={layers.lossForms[signal]}>
          {signal} was computed from each example&apos;s {layers.lossForms[signal] === 'sum' ? 'summed response NLL Σ_t ℓ_t (as surgical fine-tuning)' : 'mean response NLL (Σ_t ℓ_t / T)'}
          {signal === 'layer_grad_norm' ? '; a block’s score (Top preset) is the norm of its whole gradient.' : '; a block’s score (Top preset) is the sum over its tensors.'}
        </p>
      )}
      {loraOn && (
        <p className="muted hint" data-testid="layers-lora-note">
          LoRA: the blocks of the chosen tensors carry adapters on the target modules, marked L; every weight stays frozen and only the adapters train.
        </p>
      )}
    </>
  );
}

export function LayersScreen() {
  const { client, project } = useApp();
  const models = project?.models ?? [];
  const [modelChoice, setModelChoice] = useState<number | null>(null);
  const modelId = modelChoice ?? models[0]?.id ?? null;
  const list = useCall('layers.list', modelId === null ? null : { modelId });
  const masks = useCall('layerMasks.list', modelId === null ? null : { modelId });
  const tensors = useMemo(() => list.data?.tensors ?? [], [list.data]);
  const grid = useMemo(() => layerGrid(tensors), [tensors]);
  const scored = LAYER_SIGNALS.filter((s) => tensors.some((t) => typeof t.scores[s] === 'number'));
  const [signalChoice, setSignalChoice] = useState<string>('fim');
  const signal = scored.includes(signalChoice as never) ? signalChoice : (scored[0] ?? null);

  const [chosen, setChosen] = useState<Set<string>>(new Set());
  /** the preset the selection came from, until it is edited by hand */
  const [preset, setPreset] = useState<string | null>(null);
  const [presetError, setPresetError] = useState<ApiError | null>(null);
  // LoRA: adapters go on the target modules of the chosen tensors' blocks; the grid marks those modules
  const [loraOn, setLoraOn] = useState(false);
  const [loraRank, setLoraRank] = useState('8');
  const [loraTargetMode, setLoraTargetMode] = useState<LoraTargetMode>('');
  const [loraNames, setLoraNames] = useState('q_proj,v_proj');

  // another model has other tensor names: start over
  useEffect(() => {
    setChosen(new Set());
    setPreset(null);
  }, [modelId]);

  const spec = chosen.size === 0 ? null : (preset ?? simplestSpec(tensors, chosen));
  const estimate = useTrainEstimate(modelId, spec, { on: loraOn, rank: loraRank, targetMode: loraTargetMode, names: loraNames });
  const adapted = new Set(estimate.est?.lora?.tensors ?? []);

  const applyPreset = async (p: string) => {
    if (modelId === null) return;
    const r = await client.call('layers.resolve', { modelId, layers: p });
    setPresetError(r.ok ? null : r.error);
    if (r.ok) {
      setChosen(new Set(r.value.tensors));
      setPreset(p);
    }
  };
  const choose = (tensors: string[], from: string | null) => {
    setChosen(new Set(tensors));
    setPreset(from);
  };
  const toggle = (names: string[]) => {
    setChosen((prev) => {
      const next = new Set(prev);
      const allIn = names.every((n) => next.has(n));
      for (const n of names) {
        if (allIn) next.delete(n);
        else next.add(n);
      }
      return next;
    });
    setPreset(null);
  };
  const trainWith = (s: string) => {
    const lora = loraOn ? `&lora=${encodeURIComponent(loraTargetMode === 'names' ? loraNames : loraTargetMode)}` : '';
    window.location.hash = `#/train?layers=${encodeURIComponent(s)}${modelId !== null ? `&model=${modelId}` : ''}${lora}`;
  };

  if (project && models.length === 0) {
    return (
      <div className="screen" data-testid="screen-layers">
        <h1>Layers</h1>
        <EmptyState title="No model" testId="layers-empty">
          Add a model on the <a href="#/data">Data</a> screen first.
        </EmptyState>
      </div>
    );
  }

  return (
    <div className="screen screen-layers" data-testid="screen-layers">
      <div className="toolbar">
        <h1>Layers</h1>
        <CurrentDataset />
        <ModelField testId="layers-model" width="inline" value={modelId} onChange={setModelChoice} models={models} />
        {scored.length > 0 && (
          <SelectField label="Colour by" testId="layers-signal" width="inline" value={signal ?? ''} onChange={setSignalChoice} options={scored.map((s) => [s, s] as const)} />
        )}
        <label className="check" title="Train LoRA adapters instead of whole tensors: the grid marks the modules that carry one (L)">
          <input type="checkbox" data-testid="layers-lora" checked={loraOn} onChange={(e) => setLoraOn(e.target.checked)} />
          LoRA
        </label>
        {loraOn && (
          <>
            <TextField label="Rank" testId="layers-lora-rank" width="narrow" inputMode="numeric" value={loraRank} onChange={setLoraRank} />
            <SelectField label="Targets" testId="layers-lora-targets" width="inline" value={loraTargetMode} onChange={setLoraTargetMode} options={LORA_TARGET_OPTIONS} />
            {loraTargetMode === 'names' && <TextField label="Module names" testId="layers-lora-names" width="inline" value={loraNames} onChange={setLoraNames} />}
          </>
        )}
      </div>
      <ErrorText error={list.error} testId="layers-error" />
      <LayersSummary estimate={estimate} spec={spec} chosenCount={chosen.size} tensorCount={tensors.length} />
      <section className="card">
        <PresetRow scored={scored.length > 0} signal={signal} applyPreset={(p) => void applyPreset(p)} onNone={() => choose([], null)} />
        <ErrorText error={presetError} testId="preset-error" />
        <GridNotes layers={list.data} scored={scored.length > 0} signal={signal} modelId={modelId} loraOn={loraOn} />
        {list.loading && !list.data && <div className="muted">Reading the checkpoint…</div>}
        {list.data && <TensorGrid tensors={tensors} grid={grid} signal={signal} chosen={chosen} adapted={adapted} loraOn={loraOn} toggle={toggle} />}
      </section>
      <LayerMasksCard modelId={modelId} spec={spec} masks={masks} trainWith={trainWith} onLoad={choose} />
      {modelId !== null && <ParamMaskPanel modelId={modelId} scope={spec} />}
    </div>
  );
}
