import { niceTicks, tickLabel } from './charts';

export interface Series {
  name: string;
  /** CSS colour or var(--…) */
  color: string;
  points: Array<{ x: number; y: number }>;
  /** draw dots (for sparse series such as eval loss) */
  dots?: boolean;
  /** dashed line (e.g. runs overlaid for comparison) */
  dashed?: boolean;
}

const W = 640;
const PAD_BASE = { right: 16, top: 16, bottom: 32 };
/** about how wide one tick-label character is at the 10px tick font (digits, '.', 'e', '-') */
const TICK_CHAR_PX = 6.2;
/** the rotated y-axis title's centre line, from the left edge, and the gap kept between it and the widest tick label */
const Y_TITLE_X = 12;
const Y_TITLE_GAP = 10;

/** A line chart with axes, ticks and a legend; scales to its container's width. */
/** integerX: x counts whole things (training steps), so no tick falls between two of them */
export function LineChart({ series, xLabel, yLabel, testId, height = 260, integerX = false }: { series: Series[]; xLabel: string; yLabel: string; testId?: string; height?: number; integerX?: boolean }) {
  const H = height;
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const count = all.length;
  const xMin = count ? Math.min(...all.map((p) => p.x)) : 0;
  const xMax = count ? Math.max(...all.map((p) => p.x)) : 1;
  let yMin = count ? Math.min(...all.map((p) => p.y)) : 0;
  let yMax = count ? Math.max(...all.map((p) => p.y)) : 1;
  if (yMin === yMax) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  const xTicks = niceTicks(xMin, xMax, 6, integerX ? 1 : 0);
  const yTicks = niceTicks(yMin, yMax, 5);
  // the plot starts right of the widest y tick label, so the axis title never overlaps a label (e.g. "1.5e-4")
  const widestTick = Math.max(0, ...yTicks.map((t) => tickLabel(t).length)) * TICK_CHAR_PX;
  const PAD = { ...PAD_BASE, left: Math.max(48, Math.ceil(Y_TITLE_X + 6 + Y_TITLE_GAP + widestTick + 6)) };
  const xSpan = xMax - xMin || 1;
  const sx = (x: number) => PAD.left + ((x - xMin) / xSpan) * (W - PAD.left - PAD.right);
  const sy = (y: number) => H - PAD.bottom - ((y - yMin) / (yMax - yMin)) * (H - PAD.top - PAD.bottom);
  return (
    <figure className="chart" data-testid={testId} data-points={count}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${yLabel} by ${xLabel}`}>
        {yTicks.map((t) => (
          <g key={`y${t}`}>
            <line className="chart-grid" x1={PAD.left} x2={W - PAD.right} y1={sy(t)} y2={sy(t)} />
            <text className="chart-tick" x={PAD.left - 6} y={sy(t)} textAnchor="end" dominantBaseline="middle">
              {tickLabel(t)}
            </text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={`x${t}`} className="chart-tick" x={sx(t)} y={H - PAD.bottom + 14} textAnchor="middle">
            {tickLabel(t)}
          </text>
        ))}
        <line className="chart-axis" x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} />
        <line className="chart-axis" x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={H - PAD.bottom} />
        <text className="chart-label" x={(W + PAD.left) / 2} y={H - 4} textAnchor="middle">
          {xLabel}
        </text>
        <text className="chart-label" x={Y_TITLE_X} y={(H - PAD.bottom) / 2} textAnchor="middle" transform={`rotate(-90 ${Y_TITLE_X} ${(H - PAD.bottom) / 2})`}>
          {yLabel}
        </text>
        {series.map((s) => {
          const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
          if (!pts.length) return null;
          const d = pts.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
          return (
            <g key={s.name} data-series={s.name} data-count={pts.length}>
              <path d={d} fill="none" stroke={s.color} strokeWidth={1.75} strokeDasharray={s.dashed ? '5 3' : undefined} />
              {(s.dots || pts.length === 1) &&
                pts.map((p, i) => <circle key={i} cx={sx(p.x)} cy={sy(p.y)} r={2.5} fill={s.color} />)}
            </g>
          );
        })}
        {!count && (
          <text className="chart-empty" x={(W + PAD.left) / 2} y={H / 2} textAnchor="middle">
            No points yet
          </text>
        )}
      </svg>
      <figcaption className="chart-legend">
        {series.map((s) => (
          <span key={s.name}>
            <span className="swatch" style={{ background: s.color }} /> {s.name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
