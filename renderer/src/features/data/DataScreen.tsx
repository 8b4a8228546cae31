/** Data: the project's datasets and models; import a dataset (path or upload); add a model folder. */
import { useState } from 'react';
import type { ApiError } from '../../../../preload/contract';
import { ImportDataset } from './ImportDataset';
import { EditMapping } from './EditMapping';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { fmtCount, fmtNum, plural, rowNumber } from '../../components/format';
import { rowsLabel } from '../../components/names';
import { ItemActions } from '../../components/ItemActions';
import { TokenMasks } from './TokenMasks';

export function DataScreen() {
  return (
    <div className="screen" data-testid="screen-data">
      <h1>Data</h1>
      <DatasetsCard />
      <ImportDataset />
      <ModelsCard />
      <TokenMasks />
      <section className="card">
        <h2>Open an export bundle</h2>
        <OpenBundle />
      </section>
    </div>
  );
}

/** The project's datasets: pick the one to work on; their render errors, import skips and mapping open below. */
function DatasetsCard() {
  const { project, datasetId, setDatasetId } = useApp();
  const [errorsOf, setErrorsOf] = useState<number | null>(null);
  const [skipsOf, setSkipsOf] = useState<number | null>(null);
  const [mappingOf, setMappingOf] = useState<number | null>(null);
  const mappingName = project?.datasets.find((d) => d.id === mappingOf)?.name;
  return (
    <section className="card">
      <h2>Datasets</h2>
      {project && project.datasets.length === 0 && (
        <EmptyState title="No datasets yet" testId="datasets-empty">
          Import a JSONL, JSON, CSV, TSV, Parquet or text file below — by path on this machine or by upload.
        </EmptyState>
      )}
      {project && project.datasets.length > 0 && (
        <table className="simple-table" data-testid="datasets-table">
          <thead>
            <tr>
              <th />
              <th>Name</th>
              <th>Format</th>
              <th className="num">Rows</th>
              <th className="num" title="Rows the active model cannot render at its default options (assistant turns learned, 512 tokens). Jobs that render with other options (a training run's max tokens) keep their own renders and do not change this count.">
                Render errors
              </th>
              <th className="num">Skipped</th>
              <th>Source</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {project.datasets.map((d) => (
              <tr key={d.id} data-testid="dataset-row" data-dataset-id={d.id} className={d.id === datasetId ? 'selected' : ''}>
                <td>
                  <input
                    type="radio"
                    name="current-dataset"
                    data-testid="dataset-select"
                    aria-label={`Work on ${d.name}`}
                    checked={d.id === datasetId}
                    onChange={() => setDatasetId(d.id)}
                  />
                </td>
                <td>{d.name}</td>
                <td>{d.format}</td>
                <td className="num" data-testid="dataset-rows">
                  {fmtNum(d.rowCount)}
                </td>
                <td className="num">
                  {d.renderErrors > 0 ? (
                    <button className="link" data-testid="dataset-render-errors" onClick={() => setErrorsOf(errorsOf === d.id ? null : d.id)}>
                      {fmtNum(d.renderErrors)}
                    </button>
                  ) : (
                    '0'
                  )}
                </td>
                <td className="num">
                  {d.skipped > 0 ? (
                    <button className="link" data-testid="dataset-skipped" onClick={() => setSkipsOf(skipsOf === d.id ? null : d.id)}>
                      {fmtNum(d.skipped)}
                    </button>
                  ) : (
                    '0'
                  )}
                </td>
                <td className="path" title={d.sourcePath}>
                  {d.sourcePath}
                </td>
                <td>
                  <span className="item-actions">
                    <button className="btn btn-small" data-testid="dataset-edit-mapping" onClick={() => setMappingOf(mappingOf === d.id ? null : d.id)}>
                      Edit mapping
                    </button>
                    <ItemActions kind="dataset" id={d.id} name={d.name} onChanged={() => undefined} />
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {errorsOf !== null && <RenderErrors datasetId={errorsOf} onClose={() => setErrorsOf(null)} />}
      {skipsOf !== null && <ImportSkips datasetId={skipsOf} onClose={() => setSkipsOf(null)} />}
      {mappingOf !== null && mappingName !== undefined && <EditMapping key={mappingOf} datasetId={mappingOf} name={mappingName} onClose={() => setMappingOf(null)} />}
    </section>
  );
}

function ModelsCard() {
  const { project } = useApp();
  return (
    <section className="card">
      <h2>Models</h2>
      {project && project.models.length === 0 && (
        <EmptyState title="No models yet" testId="models-empty">
          Add a Hugging Face model folder (config.json, model.safetensors, tokenizer.json) below to score and train.
        </EmptyState>
      )}
      {project && project.models.length > 0 && (
        <table className="simple-table" data-testid="models-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Architecture</th>
              <th className="num">Layers</th>
              <th className="num">Params</th>
              <th>Origin</th>
              <th>Path</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {project.models.map((m) => (
              <tr key={m.id} data-testid="model-row" data-model-id={m.id}>
                <td>{m.name}</td>
                <td>{m.architecture}</td>
                <td className="num">{m.numLayers}</td>
                <td className="num">{fmtCount(m.params)}</td>
                <td>{m.trainRunId ? `train run #${m.trainRunId}` : 'added'}</td>
                <td className="path" title={m.path}>
                  {m.path}
                </td>
                <td>
                  <ItemActions kind="model" id={m.id} name={m.name} onChanged={() => undefined} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <AddModel />
    </section>
  );
}

/** Re-open a bundle Winnow exported: its files are checked against the manifest, then subset and masks come back. */
function OpenBundle() {
  const { client, reloadProject } = useApp();
  const [dir, setDir] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const open = async () => {
    setBusy(true);
    const r = await client.call('bundles.open', { dir: dir.trim() });
    // name what came back: the subset and the dataset its rows are in
    const [subsets, project] = r.ok ? await Promise.all([client.call('subsets.list', {}), client.call('project.open', {})]) : [null, null];
    setBusy(false);
    setError(r.ok ? null : r.error);
    setDone(
      r.ok
        ? `restored subset ${rowsLabel({ subsetId: r.value.subsetId, datasetId: r.value.datasetId }, subsets?.ok ? subsets.value : null, project?.ok ? project.value.datasets : null)}` +
            `${r.value.layerMaskId ? ', its layer mask' : ''}, ${plural(r.value.tokenMasks, 'token mask')}` +
            `${r.value.importedDatasets ? `; imported ${plural(r.value.importedDatasets, 'dataset')}` : ''}`
        : null,
    );
    if (r.ok) reloadProject();
  };
  return (
    <div className="form-row">
      <label className="field grow">
        <span>Bundle folder (has manifest.json)</span>
        <input data-testid="bundle-path" value={dir} placeholder="/tmp/winnow-export" onChange={(e) => setDir(e.target.value)} />
      </label>
      <button className="btn btn-primary" data-testid="bundle-open" disabled={!dir.trim() || busy} onClick={() => void open()}>
        Open bundle
      </button>
      {done && (
        <span className="ok-text" data-testid="bundle-opened">
          {done}
        </span>
      )}
      <ErrorText error={error} testId="bundle-error" />
    </div>
  );
}

const REASONS_PAGE = 100;

/** A paged list of rows with the reason each was left out (import skips, render errors), with Previous / Next / Close. */
function PagedReasons(p: {
  testId: string;
  rowTestId: string;
  title: string;
  /** what one row is, plural: "records", "rows" */
  unit: string;
  /** header of the position column: "Line", "Row" */
  at: string;
  offset: number;
  setOffset: (offset: number) => void;
  data: { total: number; rows: Array<{ at: number; reason: string }> } | null;
  error: Parameters<typeof ErrorText>[0]['error'];
  onClose: () => void;
}) {
  const { data, offset, setOffset } = p;
  return (
    <div className="subcard" data-testid={p.testId} data-total={data?.total ?? ''}>
      <div className="row">
        <strong>{p.title}</strong>
        <span className="muted num">{data ? `${fmtNum(data.total)} ${p.unit}` : 'loading…'}</span>
        <span className="spacer" />
        {data && data.total > REASONS_PAGE && (
          <>
            <button className="btn btn-small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - REASONS_PAGE))}>
              Previous
            </button>
            <button className="btn btn-small" disabled={offset + REASONS_PAGE >= data.total} onClick={() => setOffset(offset + REASONS_PAGE)}>
              Next
            </button>
          </>
        )}
        <button className="btn btn-small btn-ghost" onClick={p.onClose}>
          Close
        </button>
      </div>
      <ErrorText error={p.error} />
      {data && (
        <table className="simple-table">
          <thead>
            <tr>
              <th className="num">{p.at}</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {data.rows.map((r) => (
              <tr key={r.at} data-testid={p.rowTestId}>
                <td className="num">{r.at}</td>
                <td>{r.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** The records an import skipped as malformed (skip malformed lines), with the file line and the reason. */
function ImportSkips({ datasetId, onClose }: { datasetId: number; onClose: () => void }) {
  const [offset, setOffset] = useState(0);
  const { data, error } = useCall('datasets.importSkips', { datasetId, offset, limit: REASONS_PAGE });
  return (
    <PagedReasons
      testId="import-skips" rowTestId="import-skip-row" title="Records skipped at import" unit="records" at="Line"
      offset={offset} setOffset={setOffset} error={error} onClose={onClose}
      data={data ? { total: data.total, rows: data.rows.map((r) => ({ at: r.line, reason: r.reason })) } : null}
    />
  );
}

function RenderErrors({ datasetId, onClose }: { datasetId: number; onClose: () => void }) {
  const [offset, setOffset] = useState(0);
  const { data, error } = useCall('datasets.renderErrors', { datasetId, offset, limit: REASONS_PAGE });
  return (
    <PagedReasons
      testId="render-errors" rowTestId="render-error-row" title="Rows that could not be rendered" unit="rows" at="Row"
      offset={offset} setOffset={setOffset} error={error} onClose={onClose}
      data={data ? { total: data.total, rows: data.rows.map((r) => ({ at: rowNumber(r.rowIndex), reason: r.reason })) } : null}
    />
  );
}

function AddModel() {
  const { client, reloadProject } = useApp();
  const [path, setPath] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // models already in the Hugging Face hub cache: picked by hub id (org/name@ref), resolved offline by the engine
  const cached = useCall('models.listCached', {});
  const add = async () => {
    setBusy(true);
    const r = await client.call('models.add', { path: path.trim() });
    setBusy(false);
    setError(r.ok ? null : r.error);
    setAdded(r.ok ? `${r.value.name} (${r.value.architecture}, ${plural(r.value.numLayers, 'layer')})` : null);
    if (r.ok) reloadProject();
  };
  return (
    <div className="form-row">
      {cached.data && cached.data.length > 0 && (
        <label className="field">
          <span>From the Hugging Face cache</span>
          <select data-testid="model-cached" value="" onChange={(e) => e.target.value && setPath(e.target.value)}>
            <option value="">(pick a cached model)</option>
            {cached.data.map((m) => {
              const id = `${m.repo}@${m.refs[0] ?? m.commit.slice(0, 12)}`;
              return (
                <option key={`${m.repo}/${m.commit}`} value={id} disabled={!m.runnable} title={m.reason ?? m.dir}>
                  {id} · {m.architecture ?? '?'} · {(m.bytes / 1e6).toFixed(m.bytes < 1e7 ? 1 : 0)} MB{m.runnable ? '' : ' · cannot run'}
                </option>
              );
            })}
          </select>
        </label>
      )}
      <label className="field grow">
        <span title="a file inside the folder (model.safetensors, config.json) works too: its folder is added">Model folder (Hugging Face layout), a file in it, or a hub id (org/name[@revision])</span>
        <input
          data-testid="model-path"
          value={path}
          placeholder="/models/SmolLM2-135M-Instruct"
          onChange={(e) => setPath(e.target.value)}
          onKeyDown={(e) => e.key === 'Enter' && path.trim() && void add()}
        />
      </label>
      <button className="btn btn-primary" data-testid="model-add" disabled={!path.trim() || busy} onClick={() => void add()}>
        Add model
      </button>
      {added && (
        <span className="ok-text" data-testid="model-added">
          Added {added}
        </span>
      )}
      <ErrorText error={error} testId="model-error" />
    </div>
  );
}
