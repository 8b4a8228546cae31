/**
 * The app shell: left nav, top bar (project, the dataset every screen works on, backend badge, jobs), banners, the
 * active screen and the jobs drawer.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ApiOutputs, EngineEvent, ProjectInfo } from '../../preload/contract';
import { type ConnectionState, getClient, missingToken } from './api/client';
import { AppContext, type AppState, JobsStore } from './api/hooks';
import { JobsDrawer, JobsIndicator } from './features/jobs/JobsDrawer';
import { DataScreen } from './features/data/DataScreen';
import { ExamplesScreen, type ExamplesView, initialExamplesView } from './features/examples/ExamplesScreen';
import { ScoreScreen } from './features/score/ScoreScreen';
import { SubsetsScreen } from './features/subsets/SubsetsScreen';
import { TrainScreen } from './features/train/TrainScreen';
import { LayersScreen } from './features/layers/LayersScreen';
import { MapScreen } from './features/map/MapScreen';
import { ExportScreen } from './features/export/ExportScreen';
import { PlaygroundScreen } from './features/playground/PlaygroundScreen';
import { ThemeToggle } from './components/ThemeToggle';
import { BackendBadge } from './components/BackendBadge';
import { HomeScreen } from './features/home/HomeScreen';
import { plural } from './components/format';

const SCREENS = [
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
type ScreenId = (typeof SCREENS)[number]['id'];

function screenFromHash(): ScreenId {
  const id = window.location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (SCREENS.find((s) => s.id === id)?.id ?? 'home') as ScreenId;
}

/** The dataset chosen in the top bar is kept per project (by its file path), so a reload keeps it. */
const datasetKey = (projectPath: string) => `winnow.dataset:${projectPath}`;
function storedDataset(projectPath: string): number | null {
  try {
    const v = Number(localStorage.getItem(datasetKey(projectPath)));
    return Number.isInteger(v) && v > 0 ? v : null;
  } catch {
    return null;
  }
}

