/**
 * Tokens as spans coloured by a per-token value (a heat scale from the lowest to the highest value shown), with the
 * tokens outside the label mask dimmed and struck. The Examples screen's detail colours a render by a token signal
 * with it; the Playground colours a reference answer by each model's loss.
 */
import { fmtNum } from './format';

/** the lowest and highest finite value (null when none) */
export function valueRange(values: Array<number | null>): { min: number; max: number } | null {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? { min, max } : null;
}

export function shownText(text: string): string {
  if (text === '') return '∅';
  // make line breaks and tabs visible while keeping the layout
  return text.replace(/\n/g, '↵\n').replace(/\t/g, '→\t');
}

/** the background of a value on the scale (none for a missing value) */
export function heatBackground(scale: { min: number; max: number } | null, v: number | null | undefined): string | undefined {
  if (!scale || v === null || v === undefined || !Number.isFinite(v)) return undefined;
  const t = scale.max === scale.min ? 0.5 : (v - scale.min) / (scale.max - scale.min);
  return `color-mix(in oklab, var(--heat-hi) ${Math.round(t * 100)}%, var(--heat-lo))`;
}

/** The heat scale's legend: its lowest value, the gradient, its highest. */
export function HeatLegend({ scale, label, testId }: { scale: { min: number; max: number }; label?: string; testId?: string }) {
  return (
    <span className="heat-legend" data-testid={testId} data-min={scale.min} data-max={scale.max}>
      {label && <span className="muted">{label}</span>}
      <span className="num">{fmtNum(scale.min)}</span>
      <span className="heat-bar" />
      <span className="num">{fmtNum(scale.max)}</span>
    </span>
  );
}

/**
 * Read-only token view. `only`: show just the tokens in the label mask (the answer), else every token with the others
 * dimmed. `scale`: a shared scale (so two models' colours compare), else this view's own range.
 */
export function TokenHeat({
  tokens, values, valueName, scale, only = false, testId = 'tokens',
}: {
  tokens: Array<{ text: string; label: boolean }>;
  values: Array<number | null>;
  valueName: string;
  scale?: { min: number; max: number } | null;
  only?: boolean;
  testId?: string;
}) {
  const s = scale === undefined ? valueRange(values) : scale;
  return (
    <div className="tokens" data-testid={testId}>
      {tokens.map((t, i) => {
        if (only && !t.label) return null;
        const v = values[i] ?? null;
        return (
          <span
            key={i}
            className={`token${t.label ? '' : ' label-off'}`}
            data-testid="token"
            data-index={i}
            data-value={v ?? ''}
            style={{ background: heatBackground(s, v) }}
            title={`${JSON.stringify(t.text)} · ${valueName} ${fmtNum(v)}`}
          >
            {shownText(t.text)}
          </span>
        );
      })}
    </div>
  );
}
