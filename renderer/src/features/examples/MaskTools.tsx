/**
 * Editing one example's label mask: click or drag across tokens to toggle them, or apply a token policy (keep the
 * top k% of response tokens by a token signal); save stores it as the named mask ("edited") of the render shown (its
 * render key), so it stays bound to these tokens whatever other jobs render.
 */
import { useEffect, useState } from 'react';
import type { ApiError, ExampleDetail } from '../../../../preload/contract';
import { useApp, useCall } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';

export const EDITED_MASK = 'edited';

export interface MaskEdit {
  /** 1 = trained on, per token */
  mask: number[];
  /** where the mask shown comes from */
  source: 'template' | 'edited';
  dirty: boolean;
  /** the mask shown holds toggles made by hand (unsaved, or saved without a policy): a policy would replace them */
  handEdited: boolean;
  /** the policy that made the current mask, if any (stored as provenance) */
  policy: string | null;
  set: (mask: number[], policy?: string | null) => void;
  toggle: (index: number, value: number) => void;
  save: () => Promise<void>;
  resetToTemplate: () => void;
  saving: boolean;
  error: ApiError | null;
  loading: boolean;
}

export function useMaskEdit(detail: ExampleDetail, modelId: number | null, onSaved?: () => void): MaskEdit {
  const { client } = useApp();
  const template = detail.tokens.map((t) => (t.label ? 1 : 0));
  const renderKeyId = detail.render.renderKeyId;
  const saved = useCall('tokenMasks.get', { exampleId: detail.id, modelId: modelId ?? undefined, name: EDITED_MASK, renderKeyId });
  const savedMask = saved.data && saved.data.exampleId === detail.id && saved.data.mask.length === template.length ? saved.data.mask : null;
  const [mask, setMask] = useState<number[] | null>(null);
  const [policy, setPolicy] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [savedNow, setSavedNow] = useState<number[] | null>(null);
  // the policy of the mask saved in this session (null: saved by hand)
  const [savedPolicy, setSavedPolicy] = useState<string | null>(null);
  useEffect(() => {
    setMask(null);
    setSavedNow(null);
    setPolicy(null);
    setSavedPolicy(null);
  }, [detail.id, renderKeyId]);
  const base = savedNow ?? savedMask;
  const current = mask ?? base ?? template;
  const reference = base ?? template;
  const dirty = mask !== null && mask.some((v, i) => v !== reference[i]);
  const baseByHand = savedNow ? savedPolicy === null : savedMask !== null && typeof saved.data?.provenance.policy !== 'string';
  const handEdited = dirty ? policy === null : base !== null && baseByHand;
  return {
    mask: current,
    source: base ? 'edited' : 'template',
    dirty,
    handEdited,
    policy,
    set: (m, p = null) => {
      setMask(m);
      setPolicy(p);
    },
    toggle: (index, value) => {
      // a toggle makes the mask a hand edit, whatever policy it started from
      setPolicy(null);
      setMask((prev) => {
        const next = [...(prev ?? current)];
        next[index] = value;
        return next;
      });
    },
    save: async () => {
      setSaving(true);
      const r = await client.call('tokenMasks.save', {
        exampleId: detail.id,
        modelId: modelId ?? undefined,
        name: EDITED_MASK,
        mask: current,
        renderKeyId,
        provenance: policy ? { policy } : { edit: 'by hand' },
      });
      setSaving(false);
      setError(r.ok ? null : r.error);
      if (r.ok) {
        setSavedNow(r.value.mask);
        setSavedPolicy(policy);
        setMask(null);
        onSaved?.();
      }
    },
    resetToTemplate: () => {
      setMask(template);
      setPolicy('template');
    },
    saving,
    error,
    loading: saved.loading,
  };
}

/** Keep the top `percent`% of the template's trainable tokens by `values` (per example); ties by position. */
export function topPercentPolicy(template: number[], values: Array<number | null>, percent: number): number[] {
  const candidates = template.map((m, i) => i).filter((i) => template[i] === 1 && values[i] !== null && values[i] !== undefined && Number.isFinite(values[i]!));
  const k = Math.round((percent / 100) * candidates.length);
  candidates.sort((a, b) => values[b]! - values[a]! || a - b);
  const out = template.map(() => 0);
  for (const i of candidates.slice(0, k)) out[i] = 1;
  return out;
}

export function MaskTools({ detail, edit, signals }: { detail: ExampleDetail; edit: MaskEdit; signals: string[] }) {
  const [percent, setPercent] = useState('50');
  const [signal, setSignal] = useState<string>('');
  const chosen = signals.includes(signal) ? signal : (signals[0] ?? '');
  const template = detail.tokens.map((t) => (t.label ? 1 : 0));
  const pct = Number(percent);
  const valid = Number.isFinite(pct) && pct > 0 && pct <= 100;
  // a policy replaces the whole mask: with hand edits in it, ask first (they would be lost without a word)
  const [confirming, setConfirming] = useState(false);
  const apply = () => {
    edit.set(topPercentPolicy(template, detail.tokenSignals[chosen] ?? [], pct), `top:${pct}%:${chosen}`);
    setConfirming(false);
  };
  return (
    <div className="mask-tools" data-testid="mask-tools" data-source={edit.source} data-dirty={edit.dirty}>
      <span className={`mask-source mask-source-${edit.source}`} data-testid="mask-source">
        {edit.source === 'edited' ? 'edited mask' : 'template mask'}
        {edit.dirty ? ' · unsaved changes' : ''}
      </span>
      <span className="muted hint">Click or drag across tokens to toggle them.</span>
      <span className="spacer" />
      {signals.length > 0 ? (
        <span className="policy">
          <span className="muted">Keep top</span>
          <input className="tiny" data-testid="policy-percent" inputMode="decimal" value={percent} onChange={(e) => setPercent(e.target.value)} aria-label="percent of response tokens" />
          <span className="muted">% of response tokens by</span>
          <select data-testid="policy-signal" value={chosen} onChange={(e) => setSignal(e.target.value)}>
            {signals.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          <button
            className="btn btn-small"
            data-testid="policy-apply"
            disabled={!valid || !chosen}
            onClick={() => (edit.handEdited ? setConfirming(true) : apply())}
          >
            Apply
          </button>
        </span>
      ) : (
        <span className="muted">Score token_loss to apply a token policy.</span>
      )}
      <button className="btn btn-small" data-testid="mask-reset" onClick={edit.resetToTemplate} title="Back to the chat template's mask (response tokens)">
        Template mask
      </button>
      <button className="btn btn-small btn-primary" data-testid="mask-save" disabled={!edit.dirty || edit.saving} onClick={() => void edit.save()}>
        {edit.saving ? 'Saving…' : 'Save mask'}
      </button>
      <ErrorText error={edit.error} testId="mask-error" />
      {confirming && (
        <div className="banner banner-warn policy-confirm" data-testid="policy-confirm" role="alertdialog" aria-label="Replace hand edits?">
          <span>
            This row’s mask has hand edits. Keeping the top {pct}% by {chosen} replaces them (the saved mask changes only when you save).
          </span>
          <button className="btn btn-small btn-primary" data-testid="policy-confirm-replace" onClick={apply}>
            Replace hand edits
          </button>
          <button className="btn btn-small" data-testid="policy-confirm-cancel" onClick={() => setConfirming(false)}>
            Keep them
          </button>
        </div>
      )}
    </div>
  );
}
