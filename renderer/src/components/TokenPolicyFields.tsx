/**
 * The token-policy fields (the contract's TokenPolicySchema): which tokens a training run or a parameter mask's
 * gradient pass counts. One component for every screen that asks, so the choices, their captions and how they become
 * a call's input stay the same everywhere.
 */
import { useState } from 'react';
import { TOKEN_SIGNALS, TokenPolicyOverrideSchema, type TokenPolicy, type TokenPolicyOverride } from '../../../preload/contract';
import { SelectField, TextField } from './Field';

type Policy = TokenPolicy['tokenPolicy'];

const POLICY_CAPTIONS: ReadonlyArray<readonly [Policy, string]> = [
  ['response', 'response only'],
  ['top_percent', 'top k% of response by a signal'],
  ['critical', 'critical tokens (CFT; needs a critical run)'],
  ['all', 'all tokens'],
];
// every token signal (METHODS.md), from the contract's one list; the policy ranks response tokens by any of them
const TOKEN_SIGNAL_OPTIONS = TOKEN_SIGNALS.map((s) => [s, s] as const);
const TOKEN_SCOPES = [
  ['example', 'per example'],
  ['global', 'global'],
] as const;

/** What the fields hold: the percent as typed, and whether hand-edited masks (saved as "edited") apply. */
export interface TokenPolicyState {
  tokenPolicy: Policy;
  tokenSignal: string;
  tokenPercent: string;
  tokenScope: TokenPolicy['tokenScope'];
  useEdited: boolean;
}

/** The fields' state, starting from the schema's defaults. */
export function useTokenPolicy(): [TokenPolicyState, (patch: Partial<TokenPolicyState>) => void] {
  const [state, setState] = useState<TokenPolicyState>({ tokenPolicy: 'response', tokenSignal: 'excess_loss', tokenPercent: '60', tokenScope: 'example', useEdited: true });
  return [state, (patch) => setState((s) => ({ ...s, ...patch }))];
}

/**
 * The call's token-policy fields: the signal, percent and scope only for top_percent, and the hand-edited masks
 * (saved as "edited", they replace the template mask where they exist) unless every token counts.
 */
export function tokenPolicyInput(s: TokenPolicyState): TokenPolicyOverride {
  const pct = s.tokenPercent.trim() === '' ? Number.NaN : Number(s.tokenPercent);
  return {
    tokenPolicy: s.tokenPolicy,
    ...(s.tokenPolicy === 'top_percent' ? { tokenSignal: s.tokenSignal, tokenPercent: pct, tokenScope: s.tokenScope } : {}),
    ...(s.tokenPolicy !== 'all' && s.useEdited ? { tokenMaskName: 'edited' } : {}),
  };
}

/** The token-policy fields of a stored config (a training run's), e.g. to export token masks as that run trained on them. */
export function tokenPolicyOf(config: TokenPolicyOverride): TokenPolicyOverride {
  const keys = Object.keys(TokenPolicyOverrideSchema.shape) as Array<keyof TokenPolicyOverride>;
  return Object.fromEntries(keys.map((k) => [k, config[k]])) as TokenPolicyOverride;
}

/**
 * `testIdPrefix` names each field (`<prefix>-token-policy`, `-token-signal`, `-token-percent`, `-token-scope`,
 * `-use-edited`); `policies` limits the choices (a parameter mask's pass offers response and all); without
 * `editedToggle` hand-edited masks always apply.
 */
export function TokenPolicyFields({ label, testIdPrefix, value, onChange, policies, editedToggle = false }: {
  label: string;
  testIdPrefix: string;
  value: TokenPolicyState;
  onChange: (patch: Partial<TokenPolicyState>) => void;
  policies?: readonly Policy[];
  editedToggle?: boolean;
}) {
  const options = policies ? POLICY_CAPTIONS.filter(([p]) => policies.includes(p)) : POLICY_CAPTIONS;
  return (
    <>
      <SelectField label={label} testId={`${testIdPrefix}-token-policy`} value={value.tokenPolicy} onChange={(tokenPolicy) => onChange({ tokenPolicy })} options={options} />
      {value.tokenPolicy === 'top_percent' && (
        <>
          <SelectField label="Token signal" testId={`${testIdPrefix}-token-signal`} value={value.tokenSignal} onChange={(tokenSignal) => onChange({ tokenSignal })} options={TOKEN_SIGNAL_OPTIONS} />
          <TextField label="Keep %" testId={`${testIdPrefix}-token-percent`} inputMode="decimal" value={value.tokenPercent} onChange={(tokenPercent) => onChange({ tokenPercent })} />
          <SelectField label="Threshold" testId={`${testIdPrefix}-token-scope`} value={value.tokenScope} onChange={(tokenScope) => onChange({ tokenScope })} options={TOKEN_SCOPES} />
        </>
      )}
      {editedToggle && value.tokenPolicy !== 'all' && (
        <label className="check">
          <input type="checkbox" data-testid={`${testIdPrefix}-use-edited`} checked={value.useEdited} onChange={(e) => onChange({ useEdited: e.target.checked })} />
          use hand-edited masks where saved
        </label>
      )}
    </>
  );
}
