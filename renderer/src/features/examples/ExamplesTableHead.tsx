/**
 * The Examples table's head: the column headers (sort, drag to move, drag the edge to resize), a histogram per
 * numeric column (brush to filter) and the min/max filter inputs.
 */
import { type Header, flexRender } from '@tanstack/react-table';
import { type Dispatch, type MutableRefObject, type SetStateAction, useRef, useState } from 'react';
import { ColumnHistogram } from './ColumnHistogram';
import { type Entry, FROZEN, type Frozen, type Grid, ROW_COLUMN, isNumeric } from './tableColumns';
import type { RowsQuery } from './usePagedRows';

export type FilterInputs = Record<string, { min: string; max: string }>;
type Headers = Array<Header<Entry, unknown>>;

const MIN_WIDTH = 56;

function numericFilter(f: { min: string; max: string } | undefined): { min?: number; max?: number } {
  const n = (t: string | undefined) => (t === undefined || t.trim() === '' || !Number.isFinite(Number(t)) ? undefined : Number(t));
  return { min: n(f?.min), max: n(f?.max) };
}

/** What the header row does to the column layout. */
export interface LayoutActions {
  columnIds: string[];
  move: (current: string[], id: string, before: string | null) => void;
  setWidth: (id: string, width: number) => void;
  reset: () => void;
}

interface Props extends LayoutActions {
  headers: Headers;
  grid: Grid;
  onSortClick: (column: string) => void;
  /** the query the histograms count (it follows the table's query once its first page is in) */
  histQuery: RowsQuery | null;
  filters: FilterInputs;
  onFilter: (column: string, bound: 'min' | 'max', value: string) => void;
  onRange: (column: string, min: string, max: string, live?: boolean) => void;
}

export function ExamplesTableHead({ headers, grid, onSortClick, histQuery, filters, onFilter, onRange, ...layout }: Props) {
  return (
    <div className="vtable-head" role="rowgroup">
      <HeaderRow headers={headers} grid={grid} onSortClick={onSortClick} {...layout} />
      <div className="vtable-row vtable-hists" role="row" style={{ gridTemplateColumns: grid.template }}>
        {headers.map((h) => {
          if (!isNumeric(h.column) || h.id === ROW_COLUMN) return <EmptyCell key={h.id} id={h.id} frozen={grid.frozen} />;
          return (
            <div key={h.id} className="vtable-cell hist-cell">
              <ColumnHistogram column={h.id} query={histQuery} range={numericFilter(filters[h.id])} onRange={(min, max, live) => onRange(h.id, min, max, live)} />
            </div>
          );
        })}
      </div>
      <div className="vtable-row vtable-filters" role="row" style={{ gridTemplateColumns: grid.template }}>
        {headers.map((h) => {
          if (!isNumeric(h.column) || h.id === ROW_COLUMN) return <EmptyCell key={h.id} id={h.id} frozen={grid.frozen} />;
          return <FilterCell key={h.id} column={h.id} filter={filters[h.id] ?? { min: '', max: '' }} onFilter={onFilter} />;
        })}
      </div>
    </div>
  );
}

/** The blank cell under a column with no histogram or filter (it keeps its place when frozen). */
function EmptyCell({ id, frozen }: { id: string; frozen: Frozen }) {
  return <div className={`vtable-cell${frozen(id).className}`} style={frozen(id).style} />;
}

function FilterCell({ column, filter, onFilter }: { column: string; filter: { min: string; max: string }; onFilter: Props['onFilter'] }) {
  return (
    <div className="vtable-cell filter-cell">
      {(['min', 'max'] as const).map((bound) => (
        <input
          key={bound}
          className={filter[bound].trim() && Number.isNaN(Number(filter[bound])) ? 'invalid' : ''}
          data-testid={`filter-${bound}-${column}`}
          placeholder={bound}
          aria-label={`${column} ${bound}`}
          inputMode="decimal"
          value={filter[bound]}
          onChange={(e) => onFilter(column, bound, e.target.value)}
          onKeyDown={(e) => e.stopPropagation()}
        />
      ))}
    </div>
  );
}

/** A column being dragged to a new place, and the header it would land before. */
interface ColumnDrag {
  dragging: string | null;
  setDragging: (id: string | null) => void;
  dropTarget: string | null;
  setDropTarget: Dispatch<SetStateAction<string | null>>;
  /** a press on a resize handle must not start dragging the header it sits in */
  resizing: MutableRefObject<boolean>;
}

