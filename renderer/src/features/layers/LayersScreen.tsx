/**
 * Layers: which tensors to train. A heatmap of every tensor (blocks × roles, the rest in a "model" row) coloured by a
 * per-tensor score, presets that resolve through the engine's layer spec, click-to-toggle for single tensors and
 * whole blocks, the trainable parameter count and memory estimate always in view, named masks, and a jump to Train.
 */
import { useEffect, useMemo, useState } from 'react';
import { LAYER_SIGNALS, type ApiError, type TensorRow } from '../../../../preload/contract';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { ModelField, SelectField, TextField } from '../../components/Field';
import { fmtCount, fmtNum } from '../../components/format';
import { layerGrid, simplestSpec } from './layerGrid';
import { ParamMaskPanel } from './ParamMaskPanel';
import { CurrentDataset } from '../../components/CurrentDataset';
import { MemoryBreakdown } from '../../components/MemoryBreakdown';
import { LORA_TARGET_OPTIONS, loraTargets, type LoraTargetMode } from '../train/lora';
import { ItemActions } from '../../components/ItemActions';

const NOTHING_CHOSEN = 'No tensor chosen yet: pick a preset or click cells in the grid';
const gib = (b: number) => `${(b / 1024 ** 3).toFixed(b < 1024 ** 3 ? 3 : 2)} GiB`;
const mib = (b: number) => (b < 1024 ** 3 ? `${(b / 1024 ** 2).toFixed(1)} MiB` : gib(b));

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
  const [topN, setTopN] = useState('2');
  const [lastN, setLastN] = useState('2');
  const [seed, setSeed] = useState('0');
  const [batchSize, setBatchSize] = useState('4');
  const [maxTokens, setMaxTokens] = useState('256');
  const [maskName, setMaskName] = useState('');
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [savedName, setSavedName] = useState<string | null>(null);
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
  const bs = Number(batchSize);
  const mt = Number(maxTokens);
  const lr = Number(loraRank);
  const targets = loraTargets(loraTargetMode, loraNames);
  const estimate = useCall(
    'train.estimate',
    modelId !== null && spec && Number.isInteger(bs) && bs > 0 && Number.isInteger(mt) && mt > 0 && (!loraOn || (Number.isInteger(lr) && lr > 0))
      ? { modelId, layers: spec, batchSize: bs, maxTokens: mt, ...(loraOn ? { lora: { r: lr, alpha: 2 * lr, dropout: 0, rslora: false, ...(targets ? { targets } : {}) } } : {}) }
      : null,
  );
  const est = spec ? estimate.data : null;
  const adapted = new Set(est?.lora?.tensors ?? []);

  const applyPreset = async (p: string) => {
    if (modelId === null) return;
    const r = await client.call('layers.resolve', { modelId, layers: p });
    setPresetError(r.ok ? null : r.error);
    if (r.ok) {
      setChosen(new Set(r.value.tensors));
      setPreset(p);
    }
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

  const values = signal ? tensors.map((t) => t.scores[signal]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)) : [];
  const vmax = values.length ? Math.max(...values) : 0;
  const vmin = values.length ? Math.min(...values) : 0;
  const heat = (t: TensorRow) => {
    const v = signal ? t.scores[signal] : undefined;
    if (v === undefined || !Number.isFinite(v) || vmax === vmin) return undefined;
    // log scale: per-tensor scores span orders of magnitude
    const lo = Math.log10(Math.max(vmin, vmax * 1e-6) + 1e-30);
    const hi = Math.log10(vmax + 1e-30);
    const x = Math.max(0, Math.min(1, (Math.log10(Math.max(v, 1e-30)) - lo) / (hi - lo || 1)));
    return `color-mix(in oklab, var(--heat-hi) ${Math.round(x * 100)}%, var(--heat-lo))`;
  };

  const save = async () => {
    if (modelId === null || !spec) return;
    const r = await client.call('layerMasks.save', { name: maskName.trim(), modelId, layers: spec });
    setSaveError(r.ok ? null : r.error);
    if (r.ok) {
      setSavedName(r.value.name);
      setMaskName('');
      masks.reload();
    }
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

  const cell = (t: TensorRow | undefined, key: string) => {
    if (!t) return <div key={key} className="lcell lcell-none" />;
    const on = chosen.has(t.name);
    const lora = adapted.has(t.name);
    const v = signal ? t.scores[signal] : undefined;
    return (
      <button
        key={key}
        // with LoRA every weight stays frozen: the chosen tensors only pick blocks, so only the adapted cells stand out
        className={`lcell${on && !loraOn ? ' on' : ''}${lora ? ' lora' : ''}`}
        style={{ background: heat(t) }}
        data-testid="layer-cell"
        data-name={t.name}
        data-block={t.block ?? ''}
        data-kind={t.kind}
        data-selected={on}
        data-lora={lora}
        data-value={v ?? ''}
        title={`${t.name}\n${t.shape.join('×')} = ${fmtNum(t.size)} params${signal ? `\n${signal}: ${fmtNum(v ?? null)}` : ''}\n${lora ? 'carries a LoRA adapter (the weight stays frozen)' : loraOn ? `no adapter${on ? ' (chosen: its block carries adapters on the target modules)' : ''}` : on ? 'trained' : 'frozen'} — click to toggle`}
        onClick={() => toggle([t.name])}
      >
        {lora ? 'L' : on && !loraOn ? '●' : ''}
      </button>
    );
  };

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
            <span className="stat-value num" data-testid="layers-count" data-value={chosen.size} data-lora-modules={est?.lora ? est.lora.tensors.length : ''}>
              {est?.lora ? `${est.lora.tensors.length} (${est.lora.targets.join(', ')}) in blocks ${est.lora.blocks.join(', ')}` : `${chosen.size} of ${tensors.length}`}
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
          <TextField label="Batch size" testId="layers-batch-size" width="narrow" inputMode="numeric" value={batchSize} onChange={setBatchSize} />
          <TextField label="Max tokens" testId="layers-max-tokens" width="narrow" inputMode="numeric" value={maxTokens} onChange={setMaxTokens} />
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
        <ErrorText error={estimate.error && spec ? estimate.error : null} testId="layers-estimate-error" />
      </section>

      <section className="card">
        <div className="preset-row">
          <span className="muted">Presets</span>
          <span className="preset">
            <button className="btn btn-small" data-testid="preset-top" disabled={!scored.length} onClick={() => void applyPreset(`top:${topN}:${signal ?? 'fim'}`)} title={scored.length ? '' : 'Score layers first'}>
              Top
            </button>
            <input className="tiny" data-testid="preset-top-n" value={topN} onChange={(e) => setTopN(e.target.value)} aria-label="top N blocks" />
            <span className="muted">blocks by {signal ?? 'fim'}</span>
          </span>
          <span className="preset">
            <button className="btn btn-small" data-testid="preset-last" onClick={() => void applyPreset(`last:${lastN}`)}>
              Last
            </button>
            <input className="tiny" data-testid="preset-last-n" value={lastN} onChange={(e) => setLastN(e.target.value)} aria-label="last N blocks" />
            <span className="muted">blocks</span>
          </span>
          <button className="btn btn-small" data-testid="preset-attention" onClick={() => void applyPreset('attention')}>
            Attention only
          </button>
          <button className="btn btn-small" data-testid="preset-mlp" onClick={() => void applyPreset('mlp')}>
            MLP only
          </button>
          <span className="preset">
            <button className="btn btn-small" data-testid="preset-hft" onClick={() => void applyPreset(`hft:${seed}`)} title="HFT: in every block, half of its attention matrices and half of its MLP matrices, a seeded random choice (norms, biases, embeddings frozen)">
              HFT
            </button>
            <span className="muted">seed</span>
            <input className="tiny" data-testid="preset-hft-seed" value={seed} onChange={(e) => setSeed(e.target.value)} aria-label="HFT seed" />
          </span>
          <button className="btn btn-small" data-testid="preset-all" onClick={() => void applyPreset('all')}>
            All
          </button>
          <button
            className="btn btn-small btn-ghost"
            data-testid="preset-none"
            onClick={() => {
              setChosen(new Set());
              setPreset(null);
            }}
          >
            None
          </button>
        </div>
        <ErrorText error={presetError} testId="preset-error" />
        {list.data && scored.length === 0 && (
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
        {signal && list.data?.lossForms[signal] && (
          <p className="muted hint" data-testid="layers-loss-form" data-form={list.data.lossForms[signal]}>
            {signal} was computed from each example&apos;s {list.data.lossForms[signal] === 'sum' ? 'summed response NLL Σ_t ℓ_t (as surgical fine-tuning)' : 'mean response NLL (Σ_t ℓ_t / T)'}
            {signal === 'layer_grad_norm' ? '; a block’s score (Top preset) is the norm of its whole gradient.' : '; a block’s score (Top preset) is the sum over its tensors.'}
          </p>
        )}
        {loraOn && (
          <p className="muted hint" data-testid="layers-lora-note">
            LoRA: the blocks of the chosen tensors carry adapters on the target modules, marked L; every weight stays frozen and only the adapters train.
          </p>
        )}
        {list.loading && !list.data && <div className="muted">Reading the checkpoint…</div>}
        {list.data && (
          <div className="layer-grid-wrap">
            <div
              className="layer-grid"
              data-testid="layer-grid"
              data-tensors={tensors.length}
              style={{ gridTemplateColumns: `88px repeat(${grid.columns.length}, minmax(44px, 1fr))` }}
            >
              <div className="lhead" />
              {grid.columns.map((c) => (
                <div key={c.key} className="lhead" title={c.key}>
                  {c.label}
                </div>
              ))}
              {grid.blocks.map(({ block, cells }) => {
                const names = [...cells.values()].map((t) => t.name);
                const n = names.filter((x) => chosen.has(x)).length;
                return [
                  <button
                    key={`b${block}`}
                    className={`lblock${n === names.length ? ' on' : n ? ' some' : ''}`}
                    data-testid="layer-block"
                    data-block={block}
                    data-selected={n === names.length ? 'all' : n ? 'some' : 'none'}
                    title={`Block ${block}: ${n} of ${names.length} tensors trained — click to toggle the block`}
                    onClick={() => toggle(names)}
                  >
                    block {block}
                  </button>,
                  ...grid.columns.map((c) => cell(cells.get(c.key), `${block}:${c.key}`)),
                ];
              })}
            </div>
            {grid.others.length > 0 && (
              <div className="layer-others">
                <span className="lblock static">model</span>
                {grid.others.map((t) => (
                  <span key={t.name} className="lother">
                    {cell(t, t.name)}
                    <span className="muted" title={t.name}>
                      {t.kind === 'embed' ? 'embeddings' : t.kind === 'norm' ? 'final norm' : t.kind === 'head' ? 'lm head' : t.kind}
                    </span>
                  </span>
                ))}
              </div>
            )}
            {signal && values.length > 0 && (
              <span className="heat-legend" data-testid="layers-legend">
                <span className="num">{fmtNum(vmin)}</span>
                <span className="heat-bar" />
                <span className="num">{fmtNum(vmax)}</span>
                <span className="muted">{signal} (log scale)</span>
              </span>
            )}
          </div>
        )}
      </section>

      <section className="card">
        <h2>Layer masks</h2>
        <div className="form-row">
          <TextField label="Name" testId="layer-mask-name" width="grow" value={maskName} placeholder="last-2-attention" onChange={setMaskName} />
          <button
            className="btn"
            data-testid="layer-mask-save"
            disabled={!spec || !maskName.trim()}
            title={!spec ? NOTHING_CHOSEN : !maskName.trim() ? 'Give the mask a name first' : undefined}
            onClick={() => void save()}
          >
            Save mask
          </button>
          <button className="btn btn-primary" data-testid="layers-train" disabled={!spec} title={spec ? undefined : NOTHING_CHOSEN} onClick={() => spec && trainWith(spec)}>
            Train with this mask →
          </button>
        </div>
        <ErrorText error={saveError} testId="layer-mask-error" />
        {savedName && (
          <div className="ok-text" data-testid="layer-mask-saved">
            Saved “{savedName}”.
          </div>
        )}
        {masks.data && masks.data.length === 0 && <div className="muted">No saved masks for this model yet.</div>}
        {masks.data && masks.data.length > 0 && (
          <table className="simple-table" data-testid="layer-masks">
            <thead>
              <tr>
                <th>Name</th>
                <th className="num">Tensors</th>
                <th>Made from</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {masks.data.map((m) => {
                const from = typeof m.provenance.spec === 'string' ? m.provenance.spec : '';
                return (
                  <tr key={m.id} data-testid="layer-mask-row" data-name={m.name}>
                    <td>{m.name}</td>
                    <td className="num">{m.tensors.length}</td>
                    <td className="ellipsis spec-cell">
                      <code title={from}>{from}</code>
                    </td>
                    <td className="actions">
                      <button
                        className="btn btn-small"
                        data-testid="layer-mask-load"
                        onClick={() => {
                          setChosen(new Set(m.tensors));
                          setPreset(from && !from.startsWith('names:') ? from : null);
                        }}
                      >
                        Load
                      </button>
                      <button className="btn btn-small" data-testid="layer-mask-train" onClick={() => trainWith(from || `names:${m.tensors.join(',')}`)}>
                        Train with
                      </button>
                      <ItemActions kind="layer_mask" id={m.id} name={m.name} onChanged={masks.reload} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>

      {modelId !== null && <ParamMaskPanel modelId={modelId} scope={spec} />}
    </div>
  );
}
