/**
 * The labelled form fields the screens share: a caption above a text input or a select (`.field`), in the widths of
 * screens.css. Numbers are typed as text and checked when the form is sent, so a half-typed value is never lost.
 */
import type { ModelInfo, SubsetInfo } from '../../../preload/contract';
import { StaleMark, staleTitle, subsetOptionText } from './StaleSubset';
import { plural } from './format';

type Width = 'narrow' | 'grow' | 'inline';

interface Common {
  label: string;
  testId: string;
  width?: Width;
  /** a hint shown on hover over the caption and the control */
  title?: string;
}

const fieldClass = (width?: Width) => (width ? `field ${width}` : 'field');

export function TextField({ label, testId, width, title, value, onChange, inputMode, placeholder }: Common & {
  value: string;
  onChange: (value: string) => void;
  inputMode?: 'numeric' | 'decimal';
  placeholder?: string;
}) {
  return (
    <label className={fieldClass(width)} title={title}>
      <span>{label}</span>
      <input data-testid={testId} inputMode={inputMode} value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

/** A select over fixed choices, given as [value, caption] pairs. */
export function SelectField<T extends string>({ label, testId, width, title, value, onChange, options }: Common & {
  value: T;
  onChange: (value: T) => void;
  options: ReadonlyArray<readonly [T, string]>;
}) {
  return (
    <label className={fieldClass(width)} title={title}>
      <span>{label}</span>
      <select data-testid={testId} value={value} onChange={(e) => onChange(e.target.value as T)}>
        {options.map(([v, caption]) => (
          <option key={v} value={v}>
            {caption}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * Which rows: every row of the dataset (null) or one subset, listed with its size (and "stale" when it is). A form
 * that needs a subset names its empty choice otherwise (`emptyLabel`, e.g. "choose a subset…").
 */
export function SubsetField({ testId, value, onChange, subsets, label = 'Rows', emptyLabel = 'All rows of the dataset' }: {
  testId: string;
  value: number | null;
  onChange: (subsetId: number | null) => void;
  subsets: SubsetInfo[] | null | undefined;
  label?: string;
  emptyLabel?: string;
}) {
  const picked = subsets?.find((s) => s.id === value);
  return (
    <label className="field">
      <span>
        {label} <StaleMark subset={picked} testId={`${testId}-stale`} />
      </span>
      <select data-testid={testId} value={value ?? ''} onChange={(e) => onChange(e.target.value ? Number(e.target.value) : null)}>
        <option value="">{emptyLabel}</option>
        {subsets?.map((s) => (
          <option key={s.id} value={s.id} title={s.staleReason ? staleTitle(s) : undefined}>
            {subsetOptionText(s)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** One of the project's models, with its layer count. */
export function ModelField({ testId, width, value, onChange, models }: {
  testId: string;
  width?: Width;
  value: number | null;
  onChange: (modelId: number) => void;
  models: ModelInfo[];
}) {
  return (
    <label className={fieldClass(width)}>
      <span>Model</span>
      <select data-testid={testId} value={value ?? ''} onChange={(e) => onChange(Number(e.target.value))}>
        {models.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name} ({plural(m.numLayers, 'layer')})
          </option>
        ))}
      </select>
    </label>
  );
}
