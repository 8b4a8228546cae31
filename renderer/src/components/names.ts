/** The rows a run or export used, by name ("“top-10%” of gsm8k-50.jsonl", "all rows of gsm8k-50.jsonl"), never "subset #1". */
import type { DatasetInfo, SubsetInfo } from '../../../preload/contract';

export function rowsLabel(
  scope: { subsetId?: number | null; datasetId?: number | null },
  subsets: SubsetInfo[] | null | undefined,
  datasets: DatasetInfo[] | null | undefined,
): string {
  const dataset = scope.datasetId != null ? datasets?.find((d) => d.id === scope.datasetId) : undefined;
  // a run keeps its rows' names after they are deleted: say so rather than read as "all rows" of nothing
  const gone = !dataset && scope.datasetId != null && !!datasets;
  const of = dataset ? ` of ${dataset.name}` : gone ? ' of a deleted dataset' : '';
  if (scope.subsetId != null) {
    const subset = subsets?.find((s) => s.id === scope.subsetId);
    return subset ? `“${subset.name}”${of}` : `a deleted subset${of}`;
  }
  return dataset || gone ? `all rows${of}` : 'all rows';
}
