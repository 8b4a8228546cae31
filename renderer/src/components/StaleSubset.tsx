/**
 * How a stale subset looks wherever subsets are listed: its rows were chosen on scores that are gone (its dataset was
 * re-mapped), so the rows are kept but may not be what its rule would pick now. One wording for every screen.
 */
import type { SubsetInfo } from '../../../preload/contract';
import { fmtNum } from './format';

export const STALE_ADVICE = 'Its rows are kept as they were. Score the dataset again, then press Recreate on the Subsets screen to run its rule again on the new scores.';

/** The hover text: why, then what to do. */
export const staleTitle = (s: Pick<SubsetInfo, 'staleReason'>): string => `Stale: ${s.staleReason ?? ''}. ${STALE_ADVICE}`;

/** A subset as an <option>: name, size, and "stale" when it is (a native option holds text only). */
export const subsetOptionText = (s: SubsetInfo): string => `${s.name} (${fmtNum(s.size)})${s.staleReason ? ' — stale' : ''}`;

/** The "stale" marker, with the reason and what to do on hover; nothing for a current subset. */
export function StaleMark({ subset, testId }: { subset: Pick<SubsetInfo, 'staleReason'> | null | undefined; testId: string }) {
  if (!subset?.staleReason) return null;
  return (
    <span className="stale-mark" data-testid={testId} title={staleTitle(subset)}>
      stale
    </span>
  );
}
