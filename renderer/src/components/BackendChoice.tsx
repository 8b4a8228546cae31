/**
 * The backend chooser in the badge's popover: automatic (the fastest found) or one of the backends that can start
 * here, webgpu on the software adapter included where that is the only adapter. Choosing restarts the compute worker
 * (app.setBackend); the engine refuses while a job runs, and WINNOW_BACKEND, when set, wins and locks the choice.
 */
import { useState } from 'react';
import type { ApiError, AppInfo, BackendChoice as Choice, BackendName } from '../../../preload/contract';
import { useApp } from '../api/hooks';
import { ErrorText } from './ErrorText';

const AUTO = 'auto';

type Entry = Choice['backends'][number];

/** webgpu on a CPU: found only a software adapter, or runs (ran) on one */
const softwareGpu = (b: Entry) => b.name === 'webgpu' && (b.state === 'software' || !!b.software);

function optionLabel(b: Entry): string {
  if (b.name === 'webgpu') return softwareGpu(b) ? 'webgpu on the software adapter' : b.state === 'untried' ? 'webgpu (not tried yet)' : 'webgpu (GPU)';
  if (b.name === 'tensorflow') return 'tensorflow (native TensorFlow)';
  if (b.name === 'wasm') return 'wasm (CPU)';
  return 'cpu (plain JavaScript, slowest)';
}

export function BackendChoice({ choice, onInfo }: { choice: Choice; onInfo: (info: AppInfo) => void }) {
  const { client } = useApp();
  const [switching, setSwitching] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  // the saved choice stays listed even where it did not start this time (its reason is under "Not available")
  const offered = choice.backends.filter((b) => b.state !== 'unavailable' || b.name === choice.prefer);
  const choose = async (value: string) => {
    const prefer = value === AUTO ? null : (value as BackendName);
    setSwitching(value);
    setError(null);
    const r = await client.call('app.setBackend', { prefer });
    setSwitching(null);
    if (r.ok) onInfo(r.value);
    else setError(r.error);
  };
  return (
    <div className="backend-popover-line" data-testid="backend-choice-block">
      <label>
        <b>Run on:</b>{' '}
        <select
          data-testid="backend-choice"
          value={switching ?? choice.prefer ?? AUTO}
          disabled={!!choice.envForced || switching !== null}
          onChange={(e) => void choose(e.target.value)}
        >
          <option value={AUTO}>automatic (fastest found)</option>
          {offered.map((b) => (
            <option key={b.name} value={b.name}>
              {optionLabel(b)}
            </option>
          ))}
        </select>
      </label>
      {switching !== null && <div className="muted" data-testid="backend-switching">Restarting the compute worker…</div>}
      {offered.some(softwareGpu) && (
        <div className="muted" data-testid="backend-software-cost">
          webgpu on the software adapter is a CPU emulating a GPU: slower than wasm; it is for checking webgpu numbers without a GPU.
        </div>
      )}
      {choice.envForced && (
        <div className="muted" data-testid="backend-env-forced">
          WINNOW_BACKEND={choice.envForced} is set: it wins over this choice (unset it and restart Winnow to choose here).
        </div>
      )}
      <ErrorText error={error} testId="backend-choice-error" />
      <div className="muted">Kept for the next start of Winnow. Not while a job runs: switching restarts the compute worker.</div>
    </div>
  );
}
