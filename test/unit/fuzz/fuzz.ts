/** Shared by the fuzz tests: a case passes when it succeeds or fails with a WinnowError (a clear, named error). */
import { WinnowError } from '../../../main/engine/util/errors';

export const counts: Record<string, number> = {};

export function count(target: string): void {
  counts[target] = (counts[target] ?? 0) + 1;
}

/** Run `f`; any throw other than a WinnowError with a non-empty message fails the property. */
export async function cleanly(f: () => unknown | Promise<unknown>): Promise<'ok' | 'error'> {
  try {
    await f();
    return 'ok';
  } catch (err) {
    if (err instanceof WinnowError && err.message.length > 0) return 'error';
    throw new Error(`not a clear error: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`);
  }
}
