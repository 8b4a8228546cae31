/**
 * "Edit mapping" on an imported dataset: the same mapping editor and preview as the import (on the stored rows), what
 * re-mapping would invalidate — said before the user confirms — and the re-map job with its outcome.
 */
import { useEffect, useState } from 'react';
import type { ApiError, DatasetMapping, DatasetPreview, RemapImpact } from '../../../../preload/contract';
import { ImportPreview } from './ImportPreview';
import { useApp, useJob, useStartJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { JobProgress } from '../../components/JobProgress';
import { fmtNum, plural } from '../../components/format';

const same = (a: DatasetMapping | null, b: DatasetMapping | null) => JSON.stringify(a) === JSON.stringify(b);

export function EditMapping({ datasetId, name, onClose }: { datasetId: number; name: string; onClose: () => void }) {
  const { client, reloadProject } = useApp();
  const [preview, setPreview] = useState<DatasetPreview | null>(null);
  const [current, setCurrent] = useState<DatasetMapping | null>(null);
  const [mapping, setMapping] = useState<DatasetMapping | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // the re-map job: started, tracked and refused like every other job start (useStartJob)
  const remap = useStartJob('datasets.remap', () => {
    reloadProject();
    // the stored mapping is now the new one
    void load(null);
  });
  const jobId = remap.jobId;
  const job = useJob(jobId);

  const load = async (m: DatasetMapping | null) => {
    setBusy(true);
    remap.setError(null);
    const r = await client.call('datasets.preview', { datasetId, mapping: m ?? undefined });
    setBusy(false);
    setError(r.ok ? null : r.error);
    if (!r.ok) return;
    setPreview(r.value);
    setMapping(r.value.mapping);
    if (m === null) setCurrent(r.value.mapping);
  };
  useEffect(() => {
    void load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [datasetId]);

  const apply = () => {
    if (mapping) void remap.start({ datasetId, mapping });
  };

  const changed = !same(mapping, current);
  const misfit = preview?.rows.some((r) => r.error) ?? false;
  return (
    <div className="subcard edit-mapping" data-testid="edit-mapping" data-dataset-id={datasetId}>
      <div className="row">
        <strong>Mapping of {name}</strong>
        <span className="muted">change how the stored rows become messages; the dataset is rendered again</span>
        <span className="spacer" />
        <button className="btn btn-small btn-ghost" data-testid="edit-mapping-close" onClick={onClose}>
          Close
        </button>
      </div>
      {preview && mapping && (
        <ImportPreview
          edited={changed}
          preview={preview}
          mapping={mapping}
          lineLabel="Row"
          onMapping={(m) => {
            setMapping(m);
            void load(m);
          }}
        />
      )}
      {preview?.impact && changed && !jobId && (
        <div className="remap-warning" data-testid="remap-impact">
          <strong className="warn-text">Re-mapping changes every row of this dataset.</strong>
          <Impact impact={preview.impact} />
          <div className="row">
            <button className="btn btn-primary" data-testid="remap-apply" disabled={busy || remap.busy || misfit} onClick={apply}>
              Re-map {plural(preview.impact.rows, 'row')}
            </button>
            {misfit && <span className="warn-text">Some rows do not fit this mapping; it cannot be applied.</span>}
          </div>
        </div>
      )}
      <ErrorText error={remap.error ?? error} testId="remap-error" />
      <JobProgress jobId={jobId} label="re-map" />
      {job?.status === 'done' && (
        <div className="ok-text" data-testid="remap-done">
          {job.message}
        </div>
      )}
    </div>
  );
}

function Impact({ impact }: { impact: RemapImpact }) {
  const items: Array<[string, string]> = [];
  if (impact.renders) items.push(['renders', `${fmtNum(impact.renders)} renders (token ids and label masks) are deleted and made again with the active model`]);
  if (impact.scoredExamples) items.push(['scores', `scores of ${plural(impact.scoredExamples, 'example')} are deleted`]);
  if (impact.scoreRuns.length) {
    items.push(['runs', `score runs ${impact.scoreRuns.map((r) => `#${r.id} (${r.signals.join(', ')})`).join('; ')} become stale, their layer scores are deleted`]);
  }
  if (impact.tokenMasks) items.push(['masks', `${fmtNum(impact.tokenMasks)} hand-edited token masks are deleted`]);
  if (impact.subsets.length) items.push(['subsets', `subsets ${impact.subsets.map((s) => `"${s.name}"`).join(', ')} keep their rows but are marked stale (their scores are gone)`]);
  items.push(['dups', 'the search index and the duplicate columns are rebuilt']);
  return (
    <ul className="remap-impact-list">
      {items.map(([k, text]) => (
        <li key={k} data-testid={`remap-impact-${k}`}>
          {text}
        </li>
      ))}
    </ul>
  );
}
