/**
 * Export: the subset, token masks, layer mask, tuned weights, scores or trainer configs to a folder; shows the written
 * paths. Trainer configs read the token masks and the subset's messages, so ticking them ticks those too (the engine
 * writes them with the configs either way: export/run.ts exportParts).
 */
import { useState } from 'react';
import { useApp, useCall, useJobs, useStartJob } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { ModelField, SubsetField, TextField } from '../../components/Field';
import { CurrentDataset } from '../../components/CurrentDataset';
import { tokenPolicyOf } from '../../components/TokenPolicyFields';
import { CONFIG_INPUTS, ExportProgress, LayerMaskField, TrainRunField, WHATS, type What, WhatFieldset } from './ExportFields';

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
        <WhatFieldset what={what} onToggle={toggle} />
        <div className="form-row">
          <SubsetField testId="export-subset" value={subsetId} onChange={setSubsetId} subsets={subsets.data} />
          {/* token masks and trainer configs use this model's tokenizer (input_ids) and path */}
          {needsModel && <ModelField testId="export-model" value={modelId} onChange={setModelChoice} models={models} />}
          <TrainRunField value={trainRunId} onChange={setTrainRunId} runs={doneRuns} subsets={subsets.data} datasets={project?.datasets} />
          <LayerMaskField value={layerMaskId} onChange={setLayerMaskId} masks={masks.data} hasRun={trainRunId !== null} />
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
      {shownJobId && <ExportProgress jobId={shownJobId} started={shownJobId === jobId} />}
    </div>
  );
}
