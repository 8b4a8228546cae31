/**
 * The first screen: what Winnow does, and the steps from a dataset to an exported bundle, each one click from its
 * screen and checked once the project holds its result (`project.progress`, re-asked whenever a job finishes).
 */
import type { ProjectProgress } from '../../../../preload/contract';
import { useApp, useCall, useEngineEvent } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { plural } from '../../components/format';

export interface HomeStep {
  id: 'import' | 'model' | 'score' | 'subset' | 'train' | 'export';
  /** the screen it opens */
  screen: string;
  title: string;
  what: string;
  done: (p: ProjectProgress) => boolean;
  /** what is there once done */
  have: (p: ProjectProgress) => string;
}

export const HOME_STEPS: HomeStep[] = [
  {
    id: 'import',
    screen: 'data',
    title: 'Import a dataset',
    what: 'A JSONL, JSON, CSV, TSV, Parquet or text file of prompts and answers or chats. You check how each row maps before anything is written.',
    done: (p) => p.datasets > 0,
    have: (p) => plural(p.datasets, 'dataset'),
  },
  {
    id: 'model',
    screen: 'data',
    title: 'Add a model',
    what: 'The model you will fine-tune: a Hugging Face folder (safetensors and tokenizer.json). A tiny one comes with Winnow to try things out.',
    done: (p) => p.models > 0,
    have: (p) => plural(p.models, 'model'),
  },
  {
    id: 'score',
    screen: 'score',
    title: 'Score the examples',
    what: 'Run the model over the dataset: per-token loss, difficulty (IFD), embeddings for the map, and more. The Examples table and the Map show the results.',
    done: (p) => p.scoreRuns > 0,
    have: (p) => plural(p.scoreRuns, 'scoring run'),
  },
  {
    id: 'subset',
    screen: 'subsets',
    title: 'Make a subset',
    what: 'Keep the examples worth training on: the top k% by a score, a random sample, a few per cluster, or rows picked on the Map.',
    done: (p) => p.subsets > 0,
    have: (p) => plural(p.subsets, 'subset'),
  },
  {
    id: 'train',
    screen: 'train',
    title: 'Train',
    what: 'Fine-tune on the subset, only the layers you choose, and watch the loss. Optional: a short run shows whether the subset helps.',
    done: (p) => p.trainRuns > 0,
    have: (p) => plural(p.trainRuns, 'finished run'),
  },
  {
    id: 'export',
    screen: 'export',
    title: 'Export',
    what: 'Write a bundle for your own trainer: the chosen rows, their token masks and the layer mask, with a manifest.',
    done: (p) => p.exports > 0,
    have: (p) => plural(p.exports, 'bundle'),
  },
];

export function HomeScreen() {
  const { project, datasetId } = useApp();
  const progress = useCall('project.progress', project ? (datasetId === null ? {} : { datasetId }) : null);
  // a job that finished may have done a step
  useEngineEvent((e) => {
    if (e.type === 'job' && e.job.status === 'done') progress.reload();
  });
  const dataset = project?.datasets.find((d) => d.id === datasetId);
  const p = progress.data;
  const next = p ? HOME_STEPS.find((s) => !s.done(p)) : undefined;
  return (
    <div className="screen screen-home" data-testid="screen-home">
      <h1>Winnow</h1>
      <p className="home-lede">
        Winnow helps you decide what to fine-tune on before anyone tunes: which <b>examples</b> to keep, which{' '}
        <b>tokens</b> to learn from and which <b>layers</b> to train. It scores a dataset with the model you will tune, lets
        you pick a subset, tries it in a short training run, and exports the choice for your own trainer. Everything runs on
        this machine.
      </p>
      <ErrorText error={progress.error} testId="home-error" />
      <section className="card">
        <h2>First steps</h2>
        {dataset && (
          <p className="muted home-dataset">
            Working on <b>{dataset.name}</b> ({plural(dataset.rowCount, 'row')}); change it with Dataset in the top bar.
          </p>
        )}
        <ol className="home-steps" data-testid="home-steps" data-loading={p ? 'false' : 'true'}>
          {HOME_STEPS.map((s, i) => {
            const done = p ? s.done(p) : false;
            const isNext = next?.id === s.id;
            return (
              <li
                key={s.id}
                className={`home-step${done ? ' done' : ''}${isNext ? ' next' : ''}`}
                data-testid={`home-step-${s.id}`}
                data-done={done}
                data-next={isNext}
              >
                <span className="home-check" aria-label={done ? 'done' : 'not done yet'}>
                  {done ? '✓' : i + 1}
                </span>
                <div className="home-step-body">
                  <a href={`#/${s.screen}`} className="home-step-title" data-testid={`home-go-${s.id}`}>
                    {s.title}
                  </a>
                  {isNext && <span className="pill home-next">next</span>}
                  {done && p && <span className="muted home-have"> · {s.have(p)}</span>}
                  <div className="muted home-what">{s.what}</div>
                </div>
              </li>
            );
          })}
        </ol>
        {p && !next && <p data-testid="home-all-done">All steps done. Open the exported folder with your trainer, or go round again with another subset.</p>}
      </section>
    </div>
  );
}
