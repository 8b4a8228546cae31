/** Column order and widths of the Examples table, remembered per project (localStorage keyed by the project path). */
import { useCallback, useEffect, useState } from 'react';

export interface ColumnLayout {
  order: string[];
  widths: Record<string, number>;
}

const EMPTY: ColumnLayout = { order: [], widths: {} };
const keyOf = (projectPath: string) => `winnow.columns:${projectPath}`;

function load(projectPath: string | null): ColumnLayout {
  if (!projectPath) return EMPTY;
  try {
    const raw = localStorage.getItem(keyOf(projectPath));
    const parsed = raw ? (JSON.parse(raw) as Partial<ColumnLayout>) : {};
    return { order: Array.isArray(parsed.order) ? parsed.order : [], widths: parsed.widths && typeof parsed.widths === 'object' ? parsed.widths : {} };
  } catch {
    return EMPTY;
  }
}

/** `ids` in the remembered order; columns the layout does not know keep their place after the known ones. */
export function ordered(ids: string[], order: string[]): string[] {
  const known = order.filter((id) => ids.includes(id));
  const rest = ids.filter((id) => !known.includes(id));
  return [...known, ...rest];
}

export function useColumnLayout(projectPath: string | null) {
  const [layout, setLayout] = useState<ColumnLayout>(() => load(projectPath));
  useEffect(() => setLayout(load(projectPath)), [projectPath]);
  const update = useCallback(
    (f: (l: ColumnLayout) => ColumnLayout) =>
      setLayout((prev) => {
        const next = f(prev);
        if (projectPath) localStorage.setItem(keyOf(projectPath), JSON.stringify(next));
        return next;
      }),
    [projectPath],
  );
  const setWidth = useCallback((id: string, width: number) => update((l) => ({ ...l, widths: { ...l.widths, [id]: Math.round(width) } })), [update]);
  /** move `id` to where `before` is (or to the end) */
  const move = useCallback(
    (current: string[], id: string, before: string | null) =>
      update((l) => {
        const ids = current.filter((c) => c !== id);
        const at = before === null ? ids.length : ids.indexOf(before);
        ids.splice(at < 0 ? ids.length : at, 0, id);
        return { ...l, order: ids };
      }),
    [update],
  );
  const reset = useCallback(() => update(() => EMPTY), [update]);
  return { layout, setWidth, move, reset };
}
