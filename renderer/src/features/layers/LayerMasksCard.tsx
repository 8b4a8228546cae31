/** The Layers screen's named layer masks: save the grid's choice under a name, load one back, train with one. */
import { useState } from 'react';
import type { ApiError, LayerMaskInfo } from '../../../../preload/contract';
import { type CallState, useApp } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { TextField } from '../../components/Field';
import { ItemActions } from '../../components/ItemActions';

const NOTHING_CHOSEN = 'No tensor chosen yet: pick a preset or click cells in the grid';

export function LayerMasksCard({ modelId, spec, masks, trainWith, onLoad }: {
  modelId: number | null;
  /** the grid's choice as a layer spec (null: nothing chosen) */
  spec: string | null;
  masks: CallState<LayerMaskInfo[]>;
  trainWith: (spec: string) => void;
  /** put a saved mask's tensors in the grid; `preset`: the spec it was made from, when that can stand for it */
  onLoad: (tensors: string[], preset: string | null) => void;
}) {
  const { client } = useApp();
  const [maskName, setMaskName] = useState('');
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [savedName, setSavedName] = useState<string | null>(null);
  const save = async () => {
    if (modelId === null || !spec) return;
    const r = await client.call('layerMasks.save', { name: maskName.trim(), modelId, layers: spec });
    setSaveError(r.ok ? null : r.error);
    if (r.ok) {
      setSavedName(r.value.name);
      setMaskName('');
      masks.reload();
    }
  };

  return (
    <section className="card">
      <h2>Layer masks</h2>
      <div className="form-row">
        <TextField label="Name" testId="layer-mask-name" width="grow" value={maskName} placeholder="last-2-attention" onChange={setMaskName} />
        <button
          className="btn"
          data-testid="layer-mask-save"
          disabled={!spec || !maskName.trim()}
          title={!spec ? NOTHING_CHOSEN : !maskName.trim() ? 'Give the mask a name first' : undefined}
          onClick={() => void save()}
        >
          Save mask
        </button>
        <button className="btn btn-primary" data-testid="layers-train" disabled={!spec} title={spec ? undefined : NOTHING_CHOSEN} onClick={() => spec && trainWith(spec)}>
          Train with this mask →
        </button>
      </div>
      <ErrorText error={saveError} testId="layer-mask-error" />
      {savedName && (
        <div className="ok-text" data-testid="layer-mask-saved">
          Saved “{savedName}”.
        </div>
      )}
      {masks.data && masks.data.length === 0 && <div className="muted">No saved masks for this model yet.</div>}
      {masks.data && masks.data.length > 0 && (
        <table className="simple-table" data-testid="layer-masks">
          <thead>
            <tr>
              <th>Name</th>
              <th className="num">Tensors</th>
              <th>Made from</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {masks.data.map((m) => {
              const from = typeof m.provenance.spec === 'string' ? m.provenance.spec : '';
              return (
                <tr key={m.id} data-testid="layer-mask-row" data-name={m.name}>
                  <td>{m.name}</td>
                  <td className="num">{m.tensors.length}</td>
                  <td className="ellipsis spec-cell">
                    <code title={from}>{from}</code>
                  </td>
                  <td className="actions">
                    <button className="btn btn-small" data-testid="layer-mask-load" onClick={() => onLoad(m.tensors, from && !from.startsWith('names:') ? from : null)}>
                      Load
                    </button>
                    <button className="btn btn-small" data-testid="layer-mask-train" onClick={() => trainWith(from || `names:${m.tensors.join(',')}`)}>
                      Train with
                    </button>
                    <ItemActions kind="layer_mask" id={m.id} name={m.name} onChanged={masks.reload} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
