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

/** Rows per table: equal snapshots before and after a refused input mean it wrote nothing. */
export function dbSnapshot(db: import('better-sqlite3').Database): Record<string, number> {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[];
  return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT COUNT(*) FROM "${t}"`).pluck().get() as number]));
}

/** `f` must settle within `ms`: a hang is a failure, named after the case. */
export async function withinTime<T>(ms: number, what: string, f: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: no result or error within ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([f(), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** WINNOW_FUZZ_SCALE=10 runs ten times the cases (a deeper search than `npm test` affords). */
export const SCALE = Number(process.env.WINNOW_FUZZ_SCALE ?? 1);

/**
 * The run's fast-check seed: WINNOW_FUZZ_SEED when set (to replay a run), else a new one each run, so every CI run
 * explores new cases. Drawn once per harness file and printed, with the scale, so any failure can be replayed:
 * `WINNOW_FUZZ_SEED=<seed> WINNOW_FUZZ_SCALE=<scale> npx vitest run <file>`.
 */
export function fuzzSeed(harness: string): number {
  const given = process.env.WINNOW_FUZZ_SEED;
  if (given !== undefined && given !== '' && !/^-?\d+$/.test(given.trim())) {
    throw new Error(`WINNOW_FUZZ_SEED must be an integer (a seed a fuzz run printed), found "${given}"`);
  }
  const seed = given ? Number(given.trim()) : Math.floor(Math.random() * 0x7fffffff);
  console.log(`fuzz ${harness}: seed ${seed}, scale ${SCALE} (replay: WINNOW_FUZZ_SEED=${seed} WINNOW_FUZZ_SCALE=${SCALE})`);
  return seed;
}

/** fast-check parameters for one property: `runs` cases at scale 1, the harness's seed. */
export function fuzzParams(seed: number, runs: number): { numRuns: number; seed: number } {
  return { numRuns: Math.max(1, Math.round(runs * SCALE)), seed };
}
