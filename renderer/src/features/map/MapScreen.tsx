/**
 * Map: every example's embedding in 2-D — PCA (computed by the engine) or a stored, seeded UMAP layout — drawn with
 * WebGL (a 2-D canvas when WebGL is missing) so 100k points stay interactive. Colour by any column or by cluster,
 * hover to read the example, wheel to zoom, shift-drag to pan, drag a lasso to pick rows and save them as a subset.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ApiError, ExampleDetail } from '../../../../preload/contract';
import { useApp, useCall, useStartJob } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { SelectField, TextField } from '../../components/Field';
import { JobProgress } from '../../components/JobProgress';
import { fmtNum, plural, rowNumber } from '../../components/format';
import { ClustersPanel } from './ClustersPanel';
import { type ScatterRenderer, type View, createCanvasRenderer, createWebGlRenderer } from './renderers';
import { GridIndex, clusterColour, fitPoints, insidePolygon, parseColor, ramp, rgbCss, themeColour } from './scatter';
import { CurrentDataset } from '../../components/CurrentDataset';

const HEIGHT = 560;
const IDENTITY: View = { k: 1, tx: 0, ty: 0 };
const PROJECTIONS = [
  ['pca', 'PCA'],
  ['umap', 'UMAP'],
] as const;

/** Re-read theme colours when the theme changes (data-theme on <html>). */
function useThemeVersion(): number {
  const [v, setV] = useState(0);
  useEffect(() => {
    const mo = new MutationObserver(() => setV((x) => x + 1));
    mo.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => mo.disconnect();
  }, []);
  return v;
}

