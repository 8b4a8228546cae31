/**
 * Import a dataset: a path on this machine, a split's file from the Hugging Face cache, or an upload; each can be
 * previewed first, and the mapping the preview shows (detected or edited) is the one imported.
 */
import { useState } from 'react';
import type { ApiOutputs, DatasetMapping, DatasetPreview } from '../../../../preload/contract';
import { useApp, useCall, useStartJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { TextField } from '../../components/Field';
import { JobProgress } from '../../components/JobProgress';
import { ImportPreview } from './ImportPreview';

/** The import form's state: the file, its preview and mapping, and the import job. */
function useImportDataset() {
  const { client, reloadProject } = useApp();
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [skipMalformed, setSkipMalformed] = useState(false);
  const job = useStartJob('datasets.import', reloadProject);
  // a preview or an upload in flight (the import's own call is job.busy)
  const [loading, setLoading] = useState(false);
  const [preview, setPreview] = useState<DatasetPreview | null>(null);
  const [mapping, setMapping] = useState<DatasetMapping | null>(null);
  const [mappingEdited, setMappingEdited] = useState(false);

  const loadPreview = async (m: DatasetMapping | null, at = path.trim()) => {
    setLoading(true);
    const r = await client.call('datasets.preview', { path: at, mapping: m ?? undefined });
    setLoading(false);
    job.setError(r.ok ? null : r.error);
    setPreview(r.ok ? r.value : null);
    if (r.ok) setMapping(r.value.mapping);
  };

  // the mapping the preview showed (detected or edited) is the one imported
  const importPath = () =>
    job.start({ path: path.trim(), name: name.trim() || undefined, skipMalformed, mapping: preview ? (mapping ?? undefined) : undefined });

  const upload = async (file: File) => {
    setLoading(true);
    const content = await file.text();
    // saved under its own name, then the same preview and mapping step as a path
    const r = await client.call('datasets.upload', { fileName: file.name, content, skipMalformed, stage: true });
    setLoading(false);
    job.setError(r.ok ? null : r.error);
    if (!r.ok) return;
    setPath(r.value.path);
    setName(r.value.name);
    setMappingEdited(false);
    await loadPreview(null, r.value.path);
  };

  /** a path typed by hand: the preview shown was of another file */
  const typePath = (value: string) => {
    setPath(value);
    setPreview(null);
    setMapping(null);
    setMappingEdited(false);
  };
  /** a file picked from the cache: previewed at once */
  const pickPath = (value: string) => {
    setPath(value);
    setMappingEdited(false);
    void loadPreview(null, value);
  };
  const editMapping = (m: DatasetMapping) => {
    setMapping(m);
    setMappingEdited(true);
    void loadPreview(m);
  };
  const busy = loading || job.busy;
  return { path, typePath, pickPath, name, setName, skipMalformed, setSkipMalformed, busy, job, preview, mapping, mappingEdited, editMapping, loadPreview, importPath, upload };
}

export function ImportDataset() {
  const f = useImportDataset();
  // dataset snapshots in the Hugging Face hub cache, their files by split
  const cachedData = useCall('datasets.listCached', {});
  return (
    <section className="card">
      <h2>Import a dataset</h2>
      <div className="form-row">
        <label className="field grow">
          <span>File path on this machine</span>
          <input
            data-testid="import-path"
            value={f.path}
            placeholder="/data/train.jsonl"
            onChange={(e) => f.typePath(e.target.value)}
            onKeyDown={(e) => e.key === 'Enter' && f.path.trim() && void f.importPath()}
          />
        </label>
        <TextField label="Name (optional)" testId="import-name" value={f.name} onChange={f.setName} />
        <button className="btn" data-testid="import-preview-button" disabled={!f.path.trim() || f.busy} onClick={() => void f.loadPreview(null)}>
          Preview
        </button>
        <button className="btn btn-primary" data-testid="import-submit" disabled={!f.path.trim() || f.busy} onClick={() => void f.importPath()}>
          Import
        </button>
      </div>
      {cachedData.data && cachedData.data.some((d) => Object.keys(d.splits).length > 0) && <CachedSplits cached={cachedData.data} onPick={f.pickPath} />}
      <div className="form-row">
        <label className="field">
          <span>…or upload a file</span>
          <input
            type="file"
            data-testid="import-file"
            accept=".jsonl,.json,.csv,.tsv,.txt,.parquet"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void f.upload(file);
              e.target.value = '';
            }}
          />
        </label>
        <label className="check">
          <input type="checkbox" data-testid="import-skip-malformed" checked={f.skipMalformed} onChange={(e) => f.setSkipMalformed(e.target.checked)} />
          Skip malformed lines (otherwise the first bad line stops the import and is reported)
        </label>
      </div>
      <ErrorText error={f.job.error} testId="import-error" />
      {f.preview && f.mapping && <ImportPreview edited={f.mappingEdited} preview={f.preview} mapping={f.mapping} onMapping={f.editMapping} />}
      <JobProgress jobId={f.job.jobId} label="import" />
    </section>
  );
}

/** A split's file from a dataset snapshot in the Hugging Face hub cache. */
function CachedSplits({ cached, onPick }: { cached: ApiOutputs['datasets.listCached']; onPick: (path: string) => void }) {
  return (
    <div className="form-row">
      <label className="field grow">
        <span>…or a dataset in the Hugging Face cache (by split)</span>
        <select
          data-testid="import-cached"
          value=""
          onChange={(e) => {
            if (!e.target.value) return;
            onPick(e.target.value);
          }}
        >
          <option value="">(pick a split's file)</option>
          {cached.flatMap((d) =>
            Object.entries(d.splits).flatMap(([split, files]) =>
              files.map((file) => (
                <option key={`${d.commit}/${file}`} value={`${d.dir}/${file}`}>
                  {d.repo}@{d.refs[0] ?? d.commit.slice(0, 12)} · {split} · {file}
                </option>
              )),
            ),
          )}
        </select>
      </label>
    </div>
  );
}
