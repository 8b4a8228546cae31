/**
 * Token-mask policies — which tokens of each example count in the loss. One definition for training, exports and
 * the UI:
 *   response      the render's label mask (the assistant turn), replaced by a hand-edited mask when one exists
 *   all           every token but the first (which has no prediction)
 *   top_percent   of the response tokens, keep the top k% by a token signal (Token Cleaning / ssToken: k = 60 by
 *                 default), per example or with one global threshold over all chosen examples
 * Position 0 never counts. An example left with no trainable token is reported by the caller, never trained on.
 */
import type { Db } from '../db';
import { blobToFloat32, blobToUint8, getRender } from '../db';
import { WinnowError } from '../util/errors';

export type TokenPolicySpec =
  | { kind: 'response'; editedName?: string }
  | { kind: 'all' }
  | { kind: 'top_percent'; signal: string; percent: number; scope: 'example' | 'global'; editedName?: string };

export interface MaskedExample {
  ids: Int32Array;
  offsets: Int32Array;
  mask: Uint8Array;
  edited: boolean;
}

/** Latest run of this model that stored the token signal (for excess_loss, the run that had the reference). */
function signalRun(db: Db, modelId: number, signal: string): number {
  const run = db
    .prepare(`SELECT MAX(ts.run_id) FROM token_scores ts JOIN score_runs r ON r.id = ts.run_id WHERE r.model_id = ? AND ts.signal = ?`)
    .pluck()
    .get(modelId, signal) as number | null;
  if (!run) throw new WinnowError('bad_input', `token policy: no "${signal}" token scores for this model yet — score it first`);
  return run;
}

function baseMask(db: Db, exampleId: number, tokenizerId: string, editedName: string | undefined): { r: NonNullable<ReturnType<typeof getRender>>; mask: Uint8Array; edited: boolean } | null {
  const r = getRender(db, exampleId, tokenizerId);
  if (!r) return null;
  let mask = r.labelMask;
  let edited = false;
  if (editedName) {
    const row = db.prepare('SELECT mask FROM token_masks WHERE name = ? AND example_id = ? AND tokenizer_id = ?').pluck().get(editedName, exampleId, tokenizerId) as Buffer | undefined;
    if (row) {
      const m = blobToUint8(row);
      if (m.length === r.nTokens) {
        mask = m;
        edited = true;
      }
    }
  }
  mask = Uint8Array.from(mask);
  mask[0] = 0;
  return { r, mask, edited };
}

/**
 * Build the masker for a set of examples. `global` scope computes one threshold over every response token of
 * `exampleIds` first, so "top 60%" means the same cut for every example.
 */
export function createTokenMasker(
  db: Db,
  opts: { tokenizerId: string; modelId: number; policy: TokenPolicySpec },
  exampleIds: number[],
): (exampleId: number) => MaskedExample | null {
  const p = opts.policy;
  if (p.kind === 'all') {
    return (exampleId) => {
      const r = getRender(db, exampleId, opts.tokenizerId);
      if (!r) return null;
      const mask = new Uint8Array(r.nTokens).fill(1);
      mask[0] = 0;
      return { ids: r.tokenIds, offsets: r.offsets, mask, edited: false };
    };
  }
  if (p.kind === 'response') {
    return (exampleId) => {
      const b = baseMask(db, exampleId, opts.tokenizerId, p.editedName);
      return b && { ids: b.r.tokenIds, offsets: b.r.offsets, mask: b.mask, edited: b.edited };
    };
  }
  if (!(p.percent > 0 && p.percent <= 100)) throw new WinnowError('bad_input', `token policy: percent must be in (0, 100], got ${p.percent}`);
  const run = signalRun(db, opts.modelId, p.signal);
  const valuesOf = db.prepare(`SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = ?`).pluck();
  const scores = (exampleId: number, n: number): Float32Array | null => {
    const blob = valuesOf.get(run, exampleId, p.signal) as Buffer | undefined;
    if (!blob) return null;
    const v = blobToFloat32(blob);
    return v.length === n ? v : null;
  };
  let globalCut: number | null = null;
  if (p.scope === 'global') {
    const all: number[] = [];
    for (const id of exampleIds) {
      const b = baseMask(db, id, opts.tokenizerId, p.editedName);
      const v = b && scores(id, b.r.nTokens);
      if (!b || !v) continue;
      for (let t = 1; t < b.mask.length; t++) if (b.mask[t] && Number.isFinite(v[t]!)) all.push(v[t]!);
    }
    all.sort((a, b) => b - a);
    const keep = Math.max(1, Math.round((all.length * p.percent) / 100));
    globalCut = all.length ? all[keep - 1]! : Infinity;
  }
  return (exampleId) => {
    const b = baseMask(db, exampleId, opts.tokenizerId, p.editedName);
    if (!b) return null;
    const v = scores(exampleId, b.r.nTokens);
    if (!v) return { ids: b.r.tokenIds, offsets: b.r.offsets, mask: new Uint8Array(b.r.nTokens), edited: b.edited };
    const mask = new Uint8Array(b.r.nTokens);
    if (globalCut !== null) {
      for (let t = 1; t < mask.length; t++) if (b.mask[t] && v[t]! >= globalCut) mask[t] = 1;
    } else {
      const cand: number[] = [];
      for (let t = 1; t < mask.length; t++) if (b.mask[t] && Number.isFinite(v[t]!)) cand.push(t);
      cand.sort((x, y) => v[y]! - v[x]! || x - y);
      const keep = Math.round((cand.length * p.percent) / 100);
      for (const t of cand.slice(0, keep)) mask[t] = 1;
    }
    return { ids: b.r.tokenIds, offsets: b.r.offsets, mask, edited: b.edited };
  };
}
