/**
 * The first screen's steps, from a dataset to an exported bundle, and which of them the project has done. A step is
 * done only when the steps it needs are: a training run kept from a deleted dataset, or made on another dataset than
 * the one in use, is earlier work, not this dataset's step done.
 */
import type { ProjectProgress } from '../../../../preload/contract';
import { plural } from '../../components/format';

export interface HomeStep {
  id: 'import' | 'model' | 'score' | 'subset' | 'train' | 'export';
  /** the screen it opens */
  screen: string;
  title: string;
  what: string;
  done: (p: ProjectProgress) => boolean;
  /** the steps whose results this one works on */
  needs: Array<HomeStep['id']>;
  /** what is there once done */
  have: (p: ProjectProgress) => string;
}

export const HOME_STEPS: HomeStep[] = [
  {
    id: 'import',
    needs: [],
    screen: 'data',
    title: 'Import a dataset',
    what: 'A JSONL, JSON, CSV, TSV, Parquet or text file of prompts and answers or chats. You check how each row maps before anything is written.',
    done: (p) => p.datasets > 0,
    have: (p) => plural(p.datasets, 'dataset'),
  },
  {
    id: 'model',
    needs: [],
    screen: 'data',
    title: 'Add a model',
    what: 'The model you will fine-tune: a Hugging Face folder (safetensors and tokenizer.json). A tiny one comes with Winnow to try things out.',
    done: (p) => p.models > 0,
    have: (p) => plural(p.models, 'model'),
  },
  {
    id: 'score',
    needs: ['import', 'model'],
    screen: 'score',
    title: 'Score the examples',
    what: 'Run the model over the dataset: per-token loss, difficulty (IFD), embeddings for the map, and more. The Examples table and the Map show the results.',
    done: (p) => p.scoreRuns > 0,
    have: (p) => plural(p.scoreRuns, 'scoring run'),
  },
  {
    id: 'subset',
    needs: ['score'],
    screen: 'subsets',
    title: 'Make a subset',
    what: 'Keep the examples worth training on: the top k% by a score, a random sample, a few per cluster, or rows picked on the Map.',
    done: (p) => p.subsets > 0,
    have: (p) => plural(p.subsets, 'subset'),
  },
  {
    id: 'train',
    needs: ['subset'],
    screen: 'train',
    title: 'Train',
    what: 'Fine-tune on the subset, only the layers you choose, and watch the loss. Optional: a short run shows whether the subset helps.',
    done: (p) => p.trainRuns > 0,
    have: (p) => plural(p.trainRuns, 'finished run'),
  },
  {
    id: 'export',
    needs: ['subset'],
    screen: 'export',
    title: 'Export',
    what: 'Write a bundle for your own trainer: the chosen rows, their token masks and the layer mask, with a manifest.',
    done: (p) => p.exports > 0,
    have: (p) => plural(p.exports, 'bundle'),
  },
];

/** The steps done: each has its result and every step it needs is done, in order. */
export function stepsDone(p: ProjectProgress): Set<HomeStep['id']> {
  const done = new Set<HomeStep['id']>();
  for (const s of HOME_STEPS) if (s.done(p) && s.needs.every((n) => done.has(n))) done.add(s.id);
  return done;
}
