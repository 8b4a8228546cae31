/**
 * Rename and Delete for one thing the project holds (a dataset, model, subset, run or mask), wherever it is listed.
 * Delete first asks the engine what depends on it (items.dependents) and shows that list — what goes with it, what
 * stays but refers to it — and deletes only when the user confirms that very list (the engine refuses if it changed).
 */
import { useState } from 'react';
import type { ApiError, DependencyLine, DependencyReport, ItemKind } from '../../../preload/contract';
import { useApp } from '../api/hooks';
import { ErrorText } from './ErrorText';

const KIND_WORDS: Record<ItemKind, string> = {
  dataset: 'dataset',
  subset: 'subset',
  model: 'model',
  score_run: 'score run',
  train_run: 'train run',
  layer_mask: 'layer mask',
  param_mask: 'parameter mask',
  token_mask: 'token mask',
};

export function ItemActions(props: {
  kind: ItemKind;
  /** the id (every kind but token masks, which are named) */
  id?: number;
  name: string;
  /** false: runs, which are numbered rather than named */
  renamable?: boolean;
  deletable?: boolean;
  /** after a rename or a delete (reload the list) */
  onChanged: () => void;
  /** after a delete only (e.g. the Subsets screen's undo stack) */
  onDeleted?: () => void;
}) {
  const { kind, id, name, renamable = true, deletable = true, onChanged, onDeleted } = props;
  const { client, reloadProject } = useApp();
  const [renaming, setRenaming] = useState<string | null>(null);
  const [report, setReport] = useState<DependencyReport | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const ref = kind === 'token_mask' ? { kind, name } : { kind, id };
  const words = KIND_WORDS[kind];

  const done = () => {
    if (kind === 'dataset' || kind === 'model') reloadProject();
    onChanged();
  };

  const rename = async () => {
    if (renaming === null) return;
    setBusy(true);
    const r = await client.call('items.rename', { ...ref, newName: renaming.trim() });
    setBusy(false);
    setError(r.ok ? null : r.error);
    if (r.ok) {
      setRenaming(null);
      done();
    }
  };

  const ask = async () => {
    setBusy(true);
    const r = await client.call('items.dependents', ref);
    setBusy(false);
    setError(r.ok ? null : r.error);
    setReport(r.ok ? r.value : null);
  };

  const confirm = async () => {
    if (!report) return;
    setBusy(true);
    const r = await client.call('items.delete', { ...ref, token: report.token });
    setBusy(false);
    if (r.ok) {
      setReport(null);
      setError(null);
      onDeleted?.();
      done();
    } else {
      setError(r.error);
      // the list may have changed: show the current one
      const again = await client.call('items.dependents', ref);
      setReport(again.ok ? again.value : null);
    }
  };

  return (
    <span className="item-actions" data-testid="item-actions" data-kind={kind}>
      {renaming === null ? (
        <>
          {renamable && (
            <button className="btn btn-small" data-testid="item-rename" title={`Rename this ${words}`} onClick={() => { setRenaming(name); setError(null); }}>
              Rename
            </button>
          )}
          {deletable && (
            <button className="btn btn-small btn-danger" data-testid="item-delete" title={`Delete this ${words}: you see what depends on it first`} disabled={busy} onClick={() => void ask()}>
              Delete
            </button>
          )}
        </>
      ) : (
        <span className="item-rename-form">
          <input
            data-testid="item-rename-input"
            aria-label={`New name for ${words} ${name}`}
            value={renaming}
            autoFocus
            onChange={(e) => setRenaming(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') void rename();
              if (e.key === 'Escape') setRenaming(null);
            }}
          />
          <button className="btn btn-small btn-primary" data-testid="item-rename-save" disabled={busy || !renaming.trim()} onClick={() => void rename()}>
            Save
          </button>
          <button className="btn btn-small btn-ghost" data-testid="item-rename-cancel" onClick={() => { setRenaming(null); setError(null); }}>
            Cancel
          </button>
        </span>
      )}
      {report && <div className="dialog-backdrop" data-testid="dependency-backdrop" onClick={() => setReport(null)} />}
      {report && <DependencyDialog report={report} words={words} busy={busy} onConfirm={() => void confirm()} onCancel={() => setReport(null)} />}
      <ErrorText error={error} testId="item-error" />
    </span>
  );
}

/** One part of the report: a kind of thing and the names of those it lists. */
function DependencyList({ lines, testId }: { lines: DependencyLine[]; testId: string }) {
  return (
    <ul data-testid={testId}>
      {lines.map((l) => (
        <li key={l.what}>
          <strong>{l.what}</strong>: {l.names.join('; ')}
        </li>
      ))}
    </ul>
  );
}

/** What a delete takes with it and what stays but refers to it; Delete confirms this very list. */
function DependencyDialog({ report, words, busy, onConfirm, onCancel }: {
  report: DependencyReport;
  words: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <div className="dependency-dialog" role="dialog" aria-label={`Delete ${words} ${report.name}?`} data-testid="dependency-dialog">
      <h3>
        Delete {words} “{report.name}”?
      </h3>
      <p>This deletes, in one step:</p>
      <DependencyList lines={report.deletes} testId="dependency-deletes" />
      {report.keeps.length > 0 && (
        <>
          <p>These stay, but refer to it:</p>
          <DependencyList lines={report.keeps} testId="dependency-keeps" />
        </>
      )}
      <p className="muted" data-testid="dependency-note">Nothing else changes. Files on disk (model folders, checkpoints, exported bundles) are never deleted.</p>
      {report.blockedBy && (
        <p className="warn-text" data-testid="dependency-blocked">
          Not now: {report.blockedBy}.
        </p>
      )}
      <div className="form-row dependency-actions">
        <button className="btn btn-primary btn-danger-fill" data-testid="dependency-confirm" disabled={busy || !!report.blockedBy} onClick={onConfirm}>
          Delete
        </button>
        <button className="btn" data-testid="dependency-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
