import { niceTicks, tickLabel } from './charts';

const W = 320;
const H = 120;
const PAD = { left: 32, right: 8, top: 8, bottom: 22 };

/** Histogram of finite values in `bins` equal-width bins. */
export function Histogram({ values, bins = 24, testId, label }: { values: Array<number | null>; bins?: number; testId?: string; label: string }) {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!finite.length) return null;
  let min = Infinity;
  let max = -Infinity;
  for (const v of finite) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min || 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of finite) counts[Math.min(bins - 1, Math.floor(((v - min) / span) * bins))]! += 1;
  const top = Math.max(...counts);
  const bw = (W - PAD.left - PAD.right) / bins;
  const sy = (c: number) => H - PAD.bottom - (c / top) * (H - PAD.top - PAD.bottom);
  const xTicks = niceTicks(min, max, 4);
  return (
    <figure className="chart histogram" data-testid={testId}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`distribution of ${label}`}>
        {counts.map((c, i) => (
          <rect key={i} className="hist-bar" x={PAD.left + i * bw + 0.5} width={Math.max(0, bw - 1)} y={sy(c)} height={H - PAD.bottom - sy(c)}>
            <title>
              {tickLabel(min + (i * span) / bins)}–{tickLabel(min + ((i + 1) * span) / bins)}: {c}
            </title>
          </rect>
        ))}
        <line className="chart-axis" x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} />
        {xTicks.map((t) => (
          <text key={t} className="chart-tick" x={PAD.left + ((t - min) / span) * (W - PAD.left - PAD.right)} y={H - 6} textAnchor="middle">
            {tickLabel(t)}
          </text>
        ))}
        <text className="chart-tick" x={PAD.left - 4} y={PAD.top + 4} textAnchor="end">
          {top}
        </text>
      </svg>
      <figcaption className="muted">
        {label}: {finite.length} values
      </figcaption>
    </figure>
  );
}
