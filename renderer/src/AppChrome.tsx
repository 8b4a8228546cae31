/** The app shell's chrome: the screens and the left nav, the top bar, and the banners above the active screen. */
import type { ApiOutputs, ProjectInfo } from '../../preload/contract';
import { type ConnectionState, missingToken } from './api/client';
import type { EngineStatus } from './appState';
import { BackendBadge } from './components/BackendBadge';
import { ThemeToggle } from './components/ThemeToggle';
import { plural } from './components/format';
import { JobsIndicator } from './features/jobs/JobsDrawer';

export const SCREENS = [
  { id: 'home', label: 'Start' },
  { id: 'data', label: 'Data' },
  { id: 'examples', label: 'Examples' },
  { id: 'map', label: 'Map' },
  { id: 'score', label: 'Score' },
  { id: 'subsets', label: 'Subsets' },
  { id: 'layers', label: 'Layers' },
  { id: 'train', label: 'Train' },
  { id: 'playground', label: 'Playground' },
  { id: 'export', label: 'Export' },
] as const;
export type ScreenId = (typeof SCREENS)[number]['id'];

export function screenFromHash(): ScreenId {
  const id = window.location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (SCREENS.find((s) => s.id === id)?.id ?? 'home') as ScreenId;
}

export function Nav({ screen, onGo, info }: { screen: ScreenId; onGo: (id: ScreenId) => void; info: ApiOutputs['app.info'] | null }) {
  return (
    <nav className="nav" aria-label="Screens">
      <div className="brand">Winnow</div>
      {SCREENS.map((s) => (
        <button
          key={s.id}
          className={`nav-item${screen === s.id ? ' active' : ''}`}
          data-testid={`nav-${s.id}`}
          aria-current={screen === s.id ? 'page' : undefined}
          onClick={() => onGo(s.id)}
        >
          {s.label}
        </button>
      ))}
      <div className="nav-foot muted">{info ? `v${info.version} · ${info.mode}` : ''}</div>
    </nav>
  );
}

/** The project, the dataset every screen works on, the backend badge, the jobs indicator and the theme. */
export function TopBar({ project, datasetId, setDatasetId, info, onInfo, drawerOpen, onToggleDrawer }: {
  project: ProjectInfo | null;
  datasetId: number | null;
  setDatasetId: (id: number) => void;
  info: ApiOutputs['app.info'] | null;
  /** app.info after a backend switch in the badge's popover */
  onInfo: (info: ApiOutputs['app.info']) => void;
  drawerOpen: boolean;
  onToggleDrawer: () => void;
}) {
  return (
    <header className="topbar">
      <div className="project-name" data-testid="project-name" title={project?.path}>
        {project?.name ?? 'No project'}
      </div>
      {project && project.datasets.length > 0 && (
        <label className="header-dataset" title="The dataset the Examples, Map, Score, Subsets, Layers, Train and Export screens work on">
          <span className="muted">Dataset</span>
          <select data-testid="header-dataset" value={datasetId ?? ''} onChange={(e) => setDatasetId(Number(e.target.value))}>
            {project.datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({plural(d.rowCount, 'row')})
              </option>
            ))}
          </select>
        </label>
      )}
      <span className="spacer" />
      <BackendBadge info={info} onInfo={onInfo} />
      <JobsIndicator onClick={onToggleDrawer} open={drawerOpen} />
      <ThemeToggle />
    </header>
  );
}

/** A missing access token, a lost connection, an engine that is down or restarting, a project that would not open. */
export function Banners({ connection, engineStatus, projectError }: { connection: ConnectionState; engineStatus: EngineStatus | null; projectError: string | null }) {
  const engineDown = engineStatus && engineStatus.status !== 'ready';
  return (
    <>
      {missingToken() && connection !== 'open' && (
        <div className="banner banner-error" data-testid="token-banner">
          This page was opened without its access token. Open the exact URL that <code>winnow serve</code> printed.
        </div>
      )}
      {connection === 'reconnecting' && (
        <div className="banner banner-warn" data-testid="engine-banner" data-state="disconnected">
          Engine disconnected — reconnecting…
        </div>
      )}
      {connection !== 'reconnecting' && engineDown && (
        <div className="banner banner-warn" data-testid="engine-banner" data-state={engineStatus.status}>
          Engine {engineStatus.status === 'restarting' ? 'restarting' : 'down'}
          {engineStatus.message ? ` — ${engineStatus.message}` : ''}
        </div>
      )}
      {projectError && (
        <div className="banner banner-error" data-testid="project-error">
          Could not open the project: {projectError}
        </div>
      )}
    </>
  );
}
