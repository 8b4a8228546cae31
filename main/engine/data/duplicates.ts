/**
 * Duplicate signals (METHODS.md `exact_dup`, `near_dup`), computed from the stored examples, no model needed.
 *
 * Columns written (latest values in example_signals, so the table sorts and filters on them):
 * - `exact_dup`       size of the example's exact-duplicate group (same normalized hash); 1 = unique.
 * - `exact_dup_rank`  0 for the group's first example (row order), 1, 2, ... for later copies.
 * - `near_dup`        id of the near-duplicate cluster: the smallest example id in it (an example alone is its own).
 * - `near_dup_size`   size of that cluster; 1 = no near duplicate.
 * - `near_dup_rank`   0 for the cluster's first example, 1, 2, ... for the others.
 * "Is a duplicate": `exact_dup` ≥ 2 (or `near_dup_size` ≥ 2). "Keep one per group": `exact_dup_rank` ≤ 0 (or
 * `near_dup_rank` ≤ 0).
 *
 * Near duplicates: MinHash over word 5-gram shingles (lowercased words of letters/digits; a text of fewer than 5
 * words is one shingle), 128 permutations h_i(x) = a_i·x + b_i mod 2^32 (a_i odd) on a 32-bit shingle hash,
 * LSH with 16 bands of 8 rows (pairs above Jaccard ~0.7 collide in some band with high probability), and each
 * candidate checked against its bucket's first member with the Jaccard estimated from 8-bit signatures.
 * Memory per example: 128 B of signature + 64 B of band keys (~200 MB at a million rows), not the full 512 B
 * signatures; bands are bucketed one at a time by sorting. Exact groups key on the first 52 bits of the 64-bit
 * norm_hash (a false merge among a million rows has odds near 1e-4).
 */
import type { Db } from '../db/open';
import { listSignalColumns, writeExampleSignals } from '../db/signals';
import { examplePager } from '../db/datasets';
import { countDatasetExamples } from '../db/examples';
import { copySignalColumnToRun, countExamplesMissingSignals } from '../db/duplicates';
import { messagesReader } from './examples';
import { WinnowError } from '../util/errors';
import { fullText, normHash } from './normalize';

export interface DuplicateOptions {
  /** Jaccard similarity (estimated) at or above which two examples are near duplicates; default 0.7 */
  threshold?: number;
  /** score run the values belong to (history in example_scores); null/absent: latest values only */
  runId?: number | null;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface DuplicateResult {
  examples: number;
  exactGroups: number;
  /** examples that have at least one exact copy */
  exactDuplicates: number;
  nearGroups: number;
  nearDuplicates: number;
}

/** the per-example columns computeDuplicates writes */
export const DUPLICATE_COLUMNS = ['exact_dup', 'exact_dup_rank', 'near_dup', 'near_dup_size', 'near_dup_rank'];

/**
 * The columns a request for `exact_dup` / `near_dup` stands for in an output (CLI JSONL): each with its size and
 * rank companions, so "keep one per group" (rank 0) needs no second request. Other signals pass through.
 */
export function withDuplicateCompanions(signals: string[]): string[] {
  const out: string[] = [];
  for (const s of signals) {
    const add = s === 'exact_dup' ? ['exact_dup', 'exact_dup_rank'] : s === 'near_dup' ? ['near_dup', 'near_dup_size', 'near_dup_rank'] : [s];
    for (const c of add) if (!out.includes(c)) out.push(c);
  }
  return out;
}

export const NUM_PERM = 128;
const BANDS = 16;
const ROWS = NUM_PERM / BANDS;
const SHINGLE = 5;
const PAGE = 5000;
/** the LSH sort packs an example's index into 21 bits of a double */
export const MAX_DUPLICATE_ROWS = 2 ** 21;

// fixed seeds: the same text always gets the same signature, across runs and machines
const PERM_A = new Int32Array(NUM_PERM);
const PERM_B = new Int32Array(NUM_PERM);
{
  let s = 0x2545f491;
  const next = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return s | 0; };
  for (let i = 0; i < NUM_PERM; i++) { PERM_A[i] = next() | 1; PERM_B[i] = next(); }
}

function isWordChar(c: number): boolean {
  if (c < 128) return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  // beyond ASCII: letters of other scripts count; spaces and common punctuation do not
  return !(c === 160 || (c >= 0x2000 && c <= 0x206f) || c === 0x3000 || c === 0xfeff || (c >= 0x3001 && c <= 0x3003));
}