function HeaderRow({ headers, grid, onSortClick, ...layout }: LayoutActions & { headers: Headers; grid: Grid; onSortClick: (column: string) => void }) {
  const [dragging, setDragging] = useState<string | null>(null);
  const [dropTarget, setDropTarget] = useState<string | null>(null);
  const resizing = useRef(false);
  const drag: ColumnDrag = { dragging, setDragging, dropTarget, setDropTarget, resizing };
  return (
    <div className="vtable-row vtable-header" role="row" style={{ gridTemplateColumns: grid.template }}>
      {headers.map((h) => (
        <HeaderCell key={h.id} header={h} frozen={grid.frozen} drag={drag} onSortClick={onSortClick} {...layout} />
      ))}
    </div>
  );
}

function HeaderCell({ header: h, frozen, drag, onSortClick, columnIds, move, setWidth, reset }: LayoutActions & {
  header: Header<Entry, unknown>;
  frozen: Frozen;
  drag: ColumnDrag;
  onSortClick: (column: string) => void;
}) {
  const { dragging, setDragging, dropTarget, setDropTarget, resizing } = drag;
  const sorted = h.column.getIsSorted();
  const label = flexRender(h.column.columnDef.header, h.getContext());
  const endDrag = () => {
    setDragging(null);
    setDropTarget(null);
  };
  return (
    <div
      role="columnheader"
      className={`vtable-cell header-cell${isNumeric(h.column) ? ' num' : ''}${frozen(h.id).className}${dropTarget === h.id && dragging !== h.id ? ' drop-target' : ''}${dragging === h.id ? ' dragging' : ''}`}
      style={frozen(h.id).style}
      aria-sort={sorted ? (sorted === 'asc' ? 'ascending' : 'descending') : 'none'}
      data-testid={`header-${h.id}`}
      data-width={Math.round(h.column.getSize())}
      draggable={!FROZEN.includes(h.id)}
      title={FROZEN.includes(h.id) ? 'Stays in place when scrolling sideways; drag its right edge to resize' : 'Drag to move the column; drag its right edge to resize'}
      onDragStart={(e) => {
        if (resizing.current || FROZEN.includes(h.id)) {
          e.preventDefault();
          return;
        }
        e.dataTransfer.setData('text/plain', h.id);
        e.dataTransfer.effectAllowed = 'move';
        setDragging(h.id);
      }}
      onDragOver={(e) => {
        if (!dragging || FROZEN.includes(h.id)) return;
        e.preventDefault();
        setDropTarget(h.id);
      }}
      onDragLeave={() => setDropTarget((t) => (t === h.id ? null : t))}
      onDrop={(e) => {
        e.preventDefault();
        const id = e.dataTransfer.getData('text/plain') || dragging;
        if (id && id !== h.id) move(columnIds, id, h.id);
        endDrag();
      }}
      onDragEnd={endDrag}
    >
      {h.column.getCanSort() ? (
        <button className="sort-button" data-testid={`sort-${h.id}`} data-sort={sorted || 'none'} title={`Sort by ${h.id}`} onClick={() => onSortClick(h.id)}>
          <span className="ellipsis">{label}</span>
          <span className="sort-mark" aria-hidden>
            {sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : ''}
          </span>
        </button>
      ) : (
        <span>{label}</span>
      )}
      <ResizeHandle id={h.id} resizing={resizing} setWidth={setWidth} reset={reset} />
    </div>
  );
}

/** The right edge of a header: drag to resize the column, double-click to forget every width and the order. */
function ResizeHandle({ id, resizing, setWidth, reset }: { id: string; resizing: MutableRefObject<boolean>; setWidth: LayoutActions['setWidth']; reset: () => void }) {
  return (
    <span
      className="col-resize"
      data-testid={`resize-${id}`}
      aria-hidden
      draggable={false}
      onDragStart={(e) => e.preventDefault()}
      onPointerDown={(e) => {
        e.preventDefault();
        e.stopPropagation();
        resizing.current = true;
        const startX = e.clientX;
        const cell = (e.currentTarget.parentElement as HTMLElement).getBoundingClientRect().width;
        const onMove = (ev: PointerEvent) => setWidth(id, Math.max(MIN_WIDTH, cell + ev.clientX - startX));
        const onUp = () => {
          resizing.current = false;
          window.removeEventListener('pointermove', onMove);
          window.removeEventListener('pointerup', onUp);
        };
        window.addEventListener('pointermove', onMove);
        window.addEventListener('pointerup', onUp);
      }}
      onDoubleClick={reset}
    />
  );
}
