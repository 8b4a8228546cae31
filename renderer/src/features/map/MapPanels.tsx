/**
 * The Map's panels around the canvas: the UMAP form, the colour legend, the point under the pointer, and the lasso
 * pick with "Save as subset". Their state lives in hooks the screen holds, so it outlives a panel being hidden.
 */
import { useState } from 'react';
import type { ApiError, ExampleMap } from '../../../../preload/contract';
import { useApp, useCall, useStartJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { TextField } from '../../components/Field';
import { JobProgress } from '../../components/JobProgress';
import { fmtNum, plural, rowNumber } from '../../components/format';
import { clusterColour, rgbCss } from './scatter';

/** The UMAP settings and its job; `onDone` reloads the map. */
export function useUmap(onDone: () => void) {
  const { datasetId } = useApp();
  const [seed, setSeed] = useState('0');
  const [neighbors, setNeighbors] = useState('15');
  const job = useStartJob('map.umap', onDone);
  const start = async () => {
    const s = Number(seed);
    const nn = Number(neighbors);
    if (!Number.isInteger(s) || !Number.isInteger(nn) || nn < 2 || nn > 200) {
      job.setError({ code: 'bad_input', message: 'Seed must be a whole number and neighbours a whole number from 2 to 200.' });
      return;
    }
    await job.start({ datasetId: datasetId ?? undefined, seed: s, nNeighbors: nn });
  };
  return { seed, setSeed, neighbors, setNeighbors, jobId: job.jobId, error: job.error, start };
}

export function UmapBar({ umap, hasLayout }: { umap: ReturnType<typeof useUmap>; hasLayout: boolean }) {
  return (
    <div className="umap-bar">
      <div className="form-row umap-form" data-testid="umap-form">
        <TextField label="Seed" testId="umap-seed" width="narrow" inputMode="numeric" value={umap.seed} onChange={umap.setSeed} />
        <TextField label="Neighbours" testId="umap-neighbors" width="narrow" inputMode="numeric" value={umap.neighbors} onChange={umap.setNeighbors} />
        <button className="btn" data-testid="umap-run" onClick={() => void umap.start()}>
          {hasLayout ? 'Recompute UMAP' : 'Compute UMAP'}
        </button>
      </div>
      <span className="muted hint">UMAP runs as a background job (minutes at 100k rows); the same seed gives the same layout.</span>
      <ErrorText error={umap.error} testId="umap-error" />
      <JobProgress jobId={umap.jobId} label="UMAP" />
    </div>
  );
}

/** The colour key: the value range on the ramp, or a swatch per cluster (the first 24). */
export function MapLegend({ scale, signal, byCluster, dark }: { scale: { lo: number; hi: number } | null; signal: string | null; byCluster: boolean; dark: boolean }) {
  const clusterLegend = byCluster && scale ? Array.from({ length: Math.min(24, scale.hi + 1) }, (_, c) => c) : [];
  return (
    <>
      {scale && signal && !byCluster && (
        <span className="heat-legend" data-testid="map-legend">
          <span className="num">{fmtNum(scale.lo)}</span>
          <span className="heat-bar map-bar" />
          <span className="num">{fmtNum(scale.hi)}</span>
          <span className="muted">{signal}</span>
        </span>
      )}
      {byCluster && (
        <span className="cluster-legend" data-testid="map-legend" data-clusters={scale ? scale.hi + 1 : 0}>
          {clusterLegend.map((c) => (
            <span key={c} className="cluster-swatch">
              <span className="swatch" style={{ background: rgbCss(clusterColour(c, dark)) }} />
              <span className="num">{c}</span>
            </span>
          ))}
          {scale && scale.hi + 1 > clusterLegend.length && <span className="muted">+{scale.hi + 1 - clusterLegend.length} more</span>}
        </span>
      )}
    </>
  );
}

/** The example under the pointer: its row number, its colour value and the start of its text. */
/** `value`: the point's value of the colour column (null where it has none). */
export function HoverCard({ hoveredId, signal, value }: { hoveredId: number | null; signal: string | null; value: number | null }) {
  const detail = useCall('examples.get', hoveredId === null ? null : { exampleId: hoveredId });
  const hoveredDetail = detail.data && detail.data.id === hoveredId ? detail.data : null;
  return (
    <div data-testid="map-hover" data-example-id={hoveredId ?? ''}>
      {hoveredId === null ? (
        <span className="muted">No point under the pointer.</span>
      ) : (
        <>
          <div className="row">
            <strong>Row {hoveredDetail ? rowNumber(hoveredDetail.rowIndex) : '…'}</strong>
            {signal && (
              <span className="muted num">
                {signal} {fmtNum(value)}
              </span>
            )}
          </div>
          <p className="map-preview">{hoveredDetail ? (hoveredDetail.messages?.map((m) => `${m.role}: ${m.content}`).join('\n') ?? hoveredDetail.renderedText).slice(0, 600) : ''}</p>
        </>
      )}
    </div>
  );
}

/** Saving the lasso's points as an `ids` subset: the name typed, the engine's answer. */
export function useLassoSave(data: ExampleMap | null, picked: Uint32Array, method: 'pca' | 'umap') {
  const { client, datasetId } = useApp();
  const [name, setName] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<{ name: string; size: number } | null>(null);
  const save = async () => {
    if (!data) return;
    const ids = Array.from(picked, (i) => data.ids[i]!);
    const r = await client.call('subsets.create', {
      name: name.trim(),
      rule: { kind: 'ids', ids, source: `map lasso (${method.toUpperCase()} of embedding)` },
      datasetId: datasetId ?? undefined,
    });
    setError(r.ok ? null : r.error);
    if (r.ok) {
      setSaved({ name: r.value.name, size: r.value.size });
      setName('');
    }
  };
  return { name, setName, error, saved, setSaved, save };
}

export function PickPanel({ picked, saving }: { picked: Uint32Array; saving: ReturnType<typeof useLassoSave> }) {
  const { saved } = saving;
  return (
    <div className="map-pick" data-testid="map-selected" data-count={picked.length}>
      <span>
        <strong className="num">{fmtNum(picked.length)}</strong> <span className="muted">picked{picked.length ? '' : ' — drag a lasso on the map'}</span>
      </span>
      {picked.length > 0 && (
        <div className="form-row">
          <TextField label="Subset name" testId="map-subset-name" width="grow" value={saving.name} placeholder="cluster-a" onChange={saving.setName} />
          <button className="btn btn-primary" data-testid="map-save" disabled={!saving.name.trim()} onClick={() => void saving.save()}>
            Save as subset
          </button>
        </div>
      )}
      <ErrorText error={saving.error} testId="map-save-error" />
      {saved && (
        <div className="ok-text" data-testid="map-saved" data-size={saved.size}>
          Saved “{saved.name}” with {plural(saved.size, 'row')}.
        </div>
      )}
    </div>
  );
}
