/** Canvas scatter helpers: fitting points to the canvas, a grid index for hover at 100k points, point-in-polygon. */

export interface Fit {
  sx: (x: number) => number;
  sy: (y: number) => number;
}

export function fitPoints(points: number[], width: number, height: number, pad = 12): Fit {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i]!;
    const y = points[i + 1]!;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  const w = x1 - x0 || 1;
  const h = y1 - y0 || 1;
  // same scale on both axes: distances in the projection mean something
  const k = Math.min((width - 2 * pad) / w, (height - 2 * pad) / h);
  const ox = (width - k * w) / 2;
  const oy = (height - k * h) / 2;
  return { sx: (x) => ox + (x - x0) * k, sy: (y) => height - (oy + (y - y0) * k) };
}

/** Buckets of point indices by screen cell, for nearest-point lookups. */
export class GridIndex {
  private cells = new Map<number, number[]>();
  constructor(
    private readonly xs: Float32Array,
    private readonly ys: Float32Array,
    private readonly cell = 8,
  ) {
    for (let i = 0; i < xs.length; i++) {
      const key = this.key(Math.floor(xs[i]! / cell), Math.floor(ys[i]! / cell));
      let b = this.cells.get(key);
      if (!b) this.cells.set(key, (b = []));
      b.push(i);
    }
  }
  private key(cx: number, cy: number): number {
    return cx * 100_003 + cy;
  }
  nearest(x: number, y: number, radius: number): number | null {
    const r = Math.ceil(radius / this.cell);
    const cx = Math.floor(x / this.cell);
    const cy = Math.floor(y / this.cell);
    let best: number | null = null;
    let bestD = radius * radius;
    for (let dx = -r; dx <= r; dx++) {
      for (let dy = -r; dy <= r; dy++) {
        for (const i of this.cells.get(this.key(cx + dx, cy + dy)) ?? []) {
          const d = (this.xs[i]! - x) ** 2 + (this.ys[i]! - y) ** 2;
          if (d <= bestD) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }
}

export function insidePolygon(x: number, y: number, poly: Array<[number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * A theme variable's colour as the page shows it now, e.g. "rgb(47, 111, 222)". The variables hold light-dark(…)
 * pairs, which only an element (with its color-scheme) resolves, so a probe element is asked.
 */
export function themeColour(variable: string, fallback: string): string {
  const probe = document.createElement('span');
  probe.style.color = `var(${variable}, ${fallback})`;
  document.body.appendChild(probe);
  const rgb = getComputedStyle(probe).color;
  probe.remove();
  return rgb || fallback;
}

/** A CSS colour (as the theme variables give it) → [r, g, b]. */
export function parseColor(css: string): [number, number, number] {
  const c = document.createElement('canvas').getContext('2d')!;
  c.fillStyle = css;
  const hex = c.fillStyle as string;
  if (hex.startsWith('#')) return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
  const m = /(\d+),\s*(\d+),\s*(\d+)/.exec(hex);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [128, 128, 128];
}

/** A colour ramp between two CSS colours (read from theme variables), 64 steps. */
export function ramp(lo: string, hi: string): Array<[number, number, number]> {
  const a = parseColor(lo);
  const b = parseColor(hi);
  return Array.from({ length: 64 }, (_, i) => {
    const t = i / 63;
    return a.map((v, k) => Math.round(v + (b[k]! - v) * t)) as [number, number, number];
  });
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(255 * f(0)), Math.round(255 * f(8)), Math.round(255 * f(4))];
}

/** Colours for cluster ids: hues a golden angle apart, so neighbouring ids never look alike; lighter on dark themes. */
export function clusterColour(c: number, dark: boolean): [number, number, number] {
  return hslToRgb((c * 137.508 + 210) % 360, 0.62, dark ? 0.64 : 0.48);
}

export const rgbCss = (c: [number, number, number]) => `rgb(${c.join(',')})`;
