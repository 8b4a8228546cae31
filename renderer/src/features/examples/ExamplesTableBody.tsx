/**
 * The Examples table's body: only the rows in view are in the DOM, each placed at its offset; a row whose page is not
 * loaded yet shows a placeholder until it arrives.
 */
import type { Cell, Row } from '@tanstack/react-table';
import type { VirtualItem } from '@tanstack/react-virtual';
import { fmtNum } from '../../components/format';
import { DUPLICATES, type Entry, type Frozen, type Grid, ROW_COLUMN, isNumeric } from './tableColumns';

export const ROW_HEIGHT = 32;

interface Props {
  items: VirtualItem[];
  /** the height of every row together (the scroll range) */
  height: number;
  grid: Grid;
  rowByIndex: Map<number, Row<Entry>>;
  selectedIndex: number;
  onSelect: (index: number) => void;
  onOpen: (index: number) => void;
}

export function ExamplesTableBody({ items, height, grid, rowByIndex, selectedIndex, onSelect, onOpen }: Props) {
  return (
    <div className="vtable-body" role="rowgroup" style={{ height, minWidth: grid.minWidth }}>
      {items.map((item) => {
        const tableRow = rowByIndex.get(item.index);
        const selected = item.index === selectedIndex;
        const style = { gridTemplateColumns: grid.template, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` };
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
            {tableRow.getVisibleCells().map((cell) => (
              <BodyCell key={cell.id} cell={cell} entry={entry} frozen={grid.frozen} />
            ))}
          </div>
        );
      })}
    </div>
  );
}

function BodyCell({ cell, entry, frozen }: { cell: Cell<Entry, unknown>; entry: Entry; frozen: Frozen }) {
  const value = cell.getValue();
  const fz = frozen(cell.column.id);
  if (cell.column.id === 'preview' || cell.column.id === DUPLICATES) {
    return (
      <div className={`vtable-cell ellipsis${fz.className}`} style={fz.style} data-column={cell.column.id} title={String(value ?? '')}>
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
      className={`vtable-cell${isNumeric(cell.column) ? ' num' : ''}${fz.className}${zeroTrainable ? ' warn-text' : ''}`}
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
}
