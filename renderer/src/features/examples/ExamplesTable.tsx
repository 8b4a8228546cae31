/**
 * The examples table: TanStack Table v8 for columns and sort state (sorting happens in the engine), TanStack Virtual
 * for rows (only visible rows are in the DOM), a filter row with min/max per numeric column, keyboard navigation.
 */
import { type ColumnDef, type SortingState, flexRender, getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ExampleRow } from '../../../../preload/contract';
import { fmtNum, rowNumber } from '../../components/format';
import { ColumnHistogram } from './ColumnHistogram';
import { ordered, useColumnLayout } from './columnLayout';
import type { PagedRows, RowsQuery } from './usePagedRows';

export interface Entry {
  index: number;
  row: ExampleRow;
}
export type SortSpec = { column: string; dir: 'asc' | 'desc' } | null;
export type FilterInputs = Record<string, { min: string; max: string }>;

/** Fixed columns, by the column name the engine sorts and filters on. */
export const ROW_COLUMN = 'row_index';
const FIXED_NUMERIC = ['n_tokens', 'n_label'];
const ROW_HEIGHT = 32;
const MIN_WIDTH = 56;
/** Row and Preview stay put while the rest scrolls sideways (CSS sticky at these left offsets), and stay first. */
export const FROZEN = [ROW_COLUMN, 'preview'];
const PREVIEW_MIN = 240;
/**
 * The engine's duplicate columns (data/duplicates.ts): shown as one "duplicates" column (group size, keep/drop),
 * hidden until asked for. `near_dup` is a group id (the smallest example id in the group): no histogram, no filter.
 */
export const DUPLICATE_COLUMNS = ['exact_dup', 'exact_dup_rank', 'near_dup', 'near_dup_size', 'near_dup_rank'];
export const DUPLICATES = 'duplicates';
/** Columns that are not scores of a model: placed after the scores and the token counts. */
const NOT_SCORES = ['cluster', 'n_chars'];

/** "exact ×3 · keep", "near ×2 · drop", "unique": the row's duplicate groups, with whether "keep one per group" keeps it. */
export function duplicatesText(signals: Record<string, number | null>): string {
  const parts: string[] = [];
  const group = (kind: string, size: number | null | undefined, rank: number | null | undefined) => {
    if (typeof size === 'number' && size >= 2) parts.push(`${kind} ×${size} · ${rank === 0 ? 'keep' : 'drop'}`);
  };
  group('exact', signals.exact_dup, signals.exact_dup_rank);
  group('near', signals.near_dup_size, signals.near_dup_rank);
  if (parts.length) return parts.join(', ');
  return DUPLICATE_COLUMNS.some((c) => typeof signals[c] === 'number') ? 'unique' : '—';
}

interface Props {
  rows: PagedRows;
  /** the rows shown do not yet answer the current query */
  loading: boolean;
  sort: SortSpec;
  onSort: (sort: SortSpec) => void;
  filters: FilterInputs;
  onFilter: (column: string, bound: 'min' | 'max', value: string) => void;
  /** set both bounds at once (the histogram brush) */
  onRange: (column: string, min: string, max: string, live?: boolean) => void;
  /** the query the rows answer (for the column histograms) */
  query: RowsQuery | null;
  /** column order and widths are remembered per project */
  projectPath: string | null;
  selectedIndex: number;
  onSelect: (index: number) => void;
  onOpen: (index: number) => void;
  /** show the grouped duplicates column (hidden at first) */
  showDuplicates: boolean;
}

function signalCell(name: string) {
  return (e: Entry) => e.row.signals[name] ?? null;
}

function numericFilter(f: { min: string; max: string } | undefined): { min?: number; max?: number } {
  const n = (t: string | undefined) => (t === undefined || t.trim() === '' || !Number.isFinite(Number(t)) ? undefined : Number(t));
  return { min: n(f?.min), max: n(f?.max) };
}

