/**
 * The WiSE-FT curve: for each α, the interpolated model θ(α) = (1−α)·θ_base + α·θ_tuned is written (models/wise.ts),
 * loaded and evaluated with one task metric (run.ts), so a user can pick the α that keeps the tuned task's gain while
 * forgetting least. Every point is the metric of a model written to disk, the same one `winnow wise` writes and
 * `winnow eval` reads.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { disposeModel, loadModel } from '../models/model';
import { checkAlpha, writeWiseModel } from '../models/wise';
import { WinnowError } from '../util/errors';
import { checkMetric, evaluateRows, type EvalOptions } from './run';
import type { DataRow } from './rows';

/** "0,0.25,0.5" → sorted, distinct α values in [0, 1] */
export function parseAlphas(spec: string): number[] {
  const parts = spec.split(',').map((x) => x.trim()).filter(Boolean);
  if (!parts.length) throw new WinnowError('bad_input', '--alphas needs a comma-separated list of numbers from 0 to 1, e.g. 0,0.25,0.5,0.75,1');
  const alphas = parts.map((p) => checkAlpha(p, `--alphas: "${p}"`));
  return [...new Set(alphas)].sort((a, b) => a - b);
}

export interface SweepPoint {
  alpha: number;
  /** the metric's value (exact_match, accuracy, pass_at_1 or loss) */
  value: number | null;
  /** the eval report without its per-row answers */
  summary: Record<string, unknown>;
  /** where the model was kept, when asked */
  model: string | null;
}

export async function wiseSweep(o: {
  base: string; tuned: string; alphas: number[]; rows: DataRow[]; eval: EvalOptions;
  /** keep each α's model in DIR/alpha-<α>; default: a temporary folder, removed */
  keepModels?: string;
  onPoint?: (p: SweepPoint) => void;
}): Promise<{ metric: string; base: string; tuned: string; points: SweepPoint[]; best: { alpha: number; value: number | null } | null; rowsPerAlpha: Array<Array<Record<string, unknown>>> }> {
  const metric = checkMetric(o.eval.metric);
  const root = o.keepModels ? path.resolve(o.keepModels) : fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-wise-'));
  const points: SweepPoint[] = [];
  const rowsPerAlpha: Array<Array<Record<string, unknown>>> = [];
  try {
    for (const alpha of o.alphas) {
      const dir = path.join(root, `alpha-${alpha}`);
      writeWiseModel(o.base, o.tuned, alpha, dir, { overwrite: true });
      const m = await loadModel(dir);
      let report: Record<string, unknown>;
      try {
        report = await evaluateRows(m, o.rows, o.rows, o.eval);
      } finally {
        disposeModel(m);
      }
      const { rows, ...summary } = report;
      rowsPerAlpha.push(rows as Array<Record<string, unknown>>);
      const v = summary[metric];
      const point: SweepPoint = { alpha, value: typeof v === 'number' && Number.isFinite(v) ? v : null, summary, model: o.keepModels ? dir : null };
      points.push(point);
      o.onPoint?.(point);
      if (!o.keepModels) fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (!o.keepModels) fs.rmSync(root, { recursive: true, force: true });
  }
  // best: the lowest loss, or the highest task metric; ties go to the smaller α (closer to the base, less forgetting)
  let best: { alpha: number; value: number | null } | null = null;
  for (const p of points) {
    if (p.value === null) continue;
    if (!best || best.value === null || (metric === 'loss' ? p.value < best.value : p.value > best.value)) best = { alpha: p.alpha, value: p.value };
  }
  return { metric, base: path.resolve(o.base), tuned: path.resolve(o.tuned), points, best, rowsPerAlpha };
}
