/**
 * What a job worked on, in names a user reads ("subset “top-10%” of gsm8k-50.jsonl", "gsm8k-50.jsonl", "all
 * datasets"): job messages name their data, never "subset #1".
 */
import type { Db } from './open';
import { datasetsOfSubset } from './score-rows';

export function datasetLabel(db: Db, id: number): string {
  const name = db.prepare('SELECT name FROM datasets WHERE id = ?').pluck().get(id) as string | undefined;
  return name ?? `dataset ${id} (deleted)`;
}

export function scopeLabel(db: Db, scope: { subsetId?: number | null; datasetId?: number | null }): string {
  if (scope.subsetId !== undefined && scope.subsetId !== null) {
    const name = db.prepare('SELECT name FROM subsets WHERE id = ?').pluck().get(scope.subsetId) as string | undefined;
    if (name === undefined) return `subset ${scope.subsetId} (deleted)`;
    const datasets = datasetsOfSubset(db, scope.subsetId);
    return datasets.length === 1 ? `subset “${name}” of ${datasetLabel(db, datasets[0]!)}` : `subset “${name}”`;
  }
  if (scope.datasetId !== undefined && scope.datasetId !== null) return datasetLabel(db, scope.datasetId);
  return 'all datasets';
}