export function ExamplesTable({ rows, loading, sort, onSort, filters, onFilter, onRange, query, projectPath, selectedIndex, onSelect, onOpen, showDuplicates }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const signalColumns = rows.columns.filter((c) => !FIXED_NUMERIC.includes(c) && c !== ROW_COLUMN && !DUPLICATE_COLUMNS.includes(c));
  const scoreColumns = signalColumns.filter((c) => !NOT_SCORES.includes(c));
  const otherColumns = signalColumns.filter((c) => NOT_SCORES.includes(c));
  const hasDuplicates = rows.columns.some((c) => DUPLICATE_COLUMNS.includes(c));
  const { layout, setWidth, move, reset } = useColumnLayout(projectPath);
  const [dragging, setDragging] = useState<string | null>(null);
  const [dropTarget, setDropTarget] = useState<string | null>(null);
  // a press on a resize handle must not start dragging the header it sits in
  const resizing = useRef(false);

  const baseColumns = useMemo<ColumnDef<Entry, unknown>[]>(
    () => [
      { id: ROW_COLUMN, header: 'Row', accessorFn: (e) => rowNumber(e.row.rowIndex), size: 72, meta: { numeric: true } },
      { id: 'preview', header: 'Preview', accessorFn: (e) => e.row.preview, enableSorting: false, size: 0, meta: { numeric: false } },
      // scores first: they are what the table is for; token counts and the rest after them
      ...scoreColumns.map<ColumnDef<Entry, unknown>>((name) => ({
        id: name,
        header: name,
        accessorFn: signalCell(name),
        size: 120,
        meta: { numeric: true },
      })),
      { id: 'n_tokens', header: 'Tokens', accessorFn: (e) => e.row.nTokens, size: 96, meta: { numeric: true } },
      { id: 'n_label', header: 'Trainable', accessorFn: (e) => e.row.nLabel, size: 104, meta: { numeric: true } },
      ...otherColumns.map<ColumnDef<Entry, unknown>>((name) => ({
        id: name,
        header: name,
        accessorFn: signalCell(name),
        size: 120,
        meta: { numeric: true },
      })),
      ...(hasDuplicates && showDuplicates
        ? [{ id: DUPLICATES, header: 'duplicates', accessorFn: (e: Entry) => duplicatesText(e.row.signals), enableSorting: false, size: 168, meta: { numeric: false } }]
        : []),
    ],
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [signalColumns.join(','), hasDuplicates, showDuplicates],
  );
  const columns = useMemo(() => {
    const byId = new Map(baseColumns.map((c) => [c.id!, c]));
    const movable = [...byId.keys()].filter((id) => !FROZEN.includes(id));
    return [...FROZEN, ...ordered(movable, layout.order)].map((id) => {
      const c = byId.get(id)!;
      const w = layout.widths[id];
      return w ? { ...c, size: w } : c;
    });
  }, [baseColumns, layout]);
  const columnIds = columns.map((c) => c.id!);

  // eslint-disable-next-line react-hooks/exhaustive-deps
  const data = useMemo(() => rows.loaded(), [rows.version, rows.loaded]);
  const sorting: SortingState = sort ? [{ id: sort.column, desc: sort.dir === 'desc' }] : [];
  const table = useReactTable<Entry>({
    data,
    columns,
    getRowId: (e) => String(e.index),
    getCoreRowModel: getCoreRowModel(),
    manualSorting: true,
    manualFiltering: true,
    state: { sorting },
    enableMultiSort: false,
  });

  const total = rows.total ?? 0;
  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  const { showRange } = rows;
  useEffect(() => {
    if (total > 0) showRange(first, last);
  }, [first, last, total, showRange]);

  // a new sort, filter or search starts at the top (the old rows stay on screen until the new ones arrive)
  const queryKey = JSON.stringify(query);
  // the histograms follow the query once its first page is in: the engine answers calls one at a time, and at a
  // million rows a filtered histogram is a pass over the rows, which must not hold up the page the user clicked for
  const [histQuery, setHistQuery] = useState(query);
  useEffect(() => {
    if (!loading) setHistQuery(query);
  }, [loading, query]);
  const shownKey = useRef(queryKey);
  useEffect(() => {
    if (shownKey.current === queryKey) return;
    shownKey.current = queryKey;
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
  }, [queryKey]);

  // keep the selected row in view when coming back to the screen
  useEffect(() => {
    if (selectedIndex > 0 && selectedIndex < total) virtualizer.scrollToIndex(selectedIndex, { align: 'center' });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [total > 0]);

  const leaf = table.getVisibleLeafColumns();
  const template = leaf.map((c) => (c.id === 'preview' && !layout.widths.preview ? `minmax(${PREVIEW_MIN}px, 1fr)` : `${c.getSize()}px`)).join(' ');
  // the rows are absolutely placed, so the body does not grow with them: give it (and them) the columns' full width,
  // or the selection's highlight would stop at the window's edge when scrolled sideways
  const minWidth = leaf.reduce((w, c) => w + (c.id === 'preview' && !layout.widths.preview ? PREVIEW_MIN : c.getSize()), 0);
  const rowWidth = leaf.find((c) => c.id === ROW_COLUMN)?.getSize() ?? 0;
  const frozenLeft: Record<string, number> = { [ROW_COLUMN]: 0, preview: rowWidth };
  const frozen = (id: string) =>
    id in frozenLeft ? { className: id === 'preview' ? ' frozen frozen-last' : ' frozen', style: { left: frozenLeft[id] } } : { className: '', style: undefined };

  const clickSort = (column: string) => {
    // desc first (the interesting end of most signals), then asc, then unsorted
    if (!sort || sort.column !== column) onSort({ column, dir: 'desc' });
    else if (sort.dir === 'desc') onSort({ column, dir: 'asc' });
    else onSort(null);
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (!total) return;
    let next = selectedIndex;
    if (e.key === 'ArrowDown') next = Math.min(total - 1, selectedIndex + 1);
    else if (e.key === 'ArrowUp') next = Math.max(0, selectedIndex - 1);
    else if (e.key === 'PageDown') next = Math.min(total - 1, selectedIndex + 20);
    else if (e.key === 'PageUp') next = Math.max(0, selectedIndex - 20);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = total - 1;
    else if (e.key === 'Enter') {
      e.preventDefault();
      onOpen(selectedIndex);
      return;
    } else return;
    e.preventDefault();
    onSelect(next);
    virtualizer.scrollToIndex(next, { align: 'auto' });
  };

  const headerGroup = table.getHeaderGroups()[0]!;
  const rowByIndex = new Map(table.getRowModel().rows.map((r) => [r.original.index, r]));
  return (
    <div
      className="vtable"
      ref={scrollRef}
      tabIndex={0}
      role="grid"
      aria-rowcount={total}
      data-testid="examples-table"
      data-total={rows.total ?? ''}
      data-loaded={data.length}
      data-loading={loading}
      aria-busy={loading}
      onKeyDown={onKeyDown}
    >
      <div className="vtable-head" role="rowgroup">
        <div className="vtable-row vtable-header" role="row" style={{ gridTemplateColumns: template }}>
          {headerGroup.headers.map((h) => {
            const numeric = (h.column.columnDef.meta as { numeric: boolean }).numeric;
            const sorted = h.column.getIsSorted();
            const label = flexRender(h.column.columnDef.header, h.getContext());
            return (
              <div
                key={h.id}
                role="columnheader"
                className={`vtable-cell header-cell${numeric ? ' num' : ''}${frozen(h.id).className}${dropTarget === h.id && dragging !== h.id ? ' drop-target' : ''}${dragging === h.id ? ' dragging' : ''}`}
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
                  setDragging(null);
                  setDropTarget(null);
                }}
                onDragEnd={() => {
                  setDragging(null);
                  setDropTarget(null);
                }}
              >
                {h.column.getCanSort() ? (
                  <button className="sort-button" data-testid={`sort-${h.id}`} data-sort={sorted || 'none'} title={`Sort by ${h.id}`} onClick={() => clickSort(h.id)}>
                    <span className="ellipsis">{label}</span>
                    <span className="sort-mark" aria-hidden>
                      {sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : ''}
                    </span>
                  </button>
                ) : (
                  <span>{label}</span>
                )}
                <span
                  className="col-resize"
                  data-testid={`resize-${h.id}`}
                  aria-hidden
                  draggable={false}
                  onDragStart={(e) => e.preventDefault()}
                  onPointerDown={(e) => {
                    e.preventDefault();
                    e.stopPropagation();
                    resizing.current = true;
                    const startX = e.clientX;
                    const cell = (e.currentTarget.parentElement as HTMLElement).getBoundingClientRect().width;
                    const onMove = (ev: PointerEvent) => setWidth(h.id, Math.max(MIN_WIDTH, cell + ev.clientX - startX));
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
              </div>
            );
          })}
        </div>
        <div className="vtable-row vtable-hists" role="row" style={{ gridTemplateColumns: template }}>
          {headerGroup.headers.map((h) => {
            const numeric = (h.column.columnDef.meta as { numeric: boolean }).numeric;
            if (!numeric || h.id === ROW_COLUMN) return <div key={h.id} className={`vtable-cell${frozen(h.id).className}`} style={frozen(h.id).style} />;
            return (
              <div key={h.id} className="vtable-cell hist-cell">
                <ColumnHistogram column={h.id} query={histQuery} range={numericFilter(filters[h.id])} onRange={(min, max, live) => onRange(h.id, min, max, live)} />
              </div>
            );
          })}
        </div>
        <div className="vtable-row vtable-filters" role="row" style={{ gridTemplateColumns: template }}>
          {headerGroup.headers.map((h) => {
            const numeric = (h.column.columnDef.meta as { numeric: boolean }).numeric;
            if (!numeric || h.id === ROW_COLUMN) return <div key={h.id} className={`vtable-cell${frozen(h.id).className}`} style={frozen(h.id).style} />;
            const f = filters[h.id] ?? { min: '', max: '' };
            return (
              <div key={h.id} className="vtable-cell filter-cell">
                {(['min', 'max'] as const).map((bound) => (
                  <input
                    key={bound}
                    className={f[bound].trim() && Number.isNaN(Number(f[bound])) ? 'invalid' : ''}
                    data-testid={`filter-${bound}-${h.id}`}
                    placeholder={bound}
                    aria-label={`${h.id} ${bound}`}
                    inputMode="decimal"
                    value={f[bound]}
                    onChange={(e) => onFilter(h.id, bound, e.target.value)}
                    onKeyDown={(e) => e.stopPropagation()}
                  />
                ))}
              </div>
            );
          })}
        </div>
      </div>
      <div className="vtable-body" role="rowgroup" style={{ height: virtualizer.getTotalSize(), minWidth }}>
        {items.map((item) => {
          const tableRow = rowByIndex.get(item.index);
          const selected = item.index === selectedIndex;
          const style = { gridTemplateColumns: template, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` };
          if (!tableRow) {
            return (
              <div key={item.key} className="vtable-row placeholder" role="row" style={style} data-index={item.index}>
                <div className="vtable-cell muted frozen" style={{ left: 0 }}>…</div>
              </div>
            );
          }
          const entry = tableRow.original;
          return (
            <div
              key={item.key}
              role="row"
              aria-selected={selected}
              className={`vtable-row${selected ? ' selected' : ''}${entry.row.edited ? ' edited' : ''}`}
              style={style}
              data-testid="examples-row"
              data-index={item.index}
              data-example-id={entry.row.id}
              data-edited={entry.row.edited === true}
              onClick={() => {
                onSelect(item.index);
                onOpen(item.index);
              }}
            >
              {tableRow.getVisibleCells().map((cell) => {
                const numeric = (cell.column.columnDef.meta as { numeric: boolean }).numeric;
                const value = cell.getValue();
                const fz = frozen(cell.column.id);
                if (cell.column.id === 'preview' || cell.column.id === DUPLICATES) {
                  return (
                    <div key={cell.id} className={`vtable-cell ellipsis${fz.className}`} style={fz.style} data-column={cell.column.id} title={String(value ?? '')}>
                      {String(value ?? '')}
                    </div>
                  );
                }
                // a row that trains on nothing is a silent mask failure: make it stand out
                const zeroTrainable = cell.column.id === 'n_label' && value === 0;
                const edited = cell.column.id === 'n_label' && entry.row.edited === true;
                const title = [zeroTrainable ? 'no trainable tokens' : '', edited ? 'hand-edited mask: counts its tokens' : ''].filter(Boolean).join('; ');
                return (
                  <div
                    key={cell.id}
                    className={`vtable-cell${numeric ? ' num' : ''}${fz.className}${zeroTrainable ? ' warn-text' : ''}`}
                    style={fz.style}
                    data-column={cell.column.id}
                    title={title || undefined}
                  >
                    {edited && (
                      <span className="edited-mark" data-testid="edited-mark" aria-label="hand-edited mask">
                        ✎{' '}
                      </span>
                    )}
                    {cell.column.id === ROW_COLUMN ? String(value) : typeof value === 'number' ? fmtNum(value) : '—'}
                  </div>
                );
              })}
            </div>
          );
        })}
      </div>
    </div>
  );
}
