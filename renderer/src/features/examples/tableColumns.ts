/**
 * The Examples table's columns: which there are (fixed ones, the engine's signal columns, the grouped duplicates
 * column), in the order and widths the user left them, and the grid they are laid out on.
 */
import type { Column, ColumnDef } from '@tanstack/react-table';
import { type CSSProperties, useMemo } from 'react';
import type { ExampleRow } from '../../../../preload/contract';
import { rowNumber } from '../../components/format';
import { type ColumnLayout, ordered, useColumnLayout } from './columnLayout';

export interface Entry {
  index: number;
  row: ExampleRow;
}

/** Fixed columns, by the column name the engine sorts and filters on. */
export const ROW_COLUMN = 'row_index';
const FIXED_NUMERIC = ['n_tokens', 'n_label'];
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

function signalCell(name: string) {
  return (e: Entry) => e.row.signals[name] ?? null;
}

/** A column of the engine's signal `name`: numeric, sortable, filterable. */
function signalColumn(name: string): ColumnDef<Entry, unknown> {
  return { id: name, header: name, accessorFn: signalCell(name), size: 120, meta: { numeric: true } };
}

/** Whether a column holds numbers (right-aligned, with a histogram and a min/max filter). */
export function isNumeric(column: Column<Entry, unknown>): boolean {
  return (column.columnDef.meta as { numeric: boolean }).numeric;
}

/**
 * The table's columns for the engine's column names: Row and Preview first, then the scores, the token counts and
 * the rest, in the order and widths remembered for the project (`projectPath`).
 */
export function useTableColumns(names: string[], projectPath: string | null, showDuplicates: boolean) {
  const signalColumns = names.filter((c) => !FIXED_NUMERIC.includes(c) && c !== ROW_COLUMN && !DUPLICATE_COLUMNS.includes(c));
  const scoreColumns = signalColumns.filter((c) => !NOT_SCORES.includes(c));
  const otherColumns = signalColumns.filter((c) => NOT_SCORES.includes(c));
  const hasDuplicates = names.some((c) => DUPLICATE_COLUMNS.includes(c));
  const { layout, setWidth, move, reset } = useColumnLayout(projectPath);

  const baseColumns = useMemo<ColumnDef<Entry, unknown>[]>(
    () => [
      { id: ROW_COLUMN, header: 'Row', accessorFn: (e) => rowNumber(e.row.rowIndex), size: 72, meta: { numeric: true } },
      { id: 'preview', header: 'Preview', accessorFn: (e) => e.row.preview, enableSorting: false, size: 0, meta: { numeric: false } },
      // scores first: they are what the table is for; token counts and the rest after them
      ...scoreColumns.map(signalColumn),
      { id: 'n_tokens', header: 'Tokens', accessorFn: (e) => e.row.nTokens, size: 96, meta: { numeric: true } },
      { id: 'n_label', header: 'Trainable', accessorFn: (e) => e.row.nLabel, size: 104, meta: { numeric: true } },
      ...otherColumns.map(signalColumn),
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
  return { columns, columnIds, layout, setWidth, move, reset };
}

/** Where a frozen column sits: its extra classes and its sticky left offset (none for the columns that scroll). */
export type Frozen = (id: string) => { className: string; style: CSSProperties | undefined };

export interface Grid {
  /** the CSS grid columns every row shares */
  template: string;
  /** the columns' full width */
  minWidth: number;
  frozen: Frozen;
}

/** The grid of the visible columns: Preview takes the room left over unless the user gave it a width. */
export function gridOf(leaf: Array<Column<Entry, unknown>>, layout: ColumnLayout): Grid {
  const template = leaf.map((c) => (c.id === 'preview' && !layout.widths.preview ? `minmax(${PREVIEW_MIN}px, 1fr)` : `${c.getSize()}px`)).join(' ');
  // the rows are absolutely placed, so the body does not grow with them: give it (and them) the columns' full width,
  // or the selection's highlight would stop at the window's edge when scrolled sideways
  const minWidth = leaf.reduce((w, c) => w + (c.id === 'preview' && !layout.widths.preview ? PREVIEW_MIN : c.getSize()), 0);
  const rowWidth = leaf.find((c) => c.id === ROW_COLUMN)?.getSize() ?? 0;
  const frozenLeft: Record<string, number> = { [ROW_COLUMN]: 0, preview: rowWidth };
  const frozen: Frozen = (id) =>
    id in frozenLeft ? { className: id === 'preview' ? ' frozen frozen-last' : ' frozen', style: { left: frozenLeft[id] } } : { className: '', style: undefined };
  return { template, minWidth, frozen };
}
