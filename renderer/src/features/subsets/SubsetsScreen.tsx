/**
 * Subsets: create one from a rule (top-k, top-k%, threshold, random, IFD's drop-then-top, n or n% per K-means cluster,
 * k-center diversity, S2L over a run's loss trajectories, UDS over a model's logits), combine existing ones (union, intersection, difference), list them with size and rule,
 * delete; undo/redo of create and delete. k-center and UDS run as a job with progress and cancel. A stale subset (its dataset
 * was re-mapped) can be recreated in place from its stored rule; that is not on the undo stack (its old rows are gone).
 */
import { useEffect, useState } from 'react';
import type { SubsetInfo } from '../../../../preload/contract';
import { useApp, useCall } from '../../api/hooks';
import { EmptyState } from '../../components/EmptyState';
import { ErrorText } from '../../components/ErrorText';
import { opOf, useSubsetHistory } from './useSubsetHistory';
import { CurrentDataset } from '../../components/CurrentDataset';
import { NewSubsetCard } from './NewSubsetCard';
import { CombinePanel, SubsetsTable } from './SubsetsTable';

export { describeRule } from './rules';

/** Ctrl+Z / Ctrl+Shift+Z (⌘ on a Mac) undo and redo, except while typing in a field. */
function useUndoKeys(history: ReturnType<typeof useSubsetHistory>): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return;
      if (!(e.ctrlKey || e.metaKey) || e.key.toLowerCase() !== 'z') return;
      e.preventDefault();
      void (e.shiftKey ? history.redo() : history.undo());
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });
}

function UndoRedoButtons({ history }: { history: ReturnType<typeof useSubsetHistory> }) {
  return (
    <>
      <button
        className="btn btn-small"
        data-testid="subset-undo"
        data-count={history.undoCount}
        disabled={!history.canUndo}
        title={history.canUndo ? `Undo ${history.undoLabel} (Ctrl+Z)` : 'Nothing to undo'}
        onClick={() => void history.undo()}
      >
        ↶ Undo{history.canUndo ? ` ${history.undoLabel}` : ''}
      </button>
      <button
        className="btn btn-small"
        data-testid="subset-redo"
        data-count={history.redoCount}
        disabled={!history.canRedo}
        title={history.canRedo ? `Redo ${history.redoLabel} (Ctrl+Shift+Z)` : 'Nothing to redo'}
        onClick={() => void history.redo()}
      >
        ↷ Redo{history.canRedo ? ` ${history.redoLabel}` : ''}
      </button>
    </>
  );
}

/** What to do first when there are no subsets: import, or make one with a rule above. */
function NoSubsets({ noDatasets }: { noDatasets: boolean }) {
  return (
    <EmptyState title="No subsets yet" testId="subsets-empty">
      {noDatasets ? (
        <>
          Import a dataset on the <a href="#/data">Data</a> screen, score it on <a href="#/score">Score</a>, then keep the rows you want
          with a rule above.
        </>
      ) : (
        <>
          Keep the rows you want with a rule above — e.g. the 500 with the highest <code>mean_loss</code> (score it on{' '}
          <a href="#/score?signals=mean_loss">Score</a>), a seeded random sample, or n per K-means cluster (run it on the <a href="#/map">Map</a>).
        </>
      )}
    </EmptyState>
  );
}

export function SubsetsScreen() {
  const { project } = useApp();
  const list = useCall('subsets.list', {});
  const [created, setCreated] = useState<SubsetInfo | null>(null);
  const history = useSubsetHistory(list.reload);
  const [picked, setPicked] = useState<number[]>([]);
  const livePicked = picked.filter((id) => list.data?.some((s) => s.id === id));
  useUndoKeys(history);

  // deleted after its dependency report (components/ItemActions.tsx): on the undo stack, recreated from its rule on undo
  const deleted = (subset: SubsetInfo) => {
    history.record(opOf('delete', subset));
    setPicked((p) => p.filter((id) => id !== subset.id));
  };
  const combined = (subset: SubsetInfo) => {
    setCreated(subset);
    setPicked([]);
    history.record(opOf('create', subset));
    list.reload();
  };

  return (
    <div className="screen" data-testid="screen-subsets">
      <div className="toolbar">
        <h1>Subsets</h1>
        <CurrentDataset />
        <span className="spacer" />
        <UndoRedoButtons history={history} />
      </div>
      <ErrorText error={history.error} testId="subset-history-error" />
      <NewSubsetCard list={list} history={history} created={created} setCreated={setCreated} />
      <section className="card">
        <h2>Subsets</h2>
        <ErrorText error={list.error} />
        {list.data && list.data.length === 0 && <NoSubsets noDatasets={!!project && project.datasets.length === 0} />}
        <SubsetsTable subsets={list.data} picked={livePicked} setPicked={setPicked} onChanged={list.reload} onDeleted={deleted} />
        <CombinePanel subsets={list.data} picked={livePicked} onCombined={combined} />
      </section>
    </div>
  );
}
