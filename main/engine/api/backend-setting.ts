/**
 * The backend the user chose in the app (the badge's popover, app.setBackend): saved in WINNOW_HOME/settings.json so
 * the next start of the app uses it, and applied by restarting the compute worker on it. WINNOW_BACKEND, when set,
 * wins over it (the worker's initBackend reads it), so the choice cannot be changed in the app then.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKEND_NAMES, type BackendChoice, type BackendInfo, type BackendName } from '../../../preload/contract';
import { WinnowError } from '../util/errors';

export const SETTINGS_FILE = 'settings.json';

/** The compute worker as the setting drives it (jobs/worker-client.ts's WorkerClient). */
export interface BackendSwitcher {
  backend: BackendInfo | null;
  /** whether a job runs in the worker now */
  readonly busy: boolean;
  /** restart the worker on `prefer` (null: automatic); on failure the previous backend runs again and this throws */
  setPreference(prefer: BackendName | null): Promise<BackendInfo>;
}

/**
 * The saved choice in `home`'s settings.json. A file that cannot be read or a value that is not a backend is not
 * fatal (the app must start): the choice is automatic and `problem` names the file and the field for the log.
 */
export function readBackendSetting(home: string): { prefer: BackendName | null; problem?: string } {
  const file = join(home, SETTINGS_FILE);
  if (!existsSync(file)) return { prefer: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { prefer: null, problem: `${file} is not valid JSON (${(err as Error).message}); the backend is chosen automatically` };
  }
  const value = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>).backend : undefined;
  if (value === undefined || value === null) return { prefer: null };
  if (typeof value === 'string' && (BACKEND_NAMES as readonly string[]).includes(value)) return { prefer: value as BackendName };
  return { prefer: null, problem: `${file}: field "backend" is ${JSON.stringify(value)}, not one of ${BACKEND_NAMES.join(', ')} or null; the backend is chosen automatically` };
}

/** Save the choice, keeping the file's other fields; atomic (a temporary file beside it, then a rename). */
export function writeBackendSetting(home: string, prefer: BackendName | null): void {
  const file = join(home, SETTINGS_FILE);
  let settings: Record<string, unknown> = {};
  try {
    const old = JSON.parse(readFileSync(file, 'utf8'));
    if (old && typeof old === 'object' && !Array.isArray(old)) settings = old;
  } catch {
    // no file yet, or one that did not parse (reported at start): it is replaced
  }
  settings.backend = prefer;
  mkdirSync(home, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(tmp, JSON.stringify(settings, null, 2) + '\n');
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new WinnowError('io_error', `the backend choice could not be saved in ${file}: ${(err as Error).message}`);
  }
}

/**
 * webgpu's reasons for not starting on its own that mean an adapter is there when asked for: only a software one was
 * found, or no system Vulkan driver but SwiftShader in Chromium's folder (compute/webgpu.ts words both so).
 */
const SOFTWARE_WHEN_ASKED = /WINNOW_BACKEND=webgpu to use it/;

type Known = { state: 'started' | 'software' | 'unavailable'; software?: boolean; why?: string };

export class BackendSetting {
  private prefer: BackendName | null;
  /** what each start of the worker taught: which backends started, and why the others did not */
  private known = new Map<BackendName, Known>();
  private switching = false;

  constructor(
    private readonly home: string,
    private readonly worker: BackendSwitcher,
    prefer: BackendName | null,
  ) {
    this.prefer = prefer;
  }

  /** Record what a start of the worker says about the backends (its `unavailable` list and the one that runs). */
  learn(info: BackendInfo | null): void {
    if (!info) return;
    for (const u of info.unavailable) {
      if (!(BACKEND_NAMES as readonly string[]).includes(u.name)) continue;
      const name = u.name as BackendName;
      // a start that skipped the software adapter does not undo a start that used it
      if (this.known.get(name)?.state === 'started') continue;
      this.known.set(name, { state: name === 'webgpu' && SOFTWARE_WHEN_ASKED.test(u.why) ? 'software' : 'unavailable', why: u.why });
    }
    this.known.set(info.name as BackendName, { state: 'started', software: info.adapter?.software });
  }

  choice(): BackendChoice {
    const running = this.worker.backend;
    this.learn(running);
    return {
      prefer: this.prefer,
      envForced: process.env.WINNOW_BACKEND?.trim() || null,
      backends: BACKEND_NAMES.map((name) => {
        const k = this.known.get(name);
        const state = running?.name === name ? 'running' : (k?.state ?? 'untried');
        return { name, state, ...(k?.software ? { software: true } : {}), ...(k?.why && state !== 'running' ? { why: k.why } : {}) };
      }),
    };
  }

  /**
   * Switch: refused while a job runs or waits (`busyJob` says so: "a score job is running"), while WINNOW_BACKEND is set and during another
   * switch. A backend that does not start leaves the previous one running and the previous choice saved.
   */
  async set(prefer: BackendName | null, busyJob: string | null): Promise<BackendInfo> {
    const forced = process.env.WINNOW_BACKEND?.trim();
    if (forced) throw new WinnowError('conflict', `WINNOW_BACKEND=${forced} is set and wins over the app's choice: unset it and restart Winnow to choose the backend here`);
    if (this.switching) throw new WinnowError('conflict', 'the compute worker is already switching backends: wait for it');
    if (busyJob || this.worker.busy) {
      throw new WinnowError('conflict', `${busyJob ?? 'a job is running'}: the backend cannot be switched under it; wait for it to finish (or cancel it), then switch`);
    }
    this.switching = true;
    const previous = this.prefer;
    try {
      // saved first, so a file that cannot be written refuses the switch before the worker stops
      writeBackendSetting(this.home, prefer);
      const info = await this.worker.setPreference(prefer).catch((err: unknown) => {
        writeBackendSetting(this.home, previous);
        this.learn(this.worker.backend);
        const details = err instanceof WinnowError ? err.details : undefined;
        if (details?.backend === prefer && typeof details.why === 'string') this.known.set(prefer as BackendName, { state: 'unavailable', why: details.why });
        throw err;
      });
      this.prefer = prefer;
      this.learn(info);
      return info;
    } finally {
      this.switching = false;
    }
  }
}
