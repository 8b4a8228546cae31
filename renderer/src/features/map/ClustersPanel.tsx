/** K-means on `embedding` for the current dataset: run it (a background job), and read what the stored clustering is. */
import { useEffect, useState } from 'react';
import type { ClusterInfo } from '../../../../preload/contract';
import { useApp, useStartJob } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { TextField } from '../../components/Field';
import { JobProgress } from '../../components/JobProgress';
import { fmtNum, plural } from '../../components/format';

interface Props {
  info: ClusterInfo | null;
  /** the stored clustering is still being read */
  loading?: boolean;
  /** a clustering job finished: reload the columns, the info and the map */
  onDone: () => void;
}

export function ClustersPanel({ info, loading, onDone }: Props) {
  const { datasetId } = useApp();
  const [k, setK] = useState('8');
  const [seed, setSeed] = useState('0');
  const { jobId, error, start } = useStartJob('clusters.start', onDone);
  const [formError, setFormError] = useState<string | null>(null);
  // start from the stored clustering's settings
  useEffect(() => {
    if (!info) return;
    setK(String(info.k));
    setSeed(String(info.seed));
  }, [info?.runId]); // eslint-disable-line react-hooks/exhaustive-deps

  const run = async () => {
    const kk = Number(k);
    const s = Number(seed);
    if (!Number.isInteger(kk) || kk < 2 || kk > 1000) return setFormError('k must be a whole number from 2 to 1000.');
    if (!Number.isInteger(s)) return setFormError('Seed must be a whole number.');
    setFormError(null);
    await start({ datasetId: datasetId ?? undefined, k: kk, seed: s });
  };

  return (
    <div className="map-clusters" data-testid="map-clusters" data-k={info?.k ?? ''}>
      <h3>Clusters</h3>
      <p className="muted hint">
        K-means on <code>embedding</code> (k-means++ start, seeded). Stored as the <code>cluster</code> column: colour the map by it,
        filter the table by it, or keep n per cluster on the Subsets screen.
      </p>
      <div className="form-row">
        <TextField label="k" testId="clusters-k" width="narrow" inputMode="numeric" value={k} onChange={setK} />
        <TextField label="Seed" testId="clusters-seed" width="narrow" inputMode="numeric" value={seed} onChange={setSeed} />
        <button className="btn" data-testid="clusters-run" onClick={() => void run()}>
          {info ? 'Run again' : 'Run K-means'}
        </button>
      </div>
      {formError && (
        <div className="error-text" role="alert">
          {formError}
        </div>
      )}
      <ErrorText error={error} testId="clusters-error" />
      <JobProgress jobId={jobId} label="K-means" />
      {loading ? (
        <p className="muted" data-testid="clusters-loading" data-loading="true">
          Reading the stored clustering…
        </p>
      ) : info ? (
        <p className="muted" data-testid="clusters-info">
          k = {info.k}, seed {info.seed}: {plural(info.n, 'example')}, {plural(info.iterations, 'iteration')}{info.converged ? ' (converged)' : ' (stopped at the limit)'},
          objective {fmtNum(info.objective)}; sizes {info.sizes.slice(0, 12).join(' · ')}
          {info.sizes.length > 12 ? ' …' : ''}. Run {info.runId}, {new Date(info.createdAt.replace(' ', 'T') + 'Z').toLocaleString()}.
        </p>
      ) : (
        <p className="muted" data-testid="clusters-none">
          No clusters yet.
        </p>
      )}
    </div>
  );
}
