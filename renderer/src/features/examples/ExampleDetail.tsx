/**
 * One example as the model sees it: every token of the rendered template as a span coloured by the chosen token
 * signal, tokens outside the label mask dimmed and struck, with the trainable share and any render problem up top.
 */
import { useEffect, useState } from 'react';
import type { ExampleDetail } from '../../../../preload/contract';
import { useApp, useCall } from '../../api/hooks';
import { ErrorText } from '../../components/ErrorText';
import { Histogram } from '../../components/Histogram';
import { fmtNum, fmtPercent, rowNumber } from '../../components/format';
import { MaskTools, useMaskEdit } from './MaskTools';
import { HeatLegend, valueRange } from '../../components/TokenHeat';
import { ExampleTokens, TokenInfo } from './ExampleTokens';

interface Props {
  exampleId: number;
  tokenSignal: string | null;
  onTokenSignal: (signal: string) => void;
  onClose: () => void;
  /** a mask was saved (the table's Trainable count of the row changes) */
  onMaskSaved?: () => void;
}

export function ExampleDetailPanel({ exampleId, tokenSignal, onTokenSignal, onClose, onMaskSaved }: Props) {
  const { project } = useApp();
  const [modelId, setModelId] = useState<number | null>(null);
  const { data, error, loading } = useCall('examples.get', { exampleId, modelId: modelId ?? undefined });
  const detail = data && data.id === exampleId ? data : null;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <aside className="detail" data-testid="example-detail" data-example-id={exampleId} data-loading={loading || !detail}>
      <div className="detail-head">
        <h2>Example {detail ? `row ${rowNumber(detail.rowIndex)}` : ''}</h2>
        <span className="spacer" />
        {project && project.models.length > 0 && (
          <label className="field inline">
            <span>Scores from</span>
            <select data-testid="detail-model" value={modelId ?? ''} onChange={(e) => setModelId(e.target.value ? Number(e.target.value) : null)}>
              <option value="">latest scoring</option>
              {project.models.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <button className="btn btn-ghost" data-testid="detail-close" onClick={onClose} title="Close (Esc)">
          ✕
        </button>
      </div>
      <ErrorText error={error} testId="detail-error" />
      {!detail && !error && <p className="muted detail-loading">Rendering the example with the model’s chat template…</p>}
      {detail && <DetailBody key={`${detail.id}:${detail.render.renderKeyId}`} detail={detail} modelId={modelId} tokenSignal={tokenSignal} onTokenSignal={onTokenSignal} onMaskSaved={onMaskSaved} />}
    </aside>
  );
}

function DetailBody({
  detail,
  modelId,
  tokenSignal,
  onTokenSignal,
  onMaskSaved,
}: {
  detail: ExampleDetail;
  modelId: number | null;
  tokenSignal: string | null;
  onTokenSignal: (s: string) => void;
  onMaskSaved?: () => void;
}) {
  const [hovered, setHovered] = useState<number | null>(null);
  const edit = useMaskEdit(detail, modelId, onMaskSaved);
  const signalNames = Object.keys(detail.tokenSignals);
  const signal = tokenSignal && signalNames.includes(tokenSignal) ? tokenSignal : (signalNames[0] ?? null);
  const values = signal ? detail.tokenSignals[signal]! : [];
  const scale = valueRange(values);
  const nLabel = edit.mask.reduce((a, b) => a + b, 0);

  return (
    <div className="detail-body">
      <DetailFacts detail={detail} nLabel={nLabel} />
      <div className="legend-row">
        {signalNames.length > 0 ? (
          <label className="field inline">
            <span>Colour by</span>
            <select data-testid="token-signal" value={signal ?? ''} onChange={(e) => onTokenSignal(e.target.value)}>
              {signalNames.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        ) : (
          <span className="muted" data-testid="token-signal-none">
            No token scores yet — run <a href="#/score?signals=token_loss">Score with token_loss</a> to colour tokens.
          </span>
        )}
        {scale && (
          <HeatLegend scale={scale} testId="token-legend" />
        )}
        <span className="mask-legend">
          <span className="token-chip label-off">prompt</span> not trained on
          <span className="token-chip">response</span> trained on
          <span className="token-chip changed" data-testid="mask-legend-edited">edited</span> changed by hand
        </span>
      </div>
      <MaskTools detail={detail} edit={edit} signals={signalNames} />
      <ExampleTokens detail={detail} edit={edit} signal={signal} values={values} scale={scale} hovered={hovered} onHover={setHovered} />
      <TokenInfo detail={detail} edit={edit} signal={signal} values={values} hovered={hovered} />
      {signal && <Histogram values={values} label={signal} testId="token-histogram" />}
      {Object.keys(detail.signals).length > 0 && (
        <table className="simple-table signals-table" data-testid="detail-signals">
          <tbody>
            {Object.entries(detail.signals).map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td className="num">{fmtNum(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <details className="raw">
        <summary>Raw row</summary>
        <pre>{JSON.stringify(detail.raw, null, 2)}</pre>
      </details>
    </div>
  );
}

/** What went wrong rendering the row (if anything), its size, the share trained on (`nLabel` tokens) and the render. */
function DetailFacts({ detail, nLabel }: { detail: ExampleDetail; nLabel: number }) {
  return (
    <>
      {detail.renderError && (
        <div className="banner banner-error" data-testid="detail-render-error">
          This row could not be rendered: {detail.renderError}
        </div>
      )}
      {detail.truncated && (
        <div className="banner banner-warn" data-testid="detail-truncated">
          Truncated: the rendered example is longer than the token limit; tokens past it are not scored or trained on.
        </div>
      )}
      <div className="facts">
        <span>
          <span className="muted">Tokens</span> <span className="num">{fmtNum(detail.tokens.length)}</span>
        </span>
        <span data-testid="trainable-share" data-trainable={nLabel} data-total={detail.tokens.length} className={nLabel === 0 ? 'warn-text' : ''}>
          <span className="muted">Trained on</span>{' '}
          <span className="num">
            {fmtNum(nLabel)} ({fmtPercent(nLabel, detail.tokens.length)})
          </span>
          {nLabel === 0 && detail.tokens.length > 0 && ' — no trainable tokens: this row teaches nothing'}
        </span>
        <span data-testid="detail-render" data-render-key={detail.render.renderKeyId} data-max-tokens={detail.render.maxTokens ?? ''}>
          <span className="muted">Render</span> {detail.render.description}
          {detail.render.scoreRunIds.length > 0 && ` · token scores of run ${detail.render.scoreRunIds.map((r) => `#${r}`).join(', ')}`}
        </span>
      </div>
    </>
  );
}
