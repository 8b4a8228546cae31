/**
 * Map: every example's embedding projected to 2-D (PCA in the engine), drawn on a canvas so 100k points stay
 * interactive; colour by any column, hover to read the example, drag a lasso to pick rows and save them as a subset.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ApiError, ExampleDetail } from '../../../../preload/contract';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { fmtNum } from '../../components/format';
import { GridIndex, fitPoints, insidePolygon, ramp } from './scatter';

const HEIGHT = 560;

export function MapScreen() {
  const { client, project, datasetId } = useApp();
  const columnsQuery = useCall('examples.query', datasetId === null ? null : { datasetId, limit: 1 });
  const columns = columnsQuery.data?.columns ?? [];
  const [signalChoice, setSignalChoice] = useState<string | null>(null);
  const signal = signalChoice ?? (columns.includes('mean_loss') ? 'mean_loss' : (columns[0] ?? null));
  const map = useCall('examples.map', datasetId === null ? null : { datasetId, signal: signal ?? undefined, method: 'pca' });
  const data = map.data;
  const n = data?.ids.length ?? 0;

  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(800);
  const [hover, setHover] = useState<number | null>(null);
  const [lasso, setLasso] = useState<Array<[number, number]> | null>(null);
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const [name, setName] = useState('');
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<{ name: string; size: number } | null>(null);

  const hasPoints = n > 0;
  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(Math.max(320, Math.floor(el.clientWidth))));
    ro.observe(el);
    return () => ro.disconnect();
  }, [hasPoints]);

  // screen coordinates of every point (recomputed on resize), and the hover index over them
  const screen = useMemo(() => {
    if (!data || !n) return null;
    const fit = fitPoints(data.points, width, HEIGHT);
    const xs = new Float32Array(n);
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      xs[i] = fit.sx(data.points[2 * i]!);
      ys[i] = fit.sy(data.points[2 * i + 1]!);
    }
    return { xs, ys, index: new GridIndex(xs, ys) };
  }, [data, n, width]);

  const scale = useMemo(() => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of data?.values ?? []) {
      if (v === null) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo <= hi ? { lo, hi } : null;
  }, [data]);

  useEffect(() => setPicked(new Set()), [data]);

  // draw: every point as a 3×3 square, coloured by value; picked points on top with an outline
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !screen || !data) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = width * dpr;
    canvas.height = HEIGHT * dpr;
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);
    const css = getComputedStyle(document.documentElement);
    const colours = ramp(css.getPropertyValue('--series-1').trim() || '#2f6fde', css.getPropertyValue('--heat-hi').trim() || '#e4572e');
    const none = css.getPropertyValue('--border').trim() || '#ccc';
    const accent = css.getPropertyValue('--text').trim() || '#000';
    const span = scale ? scale.hi - scale.lo || 1 : 1;
    const size = n > 20_000 ? 2 : 3;
    ctx.globalAlpha = picked.size ? 0.35 : 0.85;
    for (let i = 0; i < n; i++) {
      const v = data.values[i];
      ctx.fillStyle = v === null || v === undefined || !scale ? none : colours[Math.round(((v - scale.lo) / span) * 63)]!;
      ctx.fillRect(screen.xs[i]! - size / 2, screen.ys[i]! - size / 2, size, size);
    }
    ctx.globalAlpha = 1;
    if (picked.size) {
      ctx.strokeStyle = accent;
      ctx.lineWidth = 1;
      for (const i of picked) {
        const v = data.values[i];
        ctx.fillStyle = v === null || v === undefined || !scale ? none : colours[Math.round(((v - scale.lo) / span) * 63)]!;
        ctx.fillRect(screen.xs[i]! - 2.5, screen.ys[i]! - 2.5, 5, 5);
        ctx.strokeRect(screen.xs[i]! - 2.5, screen.ys[i]! - 2.5, 5, 5);
      }
    }
  }, [screen, data, n, width, scale, picked]);

  const hoveredId = hover !== null && data ? data.ids[hover]! : null;
  const detail = useCall('examples.get', hoveredId === null ? null : { exampleId: hoveredId });
  const hoveredDetail: ExampleDetail | null = detail.data && detail.data.id === hoveredId ? detail.data : null;

  const local = (e: React.PointerEvent): [number, number] => {
    const r = canvasRef.current!.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };

  const save = async () => {
    if (!data) return;
    const ids = [...picked].map((i) => data.ids[i]!);
    const r = await client.call('subsets.create', {
      name: name.trim(),
      rule: { kind: 'ids', ids, source: `map lasso (pca of embedding)` },
      datasetId: datasetId ?? undefined,
    });
    setSaveError(r.ok ? null : r.error);
    if (r.ok) {
      setSaved({ name: r.value.name, size: r.value.size });
      setName('');
    }
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

  const lassoPath = lasso && lasso.length > 1 ? `M${lasso.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L')}Z` : null;
  return (
    <div className="screen screen-map" data-testid="screen-map">
      <div className="toolbar">
        <h1>Map</h1>
        {columns.length > 0 && (
          <label className="field inline">
            <span>Colour by</span>
            <select data-testid="map-signal" value={signal ?? ''} onChange={(e) => setSignalChoice(e.target.value)}>
              {columns.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
        )}
        <span className="spacer" />
        {data && n > 0 && (
          <span className="muted num" data-testid="map-info">
            {fmtNum(n)} examples · PCA of embedding · {data.explained.map((x) => `${(100 * x).toFixed(0)}%`).join(' + ')} of variance
          </span>
        )}
      </div>
      <ErrorText error={map.error} testId="map-error" />
      {data && data.message && (
        <EmptyState title="Nothing to map yet" testId="map-empty">
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
                data-loading={map.loading}
                style={{ width, height: HEIGHT }}
                onPointerDown={(e) => {
                  (e.target as Element).setPointerCapture?.(e.pointerId);
                  setLasso([local(e)]);
                  setSaved(null);
                }}
                onPointerMove={(e) => {
                  const [x, y] = local(e);
                  if (lasso) {
                    setLasso([...lasso, [x, y]]);
                    return;
                  }
                  setHover(screen?.index.nearest(x, y, 8) ?? null);
                }}
                onPointerUp={() => {
                  if (lasso && lasso.length > 3 && screen) {
                    const inside = new Set<number>();
                    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
                    for (const [x, y] of lasso) {
                      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
                      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
                    }
                    for (let i = 0; i < n; i++) {
                      const x = screen.xs[i]!;
                      const y = screen.ys[i]!;
                      if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && insidePolygon(x, y, lasso)) inside.add(i);
                    }
                    setPicked(inside);
                  } else setPicked(new Set());
                  setLasso(null);
                }}
                onPointerLeave={() => !lasso && setHover(null)}
              />
              <svg className="map-overlay" width={width} height={HEIGHT} aria-hidden>
                {lassoPath && <path d={lassoPath} className="lasso" />}
                {hover !== null && screen && <circle cx={screen.xs[hover]} cy={screen.ys[hover]} r={6} className="hover-ring" />}
              </svg>
            </div>
            <div className="map-foot">
              {scale && signal && (
                <span className="heat-legend">
                  <span className="num">{fmtNum(scale.lo)}</span>
                  <span className="heat-bar map-bar" />
                  <span className="num">{fmtNum(scale.hi)}</span>
                  <span className="muted">{signal}</span>
                </span>
              )}
              <span className="muted">Hover a point to read it; drag to draw a lasso around points.</span>
            </div>
          </div>
          <aside className="card map-side">
            <div data-testid="map-hover" data-example-id={hoveredId ?? ''}>
              {hoveredId === null ? (
                <span className="muted">No point under the pointer.</span>
              ) : (
                <>
                  <div className="row">
                    <strong>Row {hoveredDetail ? hoveredDetail.rowIndex : '…'}</strong>
                    {signal && hover !== null && (
                      <span className="muted num">
                        {signal} {fmtNum(data.values[hover] ?? null)}
                      </span>
                    )}
                  </div>
                  <p className="map-preview">{hoveredDetail ? (hoveredDetail.messages?.map((m) => `${m.role}: ${m.content}`).join('\n') ?? hoveredDetail.renderedText).slice(0, 600) : ''}</p>
                </>
              )}
            </div>
            <div className="map-pick" data-testid="map-selected" data-count={picked.size}>
              <span>
                <strong className="num">{fmtNum(picked.size)}</strong> <span className="muted">picked{picked.size ? '' : ' — drag a lasso on the map'}</span>
              </span>
              {picked.size > 0 && (
                <div className="form-row">
                  <label className="field grow">
                    <span>Subset name</span>
                    <input data-testid="map-subset-name" value={name} placeholder="cluster-a" onChange={(e) => setName(e.target.value)} />
                  </label>
                  <button className="btn btn-primary" data-testid="map-save" disabled={!name.trim()} onClick={() => void save()}>
                    Save as subset
                  </button>
                </div>
              )}
              <ErrorText error={saveError} testId="map-save-error" />
              {saved && (
                <div className="ok-text" data-testid="map-saved" data-size={saved.size}>
                  Saved “{saved.name}” with {fmtNum(saved.size)} rows.
                </div>
              )}
            </div>
          </aside>
        </div>
      )}
    </div>
  );
}
