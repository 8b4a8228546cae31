/**
 * The Layers screen's heatmap: one row per block (click the block to toggle all its tensors), one column per tensor
 * role, the rest in a "model" row; each cell coloured by the chosen per-tensor score on a log scale, click to toggle.
 */
import type { TensorRow } from '../../../../preload/contract';
import { fmtNum } from '../../components/format';
import type { LayerGrid } from './layerGrid';

export function TensorGrid({ tensors, grid, signal, chosen, adapted, loraOn, toggle }: {
  tensors: TensorRow[];
  grid: LayerGrid;
  /** the score that colours the cells (null: none scored) */
  signal: string | null;
  chosen: Set<string>;
  /** the tensors that carry a LoRA adapter under the estimate */
  adapted: Set<string>;
  loraOn: boolean;
  toggle: (names: string[]) => void;
}) {
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
  );
}
