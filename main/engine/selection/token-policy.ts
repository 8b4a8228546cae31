/**
 * Token-mask policies — which tokens of each example count in the loss. One definition for training, exports and
 * the UI:
 *   response      the render's label mask (the assistant turn), replaced by a hand-edited mask when one exists
 *   all           every token but the first (which has no prediction)
 *   top_percent   of the response tokens, keep the top k% by a token signal (Token Cleaning / ssToken: k = 60 by
 *                 default), per example or with one global threshold over all chosen examples
 *   critical      the response tokens the model's latest `critical` run (Critical Token Fine-tuning, eval/critical.ts)
 *                 found critical: value > 0, i.e. some alternative token there flips the answer's correctness; tokens
 *                 the run did not examine (past its position budget) are not kept
 * Position 0 never counts. An example left with no trainable token is reported by the caller, never trained on.
 *
 * Every mask is made on the render of one render key (the caller's: training's, an export's). A hand-edited mask and
 * a run's token values are read against the render they were made on: they apply where that render's tokens are
 * the same (db/renders.ts sharesTokens) — e.g. scores made at 512 max tokens apply to the first 256 tokens of a
 * render at 256 — and positions a run did not score are never kept by top_percent.
 */
import type { Db, StoredRender } from '../db';
import { blobToFloat32, getRender, sharesTokens, tokenMaskFor } from '../db';
import { latestTokenSignalRun, tokenValuesReader } from '../db/token-masks';
import { WinnowError } from '../util/errors';
import type { TrainConfig } from '../../../preload/contract';

export type TokenPolicySpec =
  | { kind: 'response'; editedName?: string }
  | { kind: 'all' }
  | { kind: 'critical'; editedName?: string }
  | { kind: 'top_percent'; signal: string; percent: number; scope: 'example' | 'global'; editedName?: string };

/** The token policy a train run's (or a parameter mask's) config names. */
export function trainTokenPolicy(cfg: Pick<TrainConfig, 'tokenPolicy' | 'tokenSignal' | 'tokenPercent' | 'tokenScope' | 'tokenMaskName'>): TokenPolicySpec {
  if (cfg.tokenPolicy === 'all') return { kind: 'all' };
  if (cfg.tokenPolicy === 'critical') return { kind: 'critical', editedName: cfg.tokenMaskName };
  if (cfg.tokenPolicy === 'top_percent') {
    return { kind: 'top_percent', signal: cfg.tokenSignal, percent: cfg.tokenPercent, scope: cfg.tokenScope, editedName: cfg.tokenMaskName };
  }
  return { kind: 'response', editedName: cfg.tokenMaskName };
}

export interface MaskedExample {
  ids: Int32Array;
  offsets: Int32Array;
  mask: Uint8Array;
  edited: boolean;
}

/**
 * Latest run of this model that stored the token signal (for excess_loss, the run that had the reference), with the
 * render key its values stand on.
 */
function signalRun(db: Db, modelId: number, signal: string): { runId: number; renderKeyId: number } {
  const latest = latestTokenSignalRun(db, modelId, signal);
  if (!latest) throw new WinnowError('bad_input', `token policy: no "${signal}" token scores for this model yet — score it first`);
  const { runId: run, renderKeyId: key } = latest;
  if (key === null) {
    throw new WinnowError('bad_input', `token policy: the "${signal}" scores of run ${run} stand on renders that are no longer stored (scored before renders were kept per render key, and re-rendered since) — score ${signal} again`);
  }
  return { runId: run, renderKeyId: key };
}

function baseMask(db: Db, exampleId: number, renderKeyId: number, editedName: string | undefined): { r: StoredRender; mask: Uint8Array; edited: boolean } | null {
  const r = getRender(db, exampleId, renderKeyId);
  if (!r) return null;
  let mask = r.labelMask;
  let edited = false;
  if (editedName) {
    const m = tokenMaskFor(db, editedName, r);
    if (m) {
      mask = m.mask;
      edited = true;
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
  opts: { renderKeyId: number; modelId: number; policy: TokenPolicySpec },
  exampleIds: number[],
): (exampleId: number) => MaskedExample | null {
  const p = opts.policy;
  if (p.kind === 'all') {
    return (exampleId) => {
      const r = getRender(db, exampleId, opts.renderKeyId);
      if (!r) return null;
      const mask = new Uint8Array(r.nTokens).fill(1);
      mask[0] = 0;
      return { ids: r.tokenIds, offsets: r.offsets, mask, edited: false };
    };
  }
  if (p.kind === 'response') {
    return (exampleId) => {
      const b = baseMask(db, exampleId, opts.renderKeyId, p.editedName);
      return b && { ids: b.r.tokenIds, offsets: b.r.offsets, mask: b.mask, edited: b.edited };
    };
  }
  if (p.kind === 'top_percent' && !(p.percent > 0 && p.percent <= 100)) throw new WinnowError('bad_input', `token policy: percent must be in (0, 100], got ${p.percent}`);
  const signal = p.kind === 'critical' ? 'critical' : p.signal;
  const run = signalRun(db, opts.modelId, signal);
  const valuesOf = tokenValuesReader(db, run.runId, signal);
  /** the run's values on `r`'s positions (NaN past the scored render's end), or null where they do not apply */
  const scores = (exampleId: number, r: StoredRender): Float32Array | null => {
    const blob = valuesOf(exampleId);
    if (!blob) return null;
    const v = blobToFloat32(blob);
    if (run.renderKeyId === r.renderKeyId) return v.length === r.nTokens ? v : null;
    const scored = getRender(db, exampleId, run.renderKeyId);
    if (!scored || scored.nTokens !== v.length || !sharesTokens(scored.tokenIds, r.tokenIds)) return null;
    const out = new Float32Array(r.nTokens).fill(NaN);
    out.set(v.subarray(0, Math.min(v.length, r.nTokens)));
    return out;
  };
  if (p.kind === 'critical') {
    return (exampleId) => {
      const b = baseMask(db, exampleId, opts.renderKeyId, p.editedName);
      if (!b) return null;
      const v = scores(exampleId, b.r);
      const mask = new Uint8Array(b.r.nTokens);
      // NaN (not examined) compares false: never kept
      if (v) for (let t = 1; t < mask.length; t++) if (b.mask[t] && v[t]! > 0) mask[t] = 1;
      return { ids: b.r.tokenIds, offsets: b.r.offsets, mask, edited: b.edited };
    };
  }
  let globalCut: number | null = null;
  if (p.scope === 'global') {
    const all: number[] = [];
    for (const id of exampleIds) {
      const b = baseMask(db, id, opts.renderKeyId, p.editedName);
      const v = b && scores(id, b.r);
      if (!b || !v) continue;
      for (let t = 1; t < b.mask.length; t++) if (b.mask[t] && Number.isFinite(v[t]!)) all.push(v[t]!);
    }
    all.sort((a, b) => b - a);
    const keep = Math.max(1, Math.round((all.length * p.percent) / 100));
    globalCut = all.length ? all[keep - 1]! : Infinity;
  }
  return (exampleId) => {
    const b = baseMask(db, exampleId, opts.renderKeyId, p.editedName);
    if (!b) return null;
    const v = scores(exampleId, b.r);
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
