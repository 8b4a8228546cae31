/** "Dataset: gsm8k-50.jsonl · 50 rows" next to a screen's title: the dataset it acts on, chosen in the top bar. */
import { useApp } from '../api/hooks';
import { plural } from './format';

export function CurrentDataset() {
  const { project, datasetId } = useApp();
  const d = project?.datasets.find((x) => x.id === datasetId);
  if (!d) return null;
  return (
    <span className="screen-dataset" data-testid="screen-dataset" data-dataset-id={d.id} title="Change it with Dataset in the top bar">
      <span className="muted">Dataset</span> <b>{d.name}</b> <span className="muted">· {plural(d.rowCount, 'row')}</span>
    </span>
  );
}
