/**
 * The compute backend as a short badge in the top bar ("GPU · NVIDIA H100 (webgpu)", "CPU · wasm, 1 thread"), and, in
 * a popover on hover or click, what runs, why it was chosen, why the better ones did not start and what would make it
 * faster. The bar never shows raw diagnostics.
 */
import { useState } from 'react';
import type { AppInfo } from '../../../preload/contract';
import { adapterLabel, backendBadge, fasterAdvice, reasonHead } from './backend';
import { BackendChoice } from './BackendChoice';

/**
 * `info.backend`: null while app.info has not answered (it waits for the compute worker) or answered without one;
 * `info.backendDown`: why it did not come up. Only then does the bar say "not chosen": until it does, the backend is
 * still starting. onInfo: app.info after the user switched backends in the popover.
 */
export function BackendBadge({ info, onInfo }: { info: AppInfo | null | undefined; onInfo: (info: AppInfo) => void }) {
  const backend = info?.backend;
  const down = info?.backendDown;
  const [pinned, setPinned] = useState(false);
  const [hover, setHover] = useState(false);
  const open = pinned || hover;
  if (!backend) {
    return (
      <div className="backend" data-testid="backend" data-backend="" data-state={down ? 'down' : 'starting'} title={down}>
        <span className="muted">{down ? 'backend not chosen yet' : 'starting the compute backend…'}</span>
      </div>
    );
  }
  return (
    <div className="backend-wrap" onMouseEnter={() => setHover(true)} onMouseLeave={() => setHover(false)}>
      <button
        className={`backend backend-badge${backend.name === 'webgpu' && !backend.adapter?.software ? ' gpu' : ''}`}
        data-testid="backend"
        data-backend={backend.name}
        data-state="ready"
        aria-expanded={open}
        aria-controls="backend-popover"
        // a click pins it open, a second click closes it, hover or not. It toggles the pin alone: the pointer's arrival
        // (hover) and its click come together, and a click that read the hover would close what it had just opened
        onClick={() => {
          if (pinned) {
            setPinned(false);
            setHover(false);
          } else setPinned(true);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            setPinned(false);
            setHover(false);
          }
        }}
      >
        {backendBadge(backend)}
      </button>
      {/* always in the page (hidden when closed), so its text can be read without opening it */}
      <div className="backend-popover" id="backend-popover" data-testid="backend-popover" role="dialog" aria-label="Compute backend" hidden={!open}>
        <div className="backend-popover-title">
          Computing on <b>{backend.name}</b>
        </div>
        {backend.adapter && (
          <div data-testid="backend-adapter" className="backend-popover-line">
            Adapter: {adapterLabel(backend.adapter)}
          </div>
        )}
        <div data-testid="backend-reason" data-reason={backend.reason} className="backend-popover-line">
          Why: {reasonHead(backend)}
        </div>
        {(backend.name === 'wasm' || backend.name === 'cpu') && <div className="backend-popover-line">Threads: {backend.threads}</div>}
        {backend.unavailable.length > 0 && (
          <div className="backend-popover-line">
            Not available:
            <ul>
              {backend.unavailable.map((u) => (
                <li key={u.name}>
                  <b>{u.name}</b>: {u.why}
                </li>
              ))}
            </ul>
          </div>
        )}
        <div data-testid="backend-faster" className="backend-popover-line">
          <b>Faster:</b> {fasterAdvice(backend)}
        </div>
        {info.backendChoice && <BackendChoice choice={info.backendChoice} onInfo={onInfo} />}
        <div className="muted backend-popover-line">WINNOW_BACKEND=webgpu|tensorflow|wasm|cpu forces one (see the Backends page of the docs).</div>
      </div>
    </div>
  );
}
