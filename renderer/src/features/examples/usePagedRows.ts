/**
 * Rows of `examples.query` fetched a page at a time as the user scrolls. The engine sorts, filters and counts; the
 * renderer holds only a few pages (the ones on screen and their neighbours), so memory stays flat as datasets grow.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiError, ApiInput, ExampleRow } from '../../../../preload/contract';
import { useApp } from '../../api/hooks';

export const PAGE_SIZE = 100;
const MAX_PAGES = 5;

export type RowsQuery = Omit<ApiInput<'examples.query'>, 'offset' | 'limit'>;

export interface PagedRows {
  total: number | null;
  /** with a search text: rows not in the search index yet (it is built after an import commits) */
  textPending: number;
  columns: string[];
  error: ApiError | null;
  /** the row at an absolute index, if its page is loaded */
  rowAt: (index: number) => ExampleRow | undefined;
  /** tell the cache which rows are on screen; missing pages are fetched, far ones dropped */
  showRange: (start: number, end: number) => void;
  /** loaded rows with their absolute index, in order (at most MAX_PAGES pages) */
  loaded: () => Array<{ index: number; row: ExampleRow }>;
  /** bumps whenever loaded rows change */
  version: number;
  /** true once rows of the current query have arrived (false while a new query is in flight) */
  ready: boolean;
  /** fetch the loaded pages again (a saved mask changes a row's Trainable count) */
  refresh: () => void;
}

export function usePagedRows(query: RowsQuery | null): PagedRows {
  const { client, epoch } = useApp();
  const key = query === null ? null : JSON.stringify(query);
  const pages = useRef(new Map<number, ExampleRow[]>());
  const inflight = useRef(new Set<number>());
  const generation = useRef(0);
  const range = useRef({ start: 0, end: PAGE_SIZE - 1 });
  const lastKey = useRef<string | null>(null);
  /** pages still hold the previous query's rows */
  const fresh = useRef(false);
  const [total, setTotal] = useState<number | null>(null);
  const [textPending, setTextPending] = useState(0);
  const [recheck, setRecheck] = useState(0);
  const [columns, setColumns] = useState<string[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [version, setVersion] = useState(0);
  const [loadedKey, setLoadedKey] = useState<string | null>(null);

  const evict = () => {
    const keep = new Set<number>();
    const first = Math.floor(range.current.start / PAGE_SIZE);
    const last = Math.floor(range.current.end / PAGE_SIZE);
    for (let p = first; p <= last; p++) keep.add(p);
    const others = [...pages.current.keys()].filter((p) => !keep.has(p));
    others.sort((a, b) => Math.abs(a - first) - Math.abs(b - first));
    const room = Math.max(0, MAX_PAGES - keep.size);
    for (const p of others.slice(room)) pages.current.delete(p);
  };

  const fetchPage = useCallback(
    async (page: number) => {
      if (key === null || inflight.current.has(page)) return;
      const gen = generation.current;
      const flight = inflight.current;
      flight.add(page);
      const input = { ...(JSON.parse(key) as RowsQuery), offset: page * PAGE_SIZE, limit: PAGE_SIZE };
      const r = await client.call('examples.query', input);
      flight.delete(page);
      if (gen !== generation.current) return;
      if (!r.ok) {
        setError(r.error);
        return;
      }
      setError(null);
      // the first page of a new query replaces what was on screen (kept until now, so a sort click never blanks the table)
      if (fresh.current) {
        fresh.current = false;
        pages.current.clear();
      }
      pages.current.set(page, r.value.rows);
      setTotal(r.value.total);
      setTextPending(r.value.textPending ?? 0);
      setColumns((prev) => (prev.join('\u0000') === r.value.columns.join('\u0000') ? prev : r.value.columns));
      evict();
      setVersion((v) => v + 1);
      setLoadedKey(key);
    },
    [client, key],
  );

  // New query: start over. Reconnect (epoch): re-fetch the pages on screen, keeping the old rows until they arrive.
  useEffect(() => {
    generation.current += 1;
    inflight.current = new Set();
    let toFetch: number[];
    if (lastKey.current !== key) {
      // keep showing the old rows (the table says it is loading) until the new first page arrives: clearing now
      // would unmount every row and mount them again a moment later
      const first = lastKey.current === null;
      lastKey.current = key;
      if (first) pages.current.clear();
      else fresh.current = true;
      range.current = { start: 0, end: PAGE_SIZE - 1 };
      toFetch = [0];
    } else {
      toFetch = [...pages.current.keys()];
      if (!toFetch.length) toFetch = [0];
    }
    for (const p of toFetch) void fetchPage(p);
  }, [key, epoch, fetchPage, recheck]);

  // rows not searchable yet: ask again now and then, so the matches and the count grow as the index is built
  useEffect(() => {
    if (textPending <= 0) return;
    const t = setTimeout(() => setRecheck((n) => n + 1), 3000);
    return () => clearTimeout(t);
  }, [textPending, recheck]);

  const showRange = useCallback(
    (start: number, end: number) => {
      range.current = { start, end };
      const first = Math.floor(start / PAGE_SIZE);
      const last = Math.floor(end / PAGE_SIZE);
      // while the old query's rows are still shown, only the new first page is worth asking for
      if (fresh.current) return;
      for (let p = first; p <= last; p++) if (!pages.current.has(p)) void fetchPage(p);
    },
    [fetchPage],
  );

  const rowAt = useCallback((index: number) => pages.current.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE], []);

  const loaded = useCallback(() => {
    const out: Array<{ index: number; row: ExampleRow }> = [];
    for (const p of [...pages.current.keys()].sort((a, b) => a - b)) {
      pages.current.get(p)!.forEach((row, i) => out.push({ index: p * PAGE_SIZE + i, row }));
    }
    return out;
  }, []);

  const refresh = useCallback(() => setRecheck((n) => n + 1), []);
  return { total, textPending, columns, error, rowAt, showRange, loaded, version, ready: key !== null && loadedKey === key, refresh };
}