/** 32-bit hashes of the text's lowercased words. */
export function wordHashes(text: string): Int32Array {
  const t = text.toLowerCase();
  const out: number[] = [];
  let h = 0;
  let inWord = false;
  for (let i = 0; i <= t.length; i++) {
    const c = i < t.length ? t.charCodeAt(i) : 32;
    if (isWordChar(c)) {
      if (!inWord) { h = 0x811c9dc5; inWord = true; }
      h = Math.imul(h ^ c, 0x01000193);
    } else if (inWord) {
      out.push(h);
      inWord = false;
    }
  }
  return Int32Array.from(out);
}

/** MinHash signature (NUM_PERM signed 32-bit minima) of the text's word 5-gram shingles. */
export function minhash(text: string, out = new Int32Array(NUM_PERM)): Int32Array {
  const w = wordHashes(text);
  out.fill(0x7fffffff);
  const n = w.length;
  const count = n >= SHINGLE ? n - SHINGLE + 1 : 1;
  for (let s = 0; s < count; s++) {
    let h = 0x9e3779b9;
    const end = Math.min(n, s + SHINGLE);
    for (let k = s; k < end; k++) { h = Math.imul(h ^ w[k], 0x85ebca6b); h ^= h >>> 13; }
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
    for (let i = 0; i < NUM_PERM; i++) {
      const v = (Math.imul(PERM_A[i], h) + PERM_B[i]) | 0;
      if (v < out[i]) out[i] = v;
    }
  }
  return out;
}

/** Estimated Jaccard from two examples' 8-bit signatures (corrected for chance matches of the low bits). */
function jaccard8(sig: Uint8Array, a: number, b: number): number {
  let m = 0;
  const pa = a * NUM_PERM;
  const pb = b * NUM_PERM;
  for (let i = 0; i < NUM_PERM; i++) if (sig[pa + i] === sig[pb + i]) m++;
  return Math.max(0, (m / NUM_PERM - 1 / 256) / (1 - 1 / 256));
}

function find(parent: Int32Array, x: number): number {
  while (parent[x] !== x) { parent[x] = parent[parent[x]]; x = parent[x]; }
  return x;
}

