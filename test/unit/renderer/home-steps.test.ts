/**
 * The first screen's steps: checked only when the steps they need are. A training run kept after its dataset was
 * deleted (or made on another dataset) is earlier work, not a tick under an unchecked "Import a dataset".
 */
import { describe, expect, it } from 'vitest';
import { stepsDone } from '../../../renderer/src/features/home/steps';

const empty = { datasets: 0, models: 0, scoreRuns: 0, subsets: 0, trainRuns: 0, exports: 0 };
const done = (p: Partial<typeof empty>) => [...stepsDone({ ...empty, ...p })];

describe('stepsDone', () => {
  it('ticks a model added before any dataset: the two setup steps need nothing', () => {
    expect(done({ models: 1 })).toEqual(['model']);
    expect(done({ datasets: 1, models: 1 })).toEqual(['import', 'model']);
  });

  it('ticks every step of a project that went all the way, training optional before export', () => {
    expect(done({ datasets: 1, models: 1, scoreRuns: 1, subsets: 1, trainRuns: 1, exports: 1 })).toEqual(['import', 'model', 'score', 'subset', 'train', 'export']);
    expect(done({ datasets: 1, models: 1, scoreRuns: 1, subsets: 1, exports: 1 })).toEqual(['import', 'model', 'score', 'subset', 'export']);
  });

  it('does not tick a kept run or bundle once the data they stood on is gone or is another dataset', () => {
    expect(done({ models: 1, trainRuns: 1, exports: 1 })).toEqual(['model']);
    expect(done({ datasets: 2, models: 1, trainRuns: 1, exports: 1 })).toEqual(['import', 'model']);
    expect(done({ datasets: 1, scoreRuns: 1, subsets: 1 })).toEqual(['import']);
  });
});
