/**
 * Export: the subset, token masks, layer mask, tuned weights, scores or trainer configs to a folder; shows the written
 * paths. Trainer configs read the token masks and the subset's messages, so ticking them ticks those too (the engine
 * writes them with the configs either way: export/run.ts exportParts).
 */
import { useState } from 'react';
import type { ExportRequest } from '../../../../preload/contract';
import { useApp, useCall, useJob, useJobs, useStartJob } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { ModelField, SubsetField, TextField } from '../../components/Field';
import { JobProgress } from '../../components/JobProgress';
import { fmtNum, plural } from '../../components/format';
import { CurrentDataset } from '../../components/CurrentDataset';
import { rowsLabel } from '../../components/names';
import { tokenPolicyOf } from '../../components/TokenPolicyFields';

type What = ExportRequest['what'][number];
const WHATS: Array<{ id: What; label: string }> = [
  { id: 'subset', label: 'Subset rows (JSONL)' },
  { id: 'token_masks', label: 'Token masks (JSONL: labels = -100 and char spans)' },
  { id: 'layer_mask', label: 'Layer mask (JSON for PEFT / Axolotl / LLaMA-Factory)' },
  { id: 'weights', label: 'Tuned weights (Hugging Face folder)' },
  { id: 'scores', label: 'Scores (per-example signals)' },
  { id: 'configs', label: 'Trainer configs: TRL (train_trl.py), Axolotl, LLaMA-Factory (+ dataset_info.json)' },
];
/** what the trainer configs read: TRL and Axolotl train on token_masks.jsonl, LLaMA-Factory on subset.messages.jsonl */
const CONFIG_INPUTS: ReadonlySet<What> = new Set<What>(['subset', 'token_masks']);

function isPath(v: number | string): v is string {
  return typeof v === 'string' && /[\\/]/.test(v);
}

