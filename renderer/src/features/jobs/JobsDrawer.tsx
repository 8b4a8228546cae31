/** The jobs indicator in the top bar and the drawer listing every job with progress, errors, cancel and resume. */
import { useState } from 'react';
import type { ApiError } from '../../../../preload/contract';
import { useApp, useJobs } from '../../api/hooks';
import { JobHead } from '../../components/JobProgress';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { fmtEta } from '../../components/format';
import { JOB_KIND_LABELS } from './labels';

export function JobsIndicator({ onClick, open }: { onClick: () => void; open: boolean }) {
  const jobs = useJobs();
  const active = jobs.filter((j) => j.status === 'running' || j.status === 'queued').length;
  const failed = jobs.filter((j) => j.status === 'failed').length;
  return (
    <button className={`btn jobs-indicator${open ? ' active' : ''}`} data-testid="jobs-indicator" data-active={active} onClick={onClick}>
      {active > 0 && <span className="spinner" aria-hidden />}
      Jobs
      <span className="badge num">{active}</span>
      {failed > 0 && <span className="badge badge-error num">{failed} failed</span>}
    </button>
  );
}

export function JobsDrawer({ onClose }: { onClose: () => void }) {
  const jobs = useJobs();
  const { client, jobs: store } = useApp();
  const [clearError, setClearError] = useState<ApiError | null>(null);
  const finished = jobs.filter((j) => j.status === 'done' || j.status === 'failed' || j.status === 'cancelled').length;
  // finished, failed and cancelled jobs leave the list; what they made (datasets, runs, files) stays
  const clear = async () => {
    const r = await client.call('jobs.clear', {});
    setClearError(r.ok ? null : r.error);
    const list = await client.call('jobs.list', {});
    if (list.ok) store.replaceAll(list.value);
  };
  return (
    <aside className="drawer" data-testid="jobs-drawer" aria-label="Jobs">
      <div className="drawer-head">
        <h2>Jobs</h2>
        <span className="spacer" />
        <button
          className="btn btn-small"
          data-testid="jobs-clear"
          disabled={finished === 0}
          title="Remove finished, failed and cancelled jobs from this list (their datasets, runs and files stay; a failed job can then no longer be resumed)"
          onClick={() => void clear()}
        >
          Clear finished ({finished})
        </button>
        <button className="btn btn-ghost" data-testid="jobs-close" onClick={onClose}>
          Close
        </button>
      </div>
      <ErrorText error={clearError} testId="jobs-clear-error" />
      {jobs.length === 0 && <EmptyState title="No jobs yet">Imports, scoring, training and exports show up here.</EmptyState>}
      <ul className="job-list">
        {jobs.map((job) => (
          <li key={job.jobId} className="job-row" data-testid="job-row" data-status={job.status} data-kind={job.kind} data-job-id={job.jobId}>
            <JobHead job={job} label={JOB_KIND_LABELS[job.kind] ?? job.kind} kindTestId="job-kind" />
            <div className="job-progress-stats muted">
              {job.status === 'running' && <span className="num">ETA {fmtEta(job.etaSeconds)}</span>}
              <span>{job.message}</span>
              <span className="num">{new Date(job.createdAt).toLocaleTimeString()}</span>
            </div>
            <ErrorText error={job.error} testId="job-error" />
          </li>
        ))}
      </ul>
    </aside>
  );
}