/** Compute exact and near duplicate signals for a dataset (see the header for the columns). */
export async function computeDuplicates(db: Db, datasetId: number, opts: DuplicateOptions = {}): Promise<DuplicateResult> {
  const threshold = opts.threshold ?? 0.7;
  if (!(threshold > 0 && threshold <= 1)) throw new WinnowError('bad_input', `near-duplicate threshold must be in (0, 1], got ${threshold}`);
  const total = countDatasetExamples(db, datasetId);
  if (total >= MAX_DUPLICATE_ROWS) {
    throw new WinnowError('unsupported', `dataset ${datasetId} has ${total} examples; near-duplicate detection handles up to ${MAX_DUPLICATE_ROWS - 1}`);
  }
  const cancelled = () => new WinnowError('cancelled', `duplicates for dataset ${datasetId} cancelled`);
  const ids = new Int32Array(total);
  // exact groups key on the first 52 bits of norm_hash (a double), not a million strings in a Map
  const hashKeys = new Float64Array(total);
  const sig = new Uint8Array(total * NUM_PERM);
  const bandKeys = new Int32Array(total * BANDS);
  const mh = new Int32Array(NUM_PERM);

  // 1. signatures, in id order (keyset pages: no statement stays open across awaits)
  const page = examplePager<{ id: number; rowIndex: number; rawJson: string; messagesJson: string; h: string }>(
    db, datasetId, 'id, row_index AS rowIndex, raw_json AS rawJson, messages_json AS messagesJson, norm_hash AS h');
  const messagesOf = messagesReader(db);
  let n = 0;
  let after = 0;
  for (;;) {
    if (opts.signal?.aborted) throw cancelled();
    const rows = page(after, PAGE);
    if (rows.length === 0) break;
    for (const r of rows) {
      if (n >= total) break; // rows added meanwhile are left for the next run
      ids[n] = r.id;
      const norm = messagesOf({ datasetId, ...r });
      // rows imported since schema 8 store no hash: it is made here, its only use
      hashKeys[n] = parseInt((r.h || normHash(norm)).slice(0, 13), 16) || 0;
      minhash(fullText(norm), mh);
      for (let i = 0; i < NUM_PERM; i++) sig[n * NUM_PERM + i] = mh[i] & 0xff;
      for (let b = 0; b < BANDS; b++) {
        let k = 0x811c9dc5;
        for (let r2 = 0; r2 < ROWS; r2++) k = Math.imul(k ^ mh[b * ROWS + r2], 0x01000193) ^ (k >>> 15);
        bandKeys[n * BANDS + b] = k;
      }
      n++;
    }
    after = rows[rows.length - 1].id;
    opts.onProgress?.(n, total);
    await new Promise((res) => setImmediate(res));
  }

  // 2. LSH: per band, sort (key, index) and join each bucket's members to its first when similar enough
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const order = new Float64Array(n);
  for (let b = 0; b < BANDS; b++) {
    if (opts.signal?.aborted) throw cancelled();
    // key in the high bits, index in the low 21 (n < 2^21 checked below), as one exactly representable double
    for (let i = 0; i < n; i++) order[i] = (bandKeys[i * BANDS + b] + 2 ** 31) * 2 ** 21 + i;
    order.sort();
    const idx = (j: number) => order[j] % 2 ** 21;
    for (let s = 0; s < n; ) {
      const key = Math.floor(order[s] / 2 ** 21);
      let e = s + 1;
      while (e < n && Math.floor(order[e] / 2 ** 21) === key) e++;
      if (e - s > 1) {
        const first = idx(s);
        for (let j = s + 1; j < e; j++) {
          const x = idx(j);
          const rx = find(parent, x);
          const rf = find(parent, first);
          if (rx !== rf && jaccard8(sig, first, x) >= threshold) parent[Math.max(rx, rf)] = Math.min(rx, rf);
        }
      }
      s = e;
    }
    await new Promise((res) => setImmediate(res));
  }

  // 3. group sizes and ranks (index order = id order, so the first member has the smallest id)
  const nearSize = new Int32Array(n);
  const root = new Int32Array(n);
  for (let i = 0; i < n; i++) { root[i] = find(parent, i); nearSize[root[i]]++; }
  const nearSeen = new Int32Array(n);
  const groupOf = new Map<number, number>(); // hash key -> index of the group's first example
  const exactFirst = new Int32Array(n);
  const exactSize = new Int32Array(n); // by first index
  const exactRank = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let f = groupOf.get(hashKeys[i]);
    if (f === undefined) groupOf.set(hashKeys[i], (f = i));
    exactFirst[i] = f;
    exactRank[i] = exactSize[f]++;
  }
  groupOf.clear();
  const res: DuplicateResult = { examples: n, exactGroups: 0, exactDuplicates: 0, nearGroups: 0, nearDuplicates: 0 };
  for (let i = 0; i < n; i++) {
    if (exactFirst[i] === i && exactSize[i] > 1) { res.exactGroups++; res.exactDuplicates += exactSize[i]; }
  }
  for (let i = 0; i < n; i++) {
    if (root[i] === i && nearSize[i] > 1) { res.nearGroups++; res.nearDuplicates += nearSize[i]; }
  }

  if (opts.signal?.aborted) throw cancelled();
  writeExampleSignals(db, opts.runId ?? null, DUPLICATE_COLUMNS,
    (function* () {
      for (let i = 0; i < n; i++) {
        const r = root[i];
        yield [ids[i], exactSize[exactFirst[i]], exactRank[i], ids[r], nearSize[r], nearSeen[r]++];
      }
    })());
  return res;
}

/**
 * A scoring run that asks for `exact_dup` / `near_dup`: records the duplicate columns under the run (history in
 * example_scores) for every example of the datasets. A dataset whose examples all have them from the import is
 * copied as is (the values only depend on the text); one that lacks any (an import stopped before its duplicates
 * phase, or a project made before them) is computed now. Returns the examples recorded and the datasets computed.
 */
export async function recordDuplicatesForRun(
  db: Db, runId: number, datasetIds: number[], opts: Pick<DuplicateOptions, 'onProgress' | 'signal'> = {},
): Promise<{ examples: number; computed: number[] }> {
  let examples = 0;
  const computed: number[] = [];
  const cols = new Set(listSignalColumns(db));
  for (const d of datasetIds) {
    const total = countDatasetExamples(db, d);
    const missing = DUPLICATE_COLUMNS.some((c) => !cols.has(c)) ? total : countExamplesMissingSignals(db, d, DUPLICATE_COLUMNS);
    if (missing > 0) {
      examples += (await computeDuplicates(db, d, { runId, onProgress: opts.onProgress, signal: opts.signal })).examples;
      computed.push(d);
      continue;
    }
    db.transaction(() => {
      for (const c of DUPLICATE_COLUMNS) copySignalColumnToRun(db, runId, d, c);
    })();
    examples += total;
    opts.onProgress?.(examples, examples);
  }
  return { examples, computed };
}
