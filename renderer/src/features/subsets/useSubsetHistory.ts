/**
 * Undo/redo of subset create/delete as a client-side stack of inverse operations: a delete is undone by recreating
 * the subset from its stored rule (same name), a create by deleting it. Ids change when a subset is recreated, so
 * combine rules that name an old id are mapped to the new one.
 */
import { useCallback, useRef, useState } from 'react';
import type { ApiError, Job, Result, SubsetInfo, SubsetRule } from '../../../../preload/contract';
import { type JobsStore, useApp } from '../../api/hooks';

/** Resolves when a job ends (done, failed or cancelled), from the live job table. */
function jobEnded(jobs: JobsStore, jobId: string): Promise<Job> {
  return new Promise((resolve) => {
    const check = () => {
      const j = jobs.get(jobId);
      if (j && (j.status === 'done' || j.status === 'failed' || j.status === 'cancelled')) {
        unsubscribe();
        resolve(j);
        return true;
      }
      return false;
    };
    const unsubscribe = jobs.subscribe(() => void check());
    check();
  });
}

interface Op {
  kind: 'create' | 'delete';
  name: string;
  rule: SubsetRule;
  datasetId?: number;
  /** id the subset had when the op happened */
  id: number;
}

export function opOf(kind: Op['kind'], s: SubsetInfo): Op {
  const stored = s.rule as SubsetRule & { datasetId?: number };
  return { kind, name: s.name, rule: s.rule, datasetId: stored.datasetId, id: s.id };
}

export function useSubsetHistory(onChange: () => void) {
  const { client, jobs } = useApp();
  const [done, setDone] = useState<Op[]>([]);
  const [undone, setUndone] = useState<Op[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const ids = useRef(new Map<number, number>());
  const current = (id: number) => {
    // SQLite may hand a recreated subset its old id again: follow the chain, never around a loop
    let x = id;
    const seen = new Set<number>([x]);
    while (ids.current.has(x) && !seen.has(ids.current.get(x)!)) {
      x = ids.current.get(x)!;
      seen.add(x);
    }
    return x;
  };

  const recreate = async (op: Op): Promise<boolean> => {
    let rule: SubsetRule = op.rule;
    if (rule.kind === 'combine') rule = { ...rule, subsetIds: rule.subsetIds.map(current) };
    if (rule.kind === 'kcenter' && rule.subsetId !== undefined) rule = { ...rule, subsetId: current(rule.subsetId) };
    let r: Result<{ id: number }>;
    if (rule.kind === 'kcenter') {
      // slow on many rows: as a job, like the first time
      const started = await client.call('subsets.start', { name: op.name, rule, datasetId: op.datasetId });
      if (!started.ok) r = started;
      else {
        const job = await jobEnded(jobs, started.value.jobId);
        r = job.status === 'done' ? { ok: true, value: { id: Number(job.stats.subsetId) } } : { ok: false, error: job.error ?? { code: 'cancelled', message: `recreating “${op.name}” was ${job.status}` } };
      }
    } else r = await client.call('subsets.create', { name: op.name, rule, datasetId: op.datasetId });
    if (!r.ok) {
      setError(r.error);
      return false;
    }
    const was = current(op.id);
    if (was !== r.value.id) ids.current.set(was, r.value.id);
    return true;
  };
  const remove = async (op: Op): Promise<boolean> => {
    const r = await client.call('subsets.delete', { subsetId: current(op.id) });
    if (!r.ok) setError(r.error);
    return r.ok;
  };

  const record = useCallback((op: Op) => {
    setDone((d) => [...d, op]);
    setUndone([]);
    setError(null);
  }, []);

  const undo = async () => {
    const op = done[done.length - 1];
    if (!op) return;
    const ok = op.kind === 'create' ? await remove(op) : await recreate(op);
    if (ok) {
      setError(null);
      setDone((d) => d.slice(0, -1));
      setUndone((u) => [...u, op]);
    }
    onChange();
  };
  const redo = async () => {
    const op = undone[undone.length - 1];
    if (!op) return;
    const ok = op.kind === 'create' ? await recreate(op) : await remove(op);
    if (ok) {
      setError(null);
      setUndone((u) => u.slice(0, -1));
      setDone((d) => [...d, op]);
    }
    onChange();
  };
  const describe = (op: Op | undefined) => (op ? `${op.kind} “${op.name}”` : '');
  return {
    record,
    undo,
    redo,
    canUndo: done.length > 0,
    canRedo: undone.length > 0,
    undoLabel: describe(done[done.length - 1]),
    redoLabel: describe(undone[undone.length - 1]),
    undoCount: done.length,
    redoCount: undone.length,
    error,
  };
}
