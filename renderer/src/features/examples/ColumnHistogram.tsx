/**
 * A small histogram above a numeric column of the Examples table (computed by the engine over the rows in scope,
 * ignoring this column's own range filter so the brush does not shrink what it is drawn on). Drag across it to set
 * the column's range filter; double-click clears it.
 */
import { useRef, useState } from 'react';
import type { ApiInput } from '../../../../preload/contract';
import { useCall } from '../../api/hooks';
import { tickLabel } from '../../components/charts';
import { fmtNum } from '../../components/format';
import type { RowsQuery } from './usePagedRows';

const BINS = 30;
const W = 120;
const H = 36;

interface Props {
  column: string;
  query: RowsQuery | null;
  /** the column's current range filter (numbers or undefined) */
  range: { min?: number; max?: number };
  /** live: the brush is still being dragged (the table may wait for a pause); a click or the drag's end is final */
  onRange: (min: string, max: string, live?: boolean) => void;
}

/** A bin edge as short text (4 significant digits), rounded outwards so no value inside the brushed bins is cut off. */
export function edgeText(v: number, side: 'min' | 'max'): string {
  if (Number.isInteger(v) || v === 0) return String(v);
  const step = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 3);
  const r = side === 'min' ? Math.floor(v / step) * step : Math.ceil(v / step) * step;
  return String(Number(r.toPrecision(4)) === r ? r : Number(r.toPrecision(6)));
}

export function ColumnHistogram({ column, query, range, onRange }: Props) {
  const input: ApiInput<'examples.histogram'> | null = query
    ? {
        datasetId: query.datasetId,
        subsetId: query.subsetId,
        text: query.text,
        filters: (query.filters ?? []).filter((f) => f.column !== column),
        column,
        bins: BINS,
      }
    : null;
  const { data, loading, error } = useCall('examples.histogram', input);
  const svgRef = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ from: number; to: number } | null>(null);

  if (error) return <div className="col-hist muted" title={error.message}>—</div>;
  const hasData = data && data.min !== null && data.max !== null && data.total > 0;
  const min = data?.min ?? 0;
  const max = data?.max ?? 0;
  const span = max - min;
  const counts = data?.counts ?? [];
  const top = Math.max(1, ...counts);
  const bw = W / BINS;
  const binAt = (clientX: number) => {
    const rect = svgRef.current!.getBoundingClientRect();
    return Math.max(0, Math.min(BINS - 1, Math.floor(((clientX - rect.left) / rect.width) * BINS)));
  };
  const edge = (b: number) => min + (b * span) / BINS;
  const apply = (a: number, b: number, live: boolean) => {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    if (span === 0) onRange(edgeText(min, 'min'), edgeText(max, 'max'), live);
    else onRange(edgeText(edge(lo), 'min'), edgeText(hi === BINS - 1 ? max : edge(hi + 1), 'max'), live);
  };
  const inRange = (i: number) => {
    if (drag) return i >= Math.min(drag.from, drag.to) && i <= Math.max(drag.from, drag.to);
    if (range.min === undefined && range.max === undefined) return true;
    const lo = edge(i);
    const hi = span === 0 ? max : edge(i + 1);
    return (range.max === undefined || lo <= range.max) && (range.min === undefined || hi >= range.min);
  };
  const filtered = range.min !== undefined || range.max !== undefined;

  return (
    <div
      className={`col-hist${filtered ? ' filtered' : ''}`}
      data-testid={`hist-${column}`}
      data-loading={loading || !data}
      data-min={data?.min ?? ''}
      data-max={data?.max ?? ''}
      data-total={data?.total ?? ''}
      data-nulls={data?.nulls ?? ''}
      title={
        hasData
          ? `${column}: ${fmtNum(data.total)} values in ${tickLabel(min)} … ${tickLabel(max)}${data.nulls ? `, ${fmtNum(data.nulls)} without` : ''}. Drag to filter a range; double-click to clear.`
          : `${column}: no values yet`
      }
    >
      {hasData ? (
        <svg
          ref={svgRef}
          viewBox={`0 0 ${W} ${H}`}
          preserveAspectRatio="none"
          onPointerDown={(e) => {
            e.preventDefault();
            (e.target as Element).setPointerCapture?.(e.pointerId);
            const b = binAt(e.clientX);
            setDrag({ from: b, to: b });
            apply(b, b, true);
          }}
          onPointerMove={(e) => {
            if (!drag) return;
            const b = binAt(e.clientX);
            if (b === drag.to) return;
            setDrag({ ...drag, to: b });
            apply(drag.from, b, true);
          }}
          onPointerUp={() => {
            if (drag) apply(drag.from, drag.to, false);
            setDrag(null);
          }}
          onPointerCancel={() => setDrag(null)}
          onDoubleClick={() => onRange('', '')}
        >
          <rect className="col-hist-bg" x={0} y={0} width={W} height={H} />
          {counts.map((c, i) =>
            c > 0 ? (
              <rect
                key={i}
                className={`col-hist-bar${inRange(i) ? ' in' : ''}`}
                x={i * bw + 0.3}
                width={Math.max(0.4, bw - 0.6)}
                y={H - Math.max(1.5, (c / top) * (H - 2))}
                height={Math.max(1.5, (c / top) * (H - 2))}
              />
            ) : null,
          )}
        </svg>
      ) : (
        <span className="col-hist-none muted">{loading ? '' : 'no values'}</span>
      )}
    </div>
  );
}
