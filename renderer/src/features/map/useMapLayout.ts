/**
 * The Map's data and drawing, as hooks: the points of a layout and the values of the colour column (fetched apart and
 * kept in step), the fitted positions, the canvas and its renderer, the colour of every point, and the draw.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ExampleMap } from '../../../../preload/contract';
import { useCall } from '../../api/hooks';
import { type ScatterRenderer, type View, createCanvasRenderer, createWebGlRenderer } from './renderers';
import { GridIndex, clusterColour, fitPoints, parseColor, ramp, themeColour } from './scatter';

export const HEIGHT = 560;

/**
 * The points once per layout; a colour change fetches only the new column's values (~1/4 of the bytes) and keeps
 * the fitted positions, hover index, zoom and pick. `data` is null until the layout of `method` is in.
 */
export function useMapLayout(datasetId: number | null, method: 'pca' | 'umap', signal: string | null) {
  const map = useCall('examples.map', datasetId === null ? null : { datasetId, method });
  const colour = useCall('examples.map', datasetId === null || signal === null ? null : { datasetId, method, signal, valuesOnly: true });
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
  return { map, colour, data, n, values, reloadMap };
}

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

/** The canvas, its wrapper's width (followed on resize) and its renderer, made again when the canvas is. */
export function useScatterCanvas(hasPoints: boolean) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [renderer, setRenderer] = useState<ScatterRenderer | null>(null);
  const [width, setWidth] = useState(800);
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
  return { wrapRef, canvasRef, renderer, width };
}

export interface FittedPoints {
  xs: Float32Array;
  ys: Float32Array;
  xy: Float32Array;
  index: GridIndex;
}

/** Fit-space coordinates (CSS px at zoom 1) and the hover index over them; recomputed on resize or new data. */
export function useFit(data: ExampleMap | null, n: number, width: number): FittedPoints | null {
  return useMemo(() => {
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
}

/** The lowest and highest value of the colour column (null when no point has one). */
export function useValueScale(values: Array<number | null> | null): { lo: number; hi: number } | null {
  return useMemo(() => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values ?? []) {
      if (v === null) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return lo <= hi ? { lo, hi } : null;
  }, [values]);
}

/**
 * One RGBA per point: by value on the theme's ramp, or by cluster; faded toward the background when there is a pick.
 * Opaque on purpose: the canvas path writes opaque pixels with one store each (blending costs ~10× that). Null while
 * `pending` (the colours for this layout are on their way: wait for them rather than draw grey points first).
 */
export function usePointColours(opts: {
  data: ExampleMap | null;
  values: Array<number | null> | null;
  pending: boolean;
  n: number;
  scale: { lo: number; hi: number } | null;
  picked: Uint32Array;
  byCluster: boolean;
  dark: boolean;
}) {
  const { data, values, pending, n, scale, picked, byCluster, dark } = opts;
  const themeVersion = useThemeVersion();
  return useMemo(() => {
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
}

/** Draws whenever what is drawn changes; the draw time and count are left on the canvas for bench/ui-map.ts and the e2e test. */
export function useDraw(opts: {
  canvasRef: React.RefObject<HTMLCanvasElement | null>;
  renderer: ScatterRenderer | null;
  fit: FittedPoints | null;
  colours: { rgba: Uint8Array; outline: [number, number, number] } | null;
  picked: Uint32Array;
  view: View;
  width: number;
  n: number;
}) {
  const { canvasRef, renderer, fit, colours, picked, view, width, n } = opts;
  const draws = useRef(0);
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!renderer || !fit || !colours || !canvas) return;
    const t0 = performance.now();
    renderer.draw({ width, height: HEIGHT, xy: fit.xy, rgba: colours.rgba, picked, outline: colours.outline, view, size: n > 20_000 ? 2.5 : n > 2_000 ? 4 : 6 });
    // read back by bench/ui-map.ts and the e2e test
    canvas.dataset.drawMs = (performance.now() - t0).toFixed(2);
    canvas.dataset.draws = String(++draws.current);
  }, [canvasRef, renderer, fit, colours, picked, view, width, n]);
}