export function ExportScreen() {
  const { project, datasetId } = useApp();
  const subsets = useCall('subsets.list', {});
  const runs = useCall('train.list', {});
  const masks = useCall('layerMasks.list', {});
  const jobs = useJobs();
  const [what, setWhat] = useState<Set<What>>(() => new Set<What>(['subset', 'token_masks']));
  const [subsetId, setSubsetId] = useState<number | null>(null);
  const [trainRunId, setTrainRunId] = useState<number | null>(null);
  const [layerMaskId, setLayerMaskId] = useState<number | null>(null);
  const [modelChoice, setModelChoice] = useState<number | null>(null);
  const [outDir, setOutDir] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const { jobId, error, busy, start: startExport } = useStartJob('export.start');
  const shownJobId = jobId ?? jobs.find((j) => j.kind === 'export')?.jobId ?? null;
  const job = useJob(shownJobId);
  const doneRuns = (runs.data ?? []).filter((r) => r.status === 'done');
  const run = (runs.data ?? []).find((r) => r.id === trainRunId);
  // token masks and trainer configs are made with this model's tokenizer: the one chosen, else the run's, else the first
  const models = project?.models ?? [];
  const modelId = (modelChoice !== null && models.some((m) => m.id === modelChoice) ? modelChoice : null) ?? run?.modelId ?? models[0]?.id ?? null;
  const needsModel = what.has('token_masks') || what.has('configs');
  // what the engine would refuse, said before the export starts
  const missing =
    what.has('weights') && trainRunId === null
      ? 'Tuned weights need a finished training run.'
      : what.has('layer_mask') && trainRunId === null && layerMaskId === null
        ? 'The layer mask needs a saved layer mask or a training run.'
        : null;

  const toggle = (w: What, on: boolean) =>
    setWhat((prev) => {
      const next = new Set(prev);
      if (on) next.add(w);
      else next.delete(w);
      return next;
    });

  const start = async () => {
    await startExport({
      outDir: outDir.trim(),
      subsetId,
      datasetId: datasetId ?? undefined,
      trainRunId: trainRunId ?? undefined,
      modelId: modelId ?? undefined,
      layerMaskId: layerMaskId ?? undefined,
      what: WHATS.map((w) => w.id).filter((w) => what.has(w) || (what.has('configs') && CONFIG_INPUTS.has(w))),
      overwrite,
      // token masks as the chosen run trained on them; otherwise the response mask with hand edits
      ...(run ? tokenPolicyOf(run.config) : { tokenMaskName: 'edited' }),
    });
  };

  if (project && project.datasets.length === 0) {
    return (
      <div className="screen" data-testid="screen-export">
        <h1>Export</h1>
        <EmptyState title="Nothing to export yet" testId="export-empty">
          Import a dataset on the <a href="#/data">Data</a> screen first. Then pick rows on <a href="#/subsets">Subsets</a> and train on{' '}
          <a href="#/train">Train</a>; the subset, its token masks, the layer mask and the tuned weights are exported here.
        </EmptyState>
      </div>
    );
  }

  return (
    <div className="screen" data-testid="screen-export">
      <div className="toolbar">
        <h1>Export</h1>
        <CurrentDataset />
      </div>
      <section className="card">
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
                  onChange={(e) => toggle(w.id, e.target.checked)}
                />
                {w.label}
              </label>
            );
          })}
        </fieldset>
        <div className="form-row">
          <SubsetField testId="export-subset" value={subsetId} onChange={setSubsetId} subsets={subsets.data} />
          {/* token masks and trainer configs use this model's tokenizer (input_ids) and path */}
          {needsModel && <ModelField testId="export-model" value={modelId} onChange={setModelChoice} models={models} />}
          <label className="field">
            <span>Training run (for weights)</span>
            <select data-testid="export-train-run" value={trainRunId ?? ''} onChange={(e) => setTrainRunId(e.target.value ? Number(e.target.value) : null)}>
              <option value="">none</option>
              {doneRuns.map((r) => (
                <option key={r.id} value={r.id}>
                  run #{r.id}: {rowsLabel({ subsetId: r.subsetId, datasetId: r.config.datasetId }, subsets.data, project?.datasets)} ({r.config.layers}, {plural(r.step, 'step')})
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Layer mask</span>
            <select data-testid="export-layer-mask" value={layerMaskId ?? ''} onChange={(e) => setLayerMaskId(e.target.value ? Number(e.target.value) : null)}>
              <option value="">from the training run</option>
              {masks.data?.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name} ({plural(m.tensors.length, 'tensor')})
                </option>
              ))}
            </select>
          </label>
        </div>
        {what.has('weights') && trainRunId === null && <div className="warn-text">Tuned weights need a finished training run.</div>}
        {what.has('layer_mask') && trainRunId === null && layerMaskId === null && (
          <div className="warn-text" data-testid="export-layer-mask-needed">
            The layer mask needs a saved layer mask (Layers screen) or a training run: choose one above.
          </div>
        )}
        {what.has('configs') && (
          <div className="muted" data-testid="export-configs-note">
            The trainer configs train on the token masks and the subset&apos;s messages, so those are written too. With Layer mask ticked they unfreeze only
            its tensors ({what.has('layer_mask') ? 'ticked' : 'not ticked: every parameter trains'}); with a training run they take its learning rate, batch
            size and max tokens.
          </div>
        )}
        <div className="form-row">
          <TextField label="Output folder" testId="export-out-dir" width="grow" value={outDir} placeholder="/tmp/winnow-export" onChange={setOutDir} />
          <label className="check">
            <input type="checkbox" data-testid="export-overwrite" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} />
            Overwrite existing files
          </label>
          <button
            className="btn btn-primary"
            data-testid="export-start"
            disabled={busy || !outDir.trim() || what.size === 0 || missing !== null}
            title={missing ?? undefined}
            onClick={() => void start()}
          >
            Export
          </button>
        </div>
        <ErrorText error={error} testId="export-error" />
      </section>
      {shownJobId && (
        <section className="card">
          <h2>Progress</h2>
          <JobProgress jobId={shownJobId} label="export" />
          {job?.status === 'done' && (
            <div className="export-result" data-testid="export-result">
              <strong>Written:</strong>
              <ul>
                {Object.entries(job.stats).map(([k, v]) => (
                  <li key={k}>
                    <span className="muted">{k}</span>{' '}
                    {isPath(v) ? <code data-testid="export-path">{v}</code> : <span className="num">{typeof v === 'number' ? fmtNum(v) : v}</span>}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
