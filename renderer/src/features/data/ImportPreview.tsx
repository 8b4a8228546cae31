/**
 * The mapping step: the first rows of a file as the model will see them, the detected record format and how sure
 * the detection is, and a mapping editor for files whose fields are named differently.
 */
import { useState } from 'react';
import type { DatasetMapping, DatasetPreview } from '../../../../preload/contract';
import { SelectField } from '../../components/Field';
import { fmtNum, plural } from '../../components/format';

const ROLES: Record<DatasetMapping['format'], Array<{ key: string; label: string; optional?: boolean }>> = {
  messages: [{ key: 'field', label: 'messages field' }],
  sharegpt: [{ key: 'field', label: 'conversations field' }],
  alpaca: [
    { key: 'instruction', label: 'instruction' },
    { key: 'input', label: 'input', optional: true },
    { key: 'output', label: 'output' },
    { key: 'system', label: 'system', optional: true },
  ],
  prompt_completion: [
    { key: 'prompt', label: 'prompt' },
    { key: 'completion', label: 'completion' },
    { key: 'system', label: 'system', optional: true },
  ],
  question_answer: [
    { key: 'question', label: 'question (user turn)' },
    { key: 'answer', label: 'answer (assistant turn)' },
  ],
  text: [{ key: 'field', label: 'text field' }],
};

/**
 * One row as the model sees it, whole: the trained part (the label mask's characters) highlighted, folded to a few
 * lines until "show all" so a long row does not push the others away.
 */
export function PreviewText({ text, trained }: { text: string; trained?: Array<[number, number]> }) {
  const [open, setOpen] = useState(false);
  const parts: Array<{ text: string; trained: boolean }> = [];
  let at = 0;
  for (const [start, end] of trained ?? []) {
    if (start > at) parts.push({ text: text.slice(at, start), trained: false });
    parts.push({ text: text.slice(start, end), trained: true });
    at = end;
  }
  if (at < text.length) parts.push({ text: text.slice(at), trained: false });
  const long = text.length > 240 || text.split('\n').length > 5;
  return (
    <div className="preview-cell">
      <pre className={`preview-text${open ? ' open' : ''}`} data-testid="preview-text" data-open={open}>
        {parts.map((p, i) =>
          p.trained ? (
            <mark key={i} className="trained" data-testid="preview-trained" title="trained on">
              {p.text}
            </mark>
          ) : (
            <span key={i}>{p.text}</span>
          ),
        )}
      </pre>
      {long && (
        <button className="btn btn-ghost btn-small" data-testid="preview-expand" onClick={() => setOpen((o) => !o)}>
          {open ? 'show less' : 'show all'}
        </button>
      )}
    </div>
  );
}

interface Props {
  edited: boolean;
  /** what the first column numbers: file lines, or a stored dataset's rows */
  lineLabel?: string;
  preview: DatasetPreview;
  mapping: DatasetMapping;
  onMapping: (m: DatasetMapping) => void;
}

