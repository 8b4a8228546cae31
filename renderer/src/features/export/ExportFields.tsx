/** The Export screen's parts: what to write, the training run and layer mask it comes from, and what was written. */
import type { DatasetInfo, ExportRequest, LayerMaskInfo, SubsetInfo, TrainRunInfo } from '../../../../preload/contract';
import { useJob } from '../../api/hooks';
import { JobProgress } from '../../components/JobProgress';
import { fmtNum, plural } from '../../components/format';
import { rowsLabel } from '../../components/names';
import { useRevealWhenFinished } from '../../components/reveal';

export type What = ExportRequest['what'][number];
export const WHATS: Array<{ id: What; label: string }> = [
  { id: 'subset', label: 'Subset rows (JSONL)' },
  { id: 'token_masks', label: 'Token masks (JSONL: labels = -100 and char spans)' },
  { id: 'layer_mask', label: 'Layer mask (JSON for PEFT / Axolotl / LLaMA-Factory)' },
  { id: 'weights', label: 'Tuned weights (Hugging Face folder)' },
  { id: 'scores', label: 'Scores (per-example signals)' },
  { id: 'configs', label: 'Trainer configs: TRL (train_trl.py), Axolotl, LLaMA-Factory (+ dataset_info.json)' },
];
/** what the trainer configs read: TRL and Axolotl train on token_masks.jsonl, LLaMA-Factory on subset.messages.jsonl */
export const CONFIG_INPUTS: ReadonlySet<What> = new Set<What>(['subset', 'token_masks']);

function isPath(v: number | string): v is string {
  return typeof v === 'string' && /[\\/]/.test(v);
}

/** The parts to write; with trainer configs ticked, the files they train on are ticked (and locked) too. */
export function WhatFieldset({ what, onToggle }: { what: ReadonlySet<What>; onToggle: (w: What, on: boolean) => void }) {
  return (
    <fieldset className="signal-grid">
      <legend>What</legend>
      {WHATS.map((w) => {
        const forConfigs = what.has('configs') && CONFIG_INPUTS.has(w.id);
        return (
          <label key={w.id} className="check" title={forConfigs ? 'the trainer configs train on this file, so it comes with them' : undefined}>
            <input
              type="checkbox"
              data-testid={`export-what-${w.id}`}
              checked={what.has(w.id) || forConfigs}
              disabled={forConfigs}
              onChange={(e) => onToggle(w.id, e.target.checked)}
            />
            {w.label}
          </label>
        );
      })}
    </fieldset>
  );
}

/** A finished training run, named by the rows it trained on, its layers and steps. */
export function TrainRunField({ value, onChange, runs, subsets, datasets }: {
  value: number | null;
  onChange: (runId: number | null) => void;
  runs: TrainRunInfo[];
  subsets: SubsetInfo[] | null | undefined;
  datasets: DatasetInfo[] | null | undefined;
}) {
  return (
    <label className="field">
      <span>Training run (for weights)</span>
      <select data-testid="export-train-run" value={value ?? ''} onChange={(e) => onChange(e.target.value ? Number(e.target.value) : null)}>
        <option value="">none</option>
        {runs.map((r) => (
          <option key={r.id} value={r.id}>
            run #{r.id}: {rowsLabel({ subsetId: r.subsetId ?? r.config.subsetId, datasetId: r.config.datasetId }, subsets, datasets)} ({r.config.layers}, {plural(r.step, 'step')})
          </option>
        ))}
      </select>
    </label>
  );
}

/** A saved layer mask, or (empty) the training run's: `hasRun` says whether a training run is chosen to take it from. */
export function LayerMaskField({ value, onChange, masks, hasRun }: { value: number | null; onChange: (maskId: number | null) => void; masks: LayerMaskInfo[] | null | undefined; hasRun: boolean }) {
  return (
    <label className="field">
      <span>Layer mask</span>
      <select data-testid="export-layer-mask" value={value ?? ''} onChange={(e) => onChange(e.target.value ? Number(e.target.value) : null)}>
        <option value="">{hasRun ? 'from the training run' : 'none (no training run chosen)'}</option>
        {masks?.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name} ({plural(m.tensors.length, 'tensor')})
          </option>
        ))}
      </select>
    </label>
  );
}

/** The export job's progress and, once done, the paths and counts it wrote. */
/** The export job's figures in words (its stats keys are the engine's). */
const STAT_LABELS: Record<string, string> = { outDir: 'folder', files: 'files written' };

/** `started`: the job was started from this screen, so its card scrolls into view when it finishes. */
export function ExportProgress({ jobId, started }: { jobId: string; started: boolean }) {
  const job = useJob(jobId);
  const card = useRevealWhenFinished(started ? jobId : null);
  return (
    <section className="card" ref={card}>
      <h2>Progress</h2>
      <JobProgress jobId={jobId} label="export" />
      {job?.status === 'done' && (
        <div className="export-result" data-testid="export-result">
          <strong>Written:</strong>
          <ul>
            {Object.entries(job.stats).map(([k, v]) => (
              <li key={k}>
                <span className="muted">{STAT_LABELS[k] ?? k}</span>{' '}
                {isPath(v) ? <code data-testid="export-path">{v}</code> : <span className="num">{typeof v === 'number' ? fmtNum(v) : v}</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