export function App() {
  const client = useMemo(() => getClient(), []);
  const jobs = useMemo(() => new JobsStore(), []);
  const [epoch, setEpoch] = useState(0);
  const [connection, setConnection] = useState<ConnectionState>(client.connection());
  const [engineStatus, setEngineStatus] = useState<Extract<EngineEvent, { type: 'engine' }> | null>(null);
  const [info, setInfo] = useState<ApiOutputs['app.info'] | null>(null);
  const [project, setProject] = useState<ProjectInfo | null>(null);
  const [projectError, setProjectError] = useState<string | null>(null);
  const [datasetId, setDatasetIdState] = useState<number | null>(null);
  const [screen, setScreen] = useState<ScreenId>(screenFromHash);
  const [drawerOpen, setDrawerOpen] = useState(false);
  const [examplesView, setExamplesView] = useState<ExamplesView>(initialExamplesView);
  const [projectNonce, setProjectNonce] = useState(0);

  useEffect(() => {
    const onHash = () => setScreen(screenFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(
    () =>
      client.onConnection((state) => {
        setConnection(state);
        if (state === 'open') setEpoch((e) => e + 1);
      }),
    [client],
  );

  useEffect(
    () =>
      client.onEvent((event) => {
        if (event.type === 'job') jobs.upsert(event.job);
        else if (event.type === 'engine') {
          setEngineStatus(event);
          // the engine came back: re-fetch what is on screen
          if (event.status === 'ready') setEpoch((e) => e + 1);
        } else if (event.type === 'project') setProject(event.project);
      }),
    [client, jobs],
  );

  useEffect(() => {
    let live = true;
    void client.call('app.info', {}).then((r) => live && r.ok && setInfo(r.value));
    void client.call('jobs.list', {}).then((r) => live && r.ok && jobs.replaceAll(r.value));
    return () => {
      live = false;
    };
  }, [client, jobs, epoch]);

  // app.info waits for the compute backend, but not forever: if it was not up yet, ask again
  const [infoRetry, setInfoRetry] = useState(0);
  useEffect(() => {
    if (!info || info.backend) return;
    const t = setTimeout(() => {
      void client.call('app.info', {}).then((r) => r.ok && setInfo(r.value));
      setInfoRetry((n) => n + 1);
    }, 10_000);
    return () => clearTimeout(t);
  }, [client, info, infoRetry]);

  useEffect(() => {
    let live = true;
    void client.call('project.open', {}).then((r) => {
      if (!live) return;
      if (r.ok) {
        setProject(r.value);
        setProjectError(null);
      } else setProjectError(r.error.message);
    });
    return () => {
      live = false;
    };
  }, [client, epoch, projectNonce]);

  const setDatasetId = useCallback(
    (id: number) => {
      setDatasetIdState(id);
      if (project) {
        try {
          localStorage.setItem(datasetKey(project.path), String(id));
        } catch {
          // storage refused (private mode): the choice lasts until the reload
        }
      }
    },
    [project],
  );

  // keep the chosen dataset valid as the project changes; a dataset that appears (a finished import) becomes the one in use
  const knownDatasets = useRef<{ path: string; ids: Set<number> } | null>(null);
  useEffect(() => {
    if (!project) return;
    const ids = project.datasets.map((d) => d.id);
    const known = knownDatasets.current?.path === project.path ? knownDatasets.current.ids : null;
    knownDatasets.current = { path: project.path, ids: new Set(ids) };
    const added = known ? ids.filter((id) => !known.has(id)) : [];
    if (added.length > 0) return setDatasetId(Math.max(...added));
    if (datasetId !== null && ids.includes(datasetId)) return;
    const stored = storedDataset(project.path);
    if (stored !== null && ids.includes(stored)) setDatasetIdState(stored);
    else setDatasetIdState(project.datasets[0]?.id ?? null);
  }, [project, datasetId, setDatasetId]);

  // the Examples screen's place (selected row, open example) belongs to the dataset it was on
  useEffect(() => setExamplesView((v) => ({ ...v, selectedIndex: 0, openExampleId: null })), [datasetId]);

  const reloadProject = useCallback(() => setProjectNonce((n) => n + 1), []);
  const state: AppState = { client, epoch, jobs, info, project, reloadProject, datasetId, setDatasetId };

  const go = (id: ScreenId) => {
    window.location.hash = `#/${id}`;
    setScreen(id);
  };

  const engineDown = engineStatus && engineStatus.status !== 'ready';
  return (
    <AppContext.Provider value={state}>
      <div className="shell" data-testid="app" data-connection={connection}>
        <nav className="nav" aria-label="Screens">
          <div className="brand">Winnow</div>
          {SCREENS.map((s) => (
            <button
              key={s.id}
              className={`nav-item${screen === s.id ? ' active' : ''}`}
              data-testid={`nav-${s.id}`}
              aria-current={screen === s.id ? 'page' : undefined}
              onClick={() => go(s.id)}
            >
              {s.label}
            </button>
          ))}
          <div className="nav-foot muted">{info ? `v${info.version} · ${info.mode}` : ''}</div>
        </nav>
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
          <BackendBadge backend={info?.backend} />
          <JobsIndicator onClick={() => setDrawerOpen((o) => !o)} open={drawerOpen} />
          <ThemeToggle />
        </header>
        <main className="content">
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
          {screen === 'home' && <HomeScreen />}
          {screen === 'data' && <DataScreen />}
          {screen === 'examples' && <ExamplesScreen view={examplesView} setView={setExamplesView} />}
          {screen === 'map' && <MapScreen />}
          {screen === 'score' && <ScoreScreen />}
          {screen === 'subsets' && <SubsetsScreen />}
          {screen === 'layers' && <LayersScreen />}
          {screen === 'train' && <TrainScreen />}
          {screen === 'playground' && <PlaygroundScreen />}
          {screen === 'export' && <ExportScreen />}
        </main>
        {drawerOpen && <JobsDrawer onClose={() => setDrawerOpen(false)} />}
      </div>
    </AppContext.Provider>
  );
}
