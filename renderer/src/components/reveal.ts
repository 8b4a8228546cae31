/**
 * Scrolls a job's result or progress card into view when the job finishes (done, failed or cancelled): the card sits
 * below the form that started it, often below the fold, and a screen that changed out of sight looks unchanged.
 */
import { useEffect, useRef } from 'react';
import { useJob } from '../api/hooks';

const FINISHED = new Set(['done', 'failed', 'cancelled']);

/**
 * A ref for the card; `jobId` is the job started from this screen (null: none, so a job found on opening the screen
 * never scrolls it). Once per job: it fires on the first render that sees the job finished.
 */
export function useRevealWhenFinished<T extends HTMLElement = HTMLElement>(jobId: string | null | undefined) {
  const ref = useRef<T>(null);
  const job = useJob(jobId);
  const finished = job && FINISHED.has(job.status) ? job.jobId : null;
  useEffect(() => {
    // 'nearest': the least scrolling that shows it, and none when it is already on screen
    if (finished) ref.current?.scrollIntoView({ block: 'nearest' });
  }, [finished]);
  return ref;
}
