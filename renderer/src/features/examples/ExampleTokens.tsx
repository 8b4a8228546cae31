/**
 * The tokens of one example as spans coloured by a token signal, the label mask edited by clicking or dragging across
 * them, and a line about the token under the pointer.
 */
import { useEffect, useState } from 'react';
import type { ExampleDetail, TokenView } from '../../../../preload/contract';
import { fmtNum } from '../../components/format';
import { heatBackground, shownText } from '../../components/TokenHeat';
import type { MaskEdit } from './MaskTools';

interface Props {
  detail: ExampleDetail;
  edit: MaskEdit;
  /** the token signal shown (null: none), its values by token and their colour scale */
  signal: string | null;
  values: Array<number | null>;
  scale: { min: number; max: number } | null;
  hovered: number | null;
  onHover: (index: number | null) => void;
}

/** Drag-painting: the value the first token toggled to, painted onto every token the pointer enters until it is let go. */
function usePaint() {
  const [paint, setPaint] = useState<number | null>(null);
  useEffect(() => {
    if (paint === null) return;
    const up = () => setPaint(null);
    window.addEventListener('pointerup', up);
    return () => window.removeEventListener('pointerup', up);
  }, [paint]);
  return [paint, setPaint] as const;
}

export function ExampleTokens({ detail, edit, signal, values, scale, hovered, onHover }: Props) {
  const [paint, setPaint] = usePaint();
  const background = (v: number | null | undefined) => heatBackground(scale, v);
  return (
    <div className={`tokens editable${paint !== null ? ' painting' : ''}`} data-testid="tokens" onMouseLeave={() => onHover(null)}>
      {detail.tokens.map((t, i) => {
        const v = values[i] ?? null;
        const label = edit.mask[i] === 1;
        return (
          <span
            key={i}
            className={`token${label ? '' : ' label-off'}${hovered === i ? ' hovered' : ''}${label !== t.label ? ' changed' : ''}`}
            data-testid="token"
            data-index={i}
            data-label={label}
            data-template-label={t.label}
            onPointerDown={(e) => {
              if (e.button !== 0) return;
              e.preventDefault();
              const value = label ? 0 : 1;
              setPaint(value);
              edit.toggle(i, value);
            }}
            onPointerEnter={() => {
              if (paint !== null && (edit.mask[i] ?? 0) !== paint) edit.toggle(i, paint);
            }}
            data-role={t.role}
            data-value={v ?? ''}
            style={{ background: background(v) }}
            title={`${JSON.stringify(t.text)} · id ${t.id} · ${t.role}${signal ? ` · ${signal} ${fmtNum(v)}` : ''}${label ? '' : ' · not trained on'} — click to toggle`}
            onMouseEnter={() => onHover(i)}
          >
            {shownText(t.text)}
          </span>
        );
      })}
    </div>
  );
}

/** The hovered token's text, id, role, signal value and whether it is trained on. */
export function TokenInfo({ detail, edit, signal, values, hovered }: Omit<Props, 'scale' | 'onHover'>) {
  const hoveredToken: TokenView | undefined = hovered === null ? undefined : detail.tokens[hovered];
  return (
    <div className="token-info" data-testid="token-info">
      {hoveredToken ? (
        <>
          <code>{JSON.stringify(hoveredToken.text)}</code>
          <span>
            <span className="muted">id</span> <span className="num">{hoveredToken.id}</span>
          </span>
          <span>
            <span className="muted">role</span> {hoveredToken.role}
          </span>
          {signal && (
            <span>
              <span className="muted">{signal}</span> <span className="num">{fmtNum(values[hovered!] ?? null)}</span>
            </span>
          )}
          <span>{edit.mask[hovered!] === 1 ? 'trained on' : 'not trained on'}</span>
        </>
      ) : (
        <span className="muted">Hover a token to see its text, id, role and value.</span>
      )}
    </div>
  );
}
