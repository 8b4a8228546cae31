/**
 * The examples table: TanStack Table v8 for columns and sort state (sorting happens in the engine), TanStack Virtual
 * for rows (only visible rows are in the DOM), a filter row with min/max per numeric column, keyboard navigation.
 */
import { type SortingState, getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { type RefObject, useEffect, useMemo, useRef, useState } from 'react';
import { ExamplesTableBody, ROW_HEIGHT } from './ExamplesTableBody';
import { ExamplesTableHead, type FilterInputs } from './ExamplesTableHead';
import { type Entry, gridOf, useTableColumns } from './tableColumns';
import type { PagedRows, RowsQuery } from './usePagedRows';

// the table's columns and types live beside it; screens import them from here
export { DUPLICATE_COLUMNS, DUPLICATES, FROZEN, ROW_COLUMN, duplicatesText, type Entry } from './tableColumns';
export type { FilterInputs } from './ExamplesTableHead';
export type SortSpec = { column: string; dir: 'asc' | 'desc' } | null;

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

/**
 * The rows in view (TanStack Virtual over the scroll box), kept loaded as the user scrolls; a new query starts at the
 * top, and the selected row is scrolled into view when coming back to the screen.
 */
function useVirtualRows(scrollRef: RefObject<HTMLDivElement | null>, rows: PagedRows, query: RowsQuery | null, selectedIndex: number) {
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
  const shownKey = useRef(queryKey);
  useEffect(() => {
    if (shownKey.current === queryKey) return;
    shownKey.current = queryKey;
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
  }, [queryKey, scrollRef]);

  // keep the selected row in view when coming back to the screen
  useEffect(() => {
    if (selectedIndex > 0 && selectedIndex < total) virtualizer.scrollToIndex(selectedIndex, { align: 'center' });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [total > 0]);
  return { total, virtualizer, items };
}

/**
 * The histograms follow the query once its first page is in: the engine answers calls one at a time, and at a
 * million rows a filtered histogram is a pass over the rows, which must not hold up the page the user clicked for.
 */
function useHistogramQuery(query: RowsQuery | null, loading: boolean): RowsQuery | null {
  const [histQuery, setHistQuery] = useState(query);
  useEffect(() => {
    if (!loading) setHistQuery(query);
  }, [loading, query]);
  return histQuery;
}

/** The row a navigation key moves the selection to, or null for any other key. */
function keyTarget(key: string, selectedIndex: number, total: number): number | null {
  if (key === 'ArrowDown') return Math.min(total - 1, selectedIndex + 1);
  if (key === 'ArrowUp') return Math.max(0, selectedIndex - 1);
  if (key === 'PageDown') return Math.min(total - 1, selectedIndex + 20);
  if (key === 'PageUp') return Math.max(0, selectedIndex - 20);
  if (key === 'Home') return 0;
  if (key === 'End') return total - 1;
  return null;
}

export function ExamplesTable({ rows, loading, sort, onSort, filters, onFilter, onRange, query, projectPath, selectedIndex, onSelect, onOpen, showDuplicates }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const { columns, columnIds, layout, setWidth, move, reset } = useTableColumns(rows.columns, projectPath, showDuplicates);

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
  const { total, virtualizer, items } = useVirtualRows(scrollRef, rows, query, selectedIndex);
  const histQuery = useHistogramQuery(query, loading);
  const grid = gridOf(table.getVisibleLeafColumns(), layout);

  const clickSort = (column: string) => {
    // desc first (the interesting end of most signals), then asc, then unsorted
    if (!sort || sort.column !== column) onSort({ column, dir: 'desc' });
    else if (sort.dir === 'desc') onSort({ column, dir: 'asc' });
    else onSort(null);
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (!total) return;
    if (e.key === 'Enter') {
      e.preventDefault();
      onOpen(selectedIndex);
      return;
    }
    const next = keyTarget(e.key, selectedIndex, total);
    if (next === null) return;
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
      <ExamplesTableHead
        headers={headerGroup.headers}
        grid={grid}
        onSortClick={clickSort}
        histQuery={histQuery}
        filters={filters}
        onFilter={onFilter}
        onRange={onRange}
        columnIds={columnIds}
        move={move}
        setWidth={setWidth}
        reset={reset}
      />
      <ExamplesTableBody
        items={items}
        height={virtualizer.getTotalSize()}
        grid={grid}
        rowByIndex={rowByIndex}
        selectedIndex={selectedIndex}
        onSelect={onSelect}
        onOpen={onOpen}
      />
    </div>
  );
}