export function ImportPreview({ preview, mapping, onMapping, edited, lineLabel = 'Line' }: Props) {
  const labels = mapping.format === 'prompt_completion' ? mapping.labels : undefined;
  const setLabel = (label: string, text: string) => {
    if (mapping.format === 'prompt_completion') onMapping({ ...mapping, labels: { ...mapping.labels, [label]: text } });
  };
  const errors = preview.rows.filter((r) => r.error).length;
  return (
    <div className="subcard" data-testid="import-preview" data-format={preview.format} data-confidence={preview.confidence}>
      <DetectionSummary preview={preview} edited={edited} />
      {preview.trees && mapping.tree && <TreeOptions trees={preview.trees} mapping={mapping} tree={mapping.tree} onMapping={onMapping} />}
      <MappingFields preview={preview} mapping={mapping} onMapping={onMapping} />
      {labels && (
        <table className="simple-table" data-testid="mapping-labels">
          <thead>
            <tr>
              <th>Label</th>
              <th>The model learns</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(labels).map(([label, text]) => (
              <tr key={label}>
                <td>
                  <code>{label}</code>
                </td>
                <td>
                  <input data-testid={`mapping-label-${label}`} value={text} onChange={(e) => setLabel(label, e.target.value)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <table className="simple-table preview-table">
        <thead>
          <tr>
            <th className="num">{lineLabel}</th>
            <th>As the model sees it</th>
            <th className="num">Tokens</th>
            <th className="num">Trained on</th>
          </tr>
        </thead>
        <tbody>
          {preview.rows.map((r, i) => (
            <tr key={`${r.line}-${i}`} data-testid="preview-row" data-error={r.error ? 'true' : 'false'}>
              <td className="num">{r.line}</td>
              <td>{r.error ? <span className="error-inline">{r.error}</span> : <PreviewText text={r.rendered ?? ''} trained={r.trained} />}</td>
              <td className="num">{r.nTokens !== undefined ? fmtNum(r.nTokens) : '—'}</td>
              <td className="num">{r.nLabel !== undefined ? fmtNum(r.nLabel) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {errors > 0 && <div className="warn-text">{errors} of the first {plural(preview.rows.length, 'row')} cannot be imported as mapped.</div>}
    </div>
  );
}

/** The file's format, the record format detected (or mapped by hand) and how sure that is; a warning when it is a guess. */
function DetectionSummary({ preview, edited }: { preview: DatasetPreview; edited: boolean }) {
  return (
    <div className="row">
      <strong>Preview</strong>
      <span className="muted">
        {preview.fileFormat} · {edited ? 'mapped as' : preview.guessed ? 'no known format recognised; guessed' : 'detected'} <code>{preview.format}</code> (
        {Math.round(preview.confidence * 100)}% of sampled records fit{edited ? '' : `; ${preview.certainty} certainty`})
      </span>
      {!edited && preview.basis && (
        <span className="muted" data-testid="mapping-basis">
          {preview.basis}
        </span>
      )}
      {(preview.confidence < 1 || (preview.guessed && !edited) || (preview.certainty !== 'high' && !edited)) && (
        <span className="warn-text" data-testid="mapping-check">
          Check the mapping
          {edited || (!preview.guessed && preview.certainty === 'high')
            ? ': not every record fits it'
            : preview.guessed
              ? ': it is a guess from the field names'
              : `: it is a guess (${preview.certainty} certainty)`}
          .
        </span>
      )}
      {preview.guessed && !edited && preview.note && (
        <span className="muted" data-testid="mapping-note">
          {preview.note}
        </span>
      )}
    </div>
  );
}

type Tree = NonNullable<DatasetMapping['tree']>;

/** A message-tree file (OpenAssistant): which conversations each tree gives, and which messages are kept. */
function TreeOptions({ trees, mapping, tree, onMapping }: {
  trees: NonNullable<DatasetPreview['trees']>;
  mapping: DatasetMapping;
  tree: Tree;
  onMapping: (m: DatasetMapping) => void;
}) {
  const setTree = (patch: Partial<Tree>) => onMapping({ ...mapping, tree: { ...tree, ...patch } });
  return (
    <div className="form-row" data-testid="mapping-trees">
      <SelectField
        label="Conversations from each tree"
        testId="mapping-tree-policy"
        value={tree.policy}
        onChange={(policy) => setTree({ policy })}
        options={[
          ['top1', `best-ranked path (top-1): ${fmtNum(trees.top1)}`],
          ['all_paths', `every path to a leaf: ${fmtNum(trees.allPaths)}`],
        ]}
      />
      <label className="field">
        <span>Languages (comma-separated, empty: all)</span>
        <input
          data-testid="mapping-tree-lang"
          defaultValue={(tree.lang ?? []).join(',')}
          onBlur={(e) => {
            const lang = e.target.value.split(',').map((x) => x.trim()).filter(Boolean);
            setTree({ lang: lang.length ? lang : undefined });
          }}
        />
      </label>
      <label className="field">
        <span>Minimum reviews</span>
        <input
          type="number"
          min={0}
          data-testid="mapping-tree-reviews"
          defaultValue={tree.minReviews ?? 0}
          onBlur={(e) => setTree({ minReviews: Math.max(0, Number(e.target.value) || 0) })}
        />
      </label>
      <label className="field">
        <span>
          <input type="checkbox" data-testid="mapping-tree-synthetic" checked={!!tree.synthetic} onChange={(e) => setTree({ synthetic: e.target.checked })} />{' '}
          keep synthetic
        </span>
      </label>
      <label className="field">
        <span>
          <input type="checkbox" data-testid="mapping-tree-deleted" checked={!!tree.deleted} onChange={(e) => setTree({ deleted: e.target.checked })} />{' '}
          keep deleted
        </span>
      </label>
      <span className="muted">
        {plural(trees.messages, 'message')} in {plural(trees.trees, 'tree')}{trees.complete ? '' : ' (the first part of the file)'}
      </span>
    </div>
  );
}

/** Which list of the file (JSON with several), the record format, and the file's field for each of its roles. */
function MappingFields({ preview, mapping, onMapping }: { preview: DatasetPreview; mapping: DatasetMapping; onMapping: (m: DatasetMapping) => void }) {
  const fields = preview.fields;
  const m = mapping as unknown as Record<string, string | undefined>;
  // the engine's mapping for that format from the same prompt and response fields; else distinct fields in turn
  const setFormat = (format: DatasetMapping['format']) => {
    const suggested = preview.suggested?.[format];
    if (suggested) return onMapping({ ...suggested, ...(mapping.list ? { list: mapping.list } : {}) });
    const next: Record<string, string> = { format, ...(mapping.list ? { list: mapping.list } : {}) };
    ROLES[format].filter((r) => !r.optional).forEach((r, i) => { next[r.key] = fields[Math.min(i, fields.length - 1)] ?? ''; });
    onMapping(next as unknown as DatasetMapping);
  };
  const setField = (key: string, value: string) => {
    const next: Record<string, string | undefined> = { ...m, [key]: value || undefined };
    onMapping(next as unknown as DatasetMapping);
  };
  const fieldOptions = fields.map((f) => [f, f] as const);
  return (
    <div className="form-row">
      {preview.lists && preview.lists.length > 1 && (
        <SelectField
          label="List"
          testId="mapping-list"
          value={mapping.list ?? preview.lists[0]!}
          onChange={(list) => onMapping({ ...mapping, list })}
          options={preview.lists.map((l) => [l, l] as const)}
        />
      )}
      <SelectField
        label="Record format"
        testId="mapping-format"
        value={mapping.format}
        onChange={setFormat}
        options={(Object.keys(ROLES) as Array<DatasetMapping['format']>).map((f) => [f, f] as const)}
      />
      {ROLES[mapping.format].map((r) => (
        <SelectField
          key={r.key}
          label={r.label}
          testId={`mapping-${r.key}`}
          value={m[r.key] ?? ''}
          onChange={(value) => setField(r.key, value)}
          options={r.optional ? [['', '(none)'] as const, ...fieldOptions] : fieldOptions}
        />
      ))}
    </div>
  );
}
