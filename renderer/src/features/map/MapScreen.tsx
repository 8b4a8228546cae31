/**
 * Map: every example's embedding in 2-D — PCA (computed by the engine) or a stored, seeded UMAP layout — drawn with
 * WebGL (a 2-D canvas when WebGL is missing) so 100k points stay interactive. Colour by any column or by cluster,
 * hover to read the example, wheel to zoom, shift-drag to pan, drag a lasso to pick rows and save them as a subset.
 */
import { useEffect, useState } from 'react';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { SelectField } from '../../components/Field';
import { plural } from '../../components/format';
import { ClustersPanel } from './ClustersPanel';
import { CurrentDataset } from '../../components/CurrentDataset';
import { HoverCard, MapLegend, PickPanel, UmapBar, useLassoSave, useUmap } from './MapPanels';
import { IDENTITY, useMapGestures } from './useMapGestures';
import { HEIGHT, useDraw, useFit, useMapLayout, usePointColours, useScatterCanvas, useValueScale } from './useMapLayout';

const PROJECTIONS = [
  ['pca', 'PCA'],
  ['umap', 'UMAP'],
] as const;

export function MapScreen() {
  const { project, datasetId } = useApp();
  const columnsQuery = useCall('examples.query', datasetId === null ? null : { datasetId, limit: 1 });
  const columns = columnsQuery.data?.columns ?? [];
  const [signalChoice, setSignalChoice] = useState<string | null>(null);
  const signal = signalChoice ?? (columns.includes('cluster') ? 'cluster' : columns.includes('mean_loss') ? 'mean_loss' : (columns[0] ?? null));
  const [method, setMethod] = useState<'pca' | 'umap'>('pca');
  const { map, colour, data, n, values, reloadMap } = useMapLayout(datasetId, method, signal);
  const clusters = useCall('clusters.info', datasetId === null ? null : { datasetId });
  const byCluster = signal === 'cluster';

  const { wrapRef, canvasRef, renderer, width } = useScatterCanvas(n > 0);
  const [hover, setHover] = useState<number | null>(null);
  const [picked, setPicked] = useState<Uint32Array>(new Uint32Array(0));
  const saving = useLassoSave(data, picked, method);
  const umap = useUmap(reloadMap);
  const fit = useFit(data, n, width);
  const scale = useValueScale(values);
  const { view, setView, lasso, handlers } = useMapGestures({ canvasRef, fit, n, setHover, setPicked, onLassoStart: () => saving.setSaved(null) });

  useEffect(() => {
    setPicked(new Uint32Array(0));
    setView(IDENTITY);
  }, [data?.ids, width, setView]);

  const dark = document.documentElement.dataset.theme === 'dark';
  // the colours for this layout are on their way: wait for them rather than draw grey points first
  const pending = signal === null ? columnsQuery.loading : values === null && colour.loading;
  const colours = usePointColours({ data, values, pending, n, scale, picked, byCluster, dark });
  useDraw({ canvasRef, renderer, fit, colours, picked, view, width, n });

  const hoveredId = hover !== null && data ? data.ids[hover]! : null;

  if (project && project.datasets.length === 0) {
    return (
      <div className="screen" data-testid="screen-map">
        <h1>Map</h1>
        <EmptyState title="No dataset to map" testId="map-empty">
          Import a dataset on the <a href="#/data">Data</a> screen first.
        </EmptyState>
      </div>
    );
  }

  const lassoPath = lasso && lasso.length > 1 ? `M${lasso.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L')}Z` : null;
  const hoverXY = hover !== null && fit ? [view.tx + view.k * fit.xs[hover]!, view.ty + view.k * fit.ys[hover]!] : null;

  return (
    <div className="screen screen-map" data-testid="screen-map">
      <div className="toolbar">
        <h1>Map</h1>
        <CurrentDataset />
        <SelectField label="Projection" testId="map-method" width="inline" value={method} onChange={setMethod} options={PROJECTIONS} />
        {columns.length > 0 && (
          <SelectField label="Colour by" testId="map-signal" width="inline" value={signal ?? ''} onChange={setSignalChoice} options={columns.map((c) => [c, c] as const)} />
        )}
        <span className="spacer" />
        {data && n > 0 && (
          <span className="muted num" data-testid="map-info">
            {plural(n, 'example')} ·{' '}
            {method === 'pca'
              ? `PCA of embedding · ${data.explained.map((x) => `${(100 * x).toFixed(0)}%`).join(' + ')} of variance`
              : `UMAP of embedding · seed ${data.layout?.seed}, ${data.layout?.nNeighbors} neighbours`}
          </span>
        )}
      </div>
      <ErrorText error={map.error ?? colour.error} testId="map-error" />
      {method === 'umap' && <UmapBar umap={umap} hasLayout={!!data?.layout} />}
      {data && data.message && (
        <EmptyState title={method === 'umap' ? 'No UMAP layout yet' : 'Nothing to map yet'} testId="map-empty">
          {data.message}
        </EmptyState>
      )}
      {data && n > 0 && (
        <div className="map-body">
          <div className="card map-card">
            <div className="map-canvas-wrap" style={{ height: HEIGHT }} ref={wrapRef}>
              <canvas
                ref={canvasRef}
                data-testid="map-canvas"
                data-points={n}
                data-renderer={renderer?.kind ?? ''}
                data-loading={map.loading || colour.loading || columnsQuery.loading}
                data-zoom={view.k.toFixed(3)}
                style={{ width, height: HEIGHT }}
                {...handlers}
              />
              <svg className="map-overlay" width={width} height={HEIGHT} aria-hidden>
                {lassoPath && <path d={lassoPath} className="lasso" />}
                {hoverXY && <circle cx={hoverXY[0]} cy={hoverXY[1]} r={6} className="hover-ring" />}
              </svg>
            </div>
            <div className="map-foot">
              <MapLegend scale={scale} signal={signal} byCluster={byCluster} dark={dark} />
              <span className="muted">Hover to read a point · drag a lasso to pick · wheel to zoom, shift-drag to pan, double-click to reset.</span>
              {view !== IDENTITY && (
                <button className="btn btn-small" data-testid="map-reset-view" onClick={() => setView(IDENTITY)}>
                  Reset view
                </button>
              )}
            </div>
          </div>
          <aside className="card map-side">
            <HoverCard hoveredId={hoveredId} signal={signal} value={hover !== null ? (values?.[hover] ?? null) : null} />
            <PickPanel picked={picked} saving={saving} />
            <ClustersPanel
              info={clusters.data}
              loading={clusters.loading && !clusters.data}
              onDone={() => {
                clusters.reload();
                columnsQuery.reload();
                setSignalChoice('cluster');
                reloadMap();
              }}
            />
          </aside>
        </div>
      )}
    </div>
  );
}
