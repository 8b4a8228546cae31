import { useState } from 'react';
import type { ApiError, Job } from '../../../preload/contract';
import { useApp, useJob } from '../api/hooks';
import { ErrorText } from './ErrorText';
import { fmtCount, fmtEta, fmtNum } from './format';

const RATE_KEYS: Array<[string, string]> = [
  ['examplesPerSec', 'examples/s'],
  ['tokensPerSec', 'tokens/s'],
];

export function ProgressBar({ current, total, status }: { current: number; total: number; status?: string }) {
  // done is whole: a job's last report may come before its last step (an export's README and manifest)
  const pct = status === 'done' ? 100 : total > 0 ? Math.min(100, (100 * current) / total) : 0;
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={current} data-status={status}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

/** Cancel / Resume (/ Discard, for a parameter mask's saved pass) buttons for a job, with the engine's answer shown if it refuses. */
export function JobActions({ job }: { job: Job }) {
  const { client } = useApp();
  const [error, setError] = useState<ApiError | null>(null);
  const active = job.status === 'queued' || job.status === 'running';
  const canResume = job.resumable && (job.status === 'failed' || job.status === 'cancelled');
  return (
    <span className="job-actions">
      {active && (
        <button
          className="btn btn-small"
          data-testid="job-cancel"
          title={job.kind === 'train' ? 'Stop after the current step; the last checkpoint is kept so the run can resume' : undefined}
          onClick={async () => {
            const r = await client.call('jobs.cancel', { jobId: job.jobId });
            setError(r.ok ? null : r.error);
          }}
        >
          {job.kind === 'train' ? 'Pause' : 'Cancel'}
        </button>
      )}
      {canResume && (
        <button
          className="btn btn-small btn-primary"
          data-testid="job-resume"
          onClick={async () => {
            const r = await client.call('jobs.resume', { jobId: job.jobId });
            setError(r.ok ? null : r.error);
          }}
        >
          Resume
        </button>
      )}
      {canResume && job.kind === 'param_mask' && (
        <button
          className="btn btn-small"
          data-testid="job-discard"
          title="Drop the saved gradient sums; the job can then no longer resume"
          onClick={async () => {
            const r = await client.call('jobs.discard', { jobId: job.jobId });
            setError(r.ok ? null : r.error);
          }}
        >
          Discard
        </button>
      )}
      <ErrorText error={error} testId="job-action-error" />
    </span>
  );
}

/** A job's first line and its bar: what it is, its status, n / N and its actions (on a screen and in the Jobs drawer). */
export function JobHead({ job, label, kindTestId, statusTestId }: { job: Job; label: string; kindTestId?: string; statusTestId?: string }) {
  return (
    <>
      <div className="job-progress-head">
        <span className="job-kind" data-testid={kindTestId}>{label}</span>
        <span className={`status-pill status-${job.status}`} data-testid={statusTestId}>
          {job.status}
        </span>
        <span className="num muted">
          {fmtNum(job.current)} / {fmtNum(job.total)}
        </span>
        <span className="spacer" />
        <JobActions job={job} />
      </div>
      <ProgressBar current={job.current} total={job.total} status={job.status} />
    </>
  );
}

/** Live progress of one job: bar, n/N, rates, ETA, message, error, actions. */
export function JobProgress({ jobId, label }: { jobId: string | null | undefined; label?: string }) {
  const job = useJob(jobId);
  if (!jobId) return null;
  if (!job) {
    return (
      <div className="job-progress" data-testid="job-progress" data-status="queued" data-job-id={jobId}>
        <div className="muted">Waiting for job {jobId}…</div>
      </div>
    );
  }
  return (
    <div className="job-progress" data-testid="job-progress" data-status={job.status} data-job-id={job.jobId}>
      <JobHead job={job} label={label ?? job.kind} statusTestId="job-status" />
      <div className="job-progress-stats">
        {RATE_KEYS.map(([key, unit]) =>
          typeof job.stats[key] === 'number' ? (
            <span key={key} className="num" data-testid={`job-${key}`}>
              {fmtNum(job.stats[key] as number, 3)} {unit}
            </span>
          ) : null,
        )}
        {typeof job.stats.tokensLeft === 'number' && job.status === 'running' && (
          <span className="num" data-testid="job-tokensLeft">
            {fmtCount(job.stats.tokensLeft)} tokens left
          </span>
        )}
        {job.status === 'running' && (
          <span
            className="num"
            data-testid="job-eta"
            title={typeof job.stats.tokensLeft === 'number' ? 'Time left = tokens left ÷ tokens/s so far: rows go shortest first, so examples/s would promise too much' : undefined}
          >
            ETA {fmtEta(job.etaSeconds)}
          </span>
        )}
        {job.message && <span className="muted job-message">{job.message}</span>}
      </div>
      {job.error && <ErrorText error={job.error} testId="job-error" />}
    </div>
  );
}
