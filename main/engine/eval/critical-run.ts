/**
 * A critical-token run over a project's examples: each example's stored render (one render key) is split into its
 * prompt (every token before the last assistant turn's tokens) and that turn's tokens (the response); critical.ts
 * rolls out alternatives at each response position, checking the final answer against the response's own answer
 * (GSM8K's `#### N`, or the regex). The values go to the project as a score run with the token signal `critical`
 * under that render key, where the `critical` token policy (selection/token-policy.ts) and the token views read them.
 * Examples whose response has no final answer are skipped and counted.
 */
import { getRender, type Db } from '../db';
import { insertCriticalRun, storedCriticalValues } from '../db/eval-runs';
import type { LoadedModel } from '../models/model';
import { WinnowError } from '../util/errors';
import { compileAnswerRegex, extractAnswer } from './metrics';
import { criticalTokens, estimateCriticalCost, finalAnswerCheck, type CriticalBudget, type CriticalCost } from './critical';

/** The last contiguous run of label-mask positions: the last assistant turn's tokens [start, end). */
export function responseSpan(labelMask: Uint8Array): { start: number; end: number } | null {
  let end = labelMask.length;
  while (end > 0 && !labelMask[end - 1]) end--;
  if (end === 0) return null;
  let start = end;
  while (start > 0 && labelMask[start - 1]) start--;
  return start === 0 ? null : { start, end };
}

interface Prepared {
  exampleId: number;
  tokenIds: Int32Array;
  span: { start: number; end: number };
  reference: string;
}

function prepare(db: Db, m: LoadedModel, renderKeyId: number, exampleIds: number[], re: RegExp | undefined): { ready: Prepared[]; skipped: Array<{ exampleId: number; reason: string }> } {
  const ready: Prepared[] = [];
  const skipped: Array<{ exampleId: number; reason: string }> = [];
  for (const exampleId of exampleIds) {
    const r = getRender(db, exampleId, renderKeyId);
    if (!r) {
      skipped.push({ exampleId, reason: 'not rendered under this render key' });
      continue;
    }
    const span = responseSpan(r.labelMask);
    if (!span) {
      skipped.push({ exampleId, reason: 'no response tokens after a prompt' });
      continue;
    }
    const reference = m.tokenizer.decode(Array.from(r.tokenIds.subarray(span.start, span.end)), { skipSpecialTokens: true });
    // a checkable answer: the regex matches, or GSM8K's "####" is there (a bare last number is no answer to check)
    if (re ? extractAnswer(reference, re) === null : !reference.includes('####')) {
      skipped.push({ exampleId, reason: 'the response has no final answer to check' });
      continue;
    }
    ready.push({ exampleId, tokenIds: r.tokenIds, span, reference });
  }
  return { ready, skipped };
}

/** The cost of a run before it starts: rollouts and generated tokens at most, over the examples it would examine. */
export function estimateCriticalRun(db: Db, m: LoadedModel, o: { renderKeyId: number; exampleIds: number[]; budget: CriticalBudget; answerRegex?: string }): CriticalCost & { skipped: number } {
  const { ready, skipped } = prepare(db, m, o.renderKeyId, o.exampleIds, compileAnswerRegex(o.answerRegex));
  return { ...estimateCriticalCost(ready.map((p) => p.span.end - p.span.start), o.budget), skipped: skipped.length };
}

export interface CriticalRunResult {
  runId: number;
  cost: CriticalCost;
  examples: number;
  skipped: Array<{ exampleId: number; reason: string }>;
  /** response tokens examined and those found critical (value > 0) */
  examined: number;
  critical: number;
  rollouts: number;
  generatedTokens: number;
}

export async function runCriticalTokens(db: Db, m: LoadedModel, o: {
  modelId: number; datasetId?: number | null; renderKeyId: number; exampleIds: number[]; budget: CriticalBudget; answerRegex?: string;
  eosIds: number[]; onProgress?: (done: number, total: number) => void; checkCancel?: () => void;
}): Promise<CriticalRunResult> {
  const re = compileAnswerRegex(o.answerRegex);
  const { ready, skipped } = prepare(db, m, o.renderKeyId, o.exampleIds, re);
  if (!ready.length) throw new WinnowError('bad_input', `critical tokens: none of the ${o.exampleIds.length} example(s) has a response with a final answer to check${skipped[0] ? ` (e.g. example ${skipped[0].exampleId}: ${skipped[0].reason})` : ''}`);
  const cost = estimateCriticalCost(ready.map((p) => p.span.end - p.span.start), o.budget);
  const values = new Map<number, Float32Array>();
  let examined = 0;
  let critical = 0;
  let rollouts = 0;
  let generatedTokens = 0;
  for (const [i, p] of ready.entries()) {
    o.checkCancel?.();
    const ids = Array.from(p.tokenIds);
    const r = await criticalTokens(m, ids.slice(0, p.span.start), ids.slice(p.span.start, p.span.end), finalAnswerCheck(p.reference, re), o.budget, { eosIds: o.eosIds, checkCancel: o.checkCancel });
    // one value per token of the render: NaN outside the response and past the position budget
    const v = new Float32Array(ids.length).fill(NaN);
    r.values.forEach((x, t) => {
      if (x === null) return;
      v[p.span.start + t] = x;
      examined++;
      if (x > 0) critical++;
    });
    values.set(p.exampleId, v);
    rollouts += r.rollouts;
    generatedTokens += r.generatedTokens;
    o.onProgress?.(i + 1, ready.length);
  }
  const params = { method: 'critical', budget: o.budget, answerRegex: o.answerRegex ?? null, cost };
  const runId = db.transaction(() => insertCriticalRun(db, { modelId: o.modelId, datasetId: o.datasetId ?? null, params, rows: ready.length, renderKeyId: o.renderKeyId }, values))();
  return { runId, cost, examples: ready.length, skipped, examined, critical, rollouts, generatedTokens };
}

/** The stored `critical` values of one example in a run (tests, views). */
export function criticalValues(db: Db, runId: number, exampleId: number): Float32Array | null {
  return storedCriticalValues(db, runId, exampleId);
}