export function MapScreen() {
  const { client, project, datasetId } = useApp();
  const columnsQuery = useCall('examples.query', datasetId === null ? null : { datasetId, limit: 1 });
  const columns = columnsQuery.data?.columns ?? [];
  const [signalChoice, setSignalChoice] = useState<string | null>(null);
  const signal = signalChoice ?? (columns.includes('cluster') ? 'cluster' : columns.includes('mean_loss') ? 'mean_loss' : (columns[0] ?? null));
  const [method, setMethod] = useState<'pca' | 'umap'>('pca');
  // the points once per layout; a colour change fetches only the new column's values (~1/4 of the bytes) and keeps
  // the fitted positions, hover index, zoom and pick
  const map = useCall('examples.map', datasetId === null ? null : { datasetId, method });
  const colour = useCall('examples.map', datasetId === null || signal === null ? null : { datasetId, method, signal, valuesOnly: true });
  const clusters = useCall('clusters.info', datasetId === null ? null : { datasetId });
  const data = map.data && map.data.method === method ? map.data : null;
  const n = data?.ids.length ?? 0;
  const values = data && colour.data && colour.data.layoutKey === data.layoutKey ? colour.data.values : null;
  const reloadMap = () => {
    map.reload();
    colour.reload();
  };
  // values made for other points (the embeddings changed between the two calls): ask for the values again, and if
  // they still belong to newer points, for the points
  const resynced = useRef<string | null>(null);
  useEffect(() => {
    if (!data || !colour.data || map.loading || colour.loading || colour.data.layoutKey === data.layoutKey) return;
    if (resynced.current !== data.layoutKey) {
      resynced.current = data.layoutKey;
      colour.reload();
    } else map.reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, colour.data, map.loading, colour.loading]);
  const byCluster = signal === 'cluster';
  const themeVersion = useThemeVersion();

  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [renderer, setRenderer] = useState<ScatterRenderer | null>(null);
  const [width, setWidth] = useState(800);
  const [view, setView] = useState<View>(IDENTITY);
  const [hover, setHover] = useState<number | null>(null);
  const [lasso, setLasso] = useState<Array<[number, number]> | null>(null);
  const pan = useRef<{ x: number; y: number; view: View } | null>(null);
  const [picked, setPicked] = useState<Uint32Array>(new Uint32Array(0));
  const [name, setName] = useState('');
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<{ name: string; size: number } | null>(null);
  const [umapSeed, setUmapSeed] = useState('0');
  const [umapNeighbors, setUmapNeighbors] = useState('15');
  const { jobId: umapJob, error: umapError, setError: setUmapError, start: startUmapJob } = useStartJob('map.umap', reloadMap);

  const hasPoints = n > 0;
  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(Math.max(320, Math.floor(el.clientWidth))));
    ro.observe(el);
    return () => ro.disconnect();
  }, [hasPoints]);

  // one renderer per canvas element: WebGL on a GPU; the pixel-buffer canvas where WebGL is missing or emulated on the
  // CPU (?scatter=webgl|canvas forces one, for comparing them)
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const force = new URLSearchParams(window.location.search).get('scatter');
    const r = (force !== 'canvas' && createWebGlRenderer(canvas, { allowSoftware: force === 'webgl' })) || createCanvasRenderer(canvas);
    setRenderer(r);
    return () => {
      r.dispose();
      setRenderer(null);
    };
  }, [hasPoints]);

  // fit-space coordinates (CSS px at zoom 1) and the hover index over them; recomputed on resize or new data
  const fit = useMemo(() => {
    if (!data || !n) return null;
    const f = fitPoints(data.points, width, HEIGHT);
    const xs = new Float32Array(n);
    const ys = new Float32Array(n);
    const xy = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      xy[2 * i] = xs[i] = f.sx(data.points[2 * i]!);
      xy[2 * i + 1] = ys[i] = f.sy(data.points[2 * i + 1]!);
    }
    return { xs, ys, xy, index: new GridIndex(xs, ys) };
  }, [data, n, width]);

  const scale = useMemo(() => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values ?? []) {
      if (v === null) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo <= hi ? { lo, hi } : null;
  }, [values]);

  useEffect(() => {
    setPicked(new Uint32Array(0));
    setView(IDENTITY);
  }, [data?.ids, width]);

  const dark = document.documentElement.dataset.theme === 'dark';
  // the colours for this layout are on their way: wait for them rather than draw grey points first
  const pending = signal === null ? columnsQuery.loading : values === null && colour.loading;
  // one RGBA per point: by value on the theme's ramp, or by cluster; faded toward the background when there is a pick.
  // Opaque on purpose: the canvas path writes opaque pixels with one store each (blending costs ~10× that).
  const colours = useMemo(() => {
    if (!data || pending) return null;
    const steps = ramp(themeColour('--series-1', '#2f6fde'), themeColour('--heat-hi', '#e4572e'));
    // rows without a value: grey that shows on both themes (the border colour all but vanished on dark)
    const none = parseColor(themeColour('--muted', '#888'));
    const bg = parseColor(themeColour('--surface', '#fff'));
    const rgba = new Uint8Array(4 * n);
    const span = scale ? scale.hi - scale.lo || 1 : 1;
    const pickedSet = picked.length ? new Set(picked) : null;
    const palette: Array<[number, number, number]> = [];
    for (let i = 0; i < n; i++) {
      const v = values?.[i];
      const c = v === null || v === undefined || !scale ? none : byCluster ? (palette[v] ??= clusterColour(v, dark)) : steps[Math.round(((v - scale.lo) / span) * 63)]!;
      const keep = !pickedSet || pickedSet.has(i) ? 1 : 0.3;
      rgba[4 * i] = Math.round(bg[0] + (c[0] - bg[0]) * keep);
      rgba[4 * i + 1] = Math.round(bg[1] + (c[1] - bg[1]) * keep);
      rgba[4 * i + 2] = Math.round(bg[2] + (c[2] - bg[2]) * keep);
      rgba[4 * i + 3] = 255;
    }
    return { rgba, outline: parseColor(themeColour('--text', '#000')) };
    // themeVersion: theme colours are read from CSS
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, values, pending, n, scale, picked, byCluster, dark, themeVersion]);

  const draws = useRef(0);
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!renderer || !fit || !colours || !canvas) return;
    const t0 = performance.now();
    renderer.draw({ width, height: HEIGHT, xy: fit.xy, rgba: colours.rgba, picked, outline: colours.outline, view, size: n > 20_000 ? 2.5 : n > 2_000 ? 4 : 6 });
    // read back by bench/ui-map.ts and the e2e test
    canvas.dataset.drawMs = (performance.now() - t0).toFixed(2);
    canvas.dataset.draws = String(++draws.current);
  }, [renderer, fit, colours, picked, view, width, n]);

  const hoveredId = hover !== null && data ? data.ids[hover]! : null;
  const detail = useCall('examples.get', hoveredId === null ? null : { exampleId: hoveredId });
  const hoveredDetail: ExampleDetail | null = detail.data && detail.data.id === hoveredId ? detail.data : null;

  const local = (e: { clientX: number; clientY: number }): [number, number] => {
    const r = canvasRef.current!.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  const toFit = ([x, y]: [number, number]): [number, number] => [(x - view.tx) / view.k, (y - view.ty) / view.k];

  const finishLasso = (poly: Array<[number, number]>) => {
    if (!fit || poly.length <= 3) return setPicked(new Uint32Array(0));
    const fpoly = poly.map(toFit);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [x, y] of fpoly) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const inside: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = fit.xs[i]!;
      const y = fit.ys[i]!;
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && insidePolygon(x, y, fpoly)) inside.push(i);
    }
    setPicked(Uint32Array.from(inside));
  };

  const save = async () => {
    if (!data) return;
    const ids = Array.from(picked, (i) => data.ids[i]!);
    const r = await client.call('subsets.create', {
      name: name.trim(),
      rule: { kind: 'ids', ids, source: `map lasso (${method.toUpperCase()} of embedding)` },
      datasetId: datasetId ?? undefined,
    });
    setSaveError(r.ok ? null : r.error);
    if (r.ok) {
      setSaved({ name: r.value.name, size: r.value.size });
      setName('');
    }
  };

  const startUmap = async () => {
    const seed = Number(umapSeed);
    const nn = Number(umapNeighbors);
    if (!Number.isInteger(seed) || !Number.isInteger(nn) || nn < 2 || nn > 200) {
      setUmapError({ code: 'bad_input', message: 'Seed must be a whole number and neighbours a whole number from 2 to 200.' });
      return;
    }
    await startUmapJob({ datasetId: datasetId ?? undefined, seed, nNeighbors: nn });
  };

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

  const clusterLegend = byCluster && scale ? Array.from({ length: Math.min(24, scale.hi + 1) }, (_, c) => c) : [];
  const lassoPath = lasso && lasso.length > 1 ? `M${lasso.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L')}Z` : null;
  const hoverXY = hover !== null && fit ? [view.tx + view.k * fit.xs[hover]!, view.ty + view.k * fit.ys[hover]!] : null;
  const umapForm = (
    <div className="form-row umap-form" data-testid="umap-form">
      <TextField label="Seed" testId="umap-seed" width="narrow" inputMode="numeric" value={umapSeed} onChange={setUmapSeed} />
      <TextField label="Neighbours" testId="umap-neighbors" width="narrow" inputMode="numeric" value={umapNeighbors} onChange={setUmapNeighbors} />
      <button className="btn" data-testid="umap-run" onClick={() => void startUmap()}>
        {data?.layout ? 'Recompute UMAP' : 'Compute UMAP'}
      </button>
    </div>
  );

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
      {method === 'umap' && (
        <div className="umap-bar">
          {umapForm}
          <span className="muted hint">UMAP runs as a background job (minutes at 100k rows); the same seed gives the same layout.</span>
          <ErrorText error={umapError} testId="umap-error" />
          <JobProgress jobId={umapJob} label="UMAP" />
        </div>
      )}
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
                onPointerDown={(e) => {
                  try {
                    (e.target as Element).setPointerCapture?.(e.pointerId);
                  } catch {
                    // not an active pointer (synthetic events): the drag still works inside the canvas
                  }
                  if (e.shiftKey || e.button === 1) {
                    pan.current = { x: e.clientX, y: e.clientY, view };
                    return;
                  }
                  setLasso([local(e)]);
                  setSaved(null);
                }}
                onPointerMove={(e) => {
                  if (pan.current) {
                    const p = pan.current;
                    setView({ ...p.view, tx: p.view.tx + e.clientX - p.x, ty: p.view.ty + e.clientY - p.y });
                    return;
                  }
                  const pt = local(e);
                  if (lasso) {
                    setLasso([...lasso, pt]);
                    return;
                  }
                  const [fx, fy] = toFit(pt);
                  setHover(fit?.index.nearest(fx, fy, 8 / view.k) ?? null);
                }}
                onPointerUp={() => {
                  if (pan.current) {
                    pan.current = null;
                    return;
                  }
                  if (lasso) finishLasso(lasso);
                  setLasso(null);
                }}
                onPointerLeave={() => !lasso && setHover(null)}
                onWheel={(e) => {
                  const [x, y] = local(e);
                  const f = Math.exp(-e.deltaY * 0.0015);
                  setView((v) => {
                    const k = Math.min(200, Math.max(0.5, v.k * f));
                    const r = k / v.k;
                    return { k, tx: x - (x - v.tx) * r, ty: y - (y - v.ty) * r };
                  });
                }}
                onDoubleClick={() => setView(IDENTITY)}
              />
              <svg className="map-overlay" width={width} height={HEIGHT} aria-hidden>
                {lassoPath && <path d={lassoPath} className="lasso" />}
                {hoverXY && <circle cx={hoverXY[0]} cy={hoverXY[1]} r={6} className="hover-ring" />}
              </svg>
            </div>
            <div className="map-foot">
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
              <span className="muted">Hover to read a point · drag a lasso to pick · wheel to zoom, shift-drag to pan, double-click to reset.</span>
              {view !== IDENTITY && (
                <button className="btn btn-small" data-testid="map-reset-view" onClick={() => setView(IDENTITY)}>
                  Reset view
                </button>
              )}
            </div>
          </div>
          <aside className="card map-side">
            <div data-testid="map-hover" data-example-id={hoveredId ?? ''}>
              {hoveredId === null ? (
                <span className="muted">No point under the pointer.</span>
              ) : (
                <>
                  <div className="row">
                    <strong>Row {hoveredDetail ? rowNumber(hoveredDetail.rowIndex) : '…'}</strong>
                    {signal && hover !== null && (
                      <span className="muted num">
                        {signal} {fmtNum(values?.[hover] ?? null)}
                      </span>
                    )}
                  </div>
                  <p className="map-preview">{hoveredDetail ? (hoveredDetail.messages?.map((m) => `${m.role}: ${m.content}`).join('\n') ?? hoveredDetail.renderedText).slice(0, 600) : ''}</p>
                </>
              )}
            </div>
            <div className="map-pick" data-testid="map-selected" data-count={picked.length}>
              <span>
                <strong className="num">{fmtNum(picked.length)}</strong> <span className="muted">picked{picked.length ? '' : ' — drag a lasso on the map'}</span>
              </span>
              {picked.length > 0 && (
                <div className="form-row">
                  <TextField label="Subset name" testId="map-subset-name" width="grow" value={name} placeholder="cluster-a" onChange={setName} />
                  <button className="btn btn-primary" data-testid="map-save" disabled={!name.trim()} onClick={() => void save()}>
                    Save as subset
                  </button>
                </div>
              )}
              <ErrorText error={saveError} testId="map-save-error" />
              {saved && (
                <div className="ok-text" data-testid="map-saved" data-size={saved.size}>
                  Saved “{saved.name}” with {plural(saved.size, 'row')}.
                </div>
              )}
            </div>
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
