/** The app shell: left nav, top bar (project, backend, jobs), banners, the active screen and the jobs drawer. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { ApiOutputs, EngineEvent, GpuAdapterInfo, ProjectInfo } from '../../preload/contract';
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
import { ThemeToggle } from './components/ThemeToggle';

const SCREENS = [
  { id: 'data', label: 'Data' },
  { id: 'examples', label: 'Examples' },
  { id: 'map', label: 'Map' },
  { id: 'score', label: 'Score' },
  { id: 'subsets', label: 'Subsets' },
  { id: 'layers', label: 'Layers' },
  { id: 'train', label: 'Train' },
  { id: 'export', label: 'Export' },
] as const;
type ScreenId = (typeof SCREENS)[number]['id'];

function screenFromHash(): ScreenId {
  const id = window.location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (SCREENS.find((s) => s.id === id)?.id ?? 'data') as ScreenId;
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
  const [datasetId, setDatasetId] = useState<number | null>(null);
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

  // keep the chosen dataset valid as the project changes
  useEffect(() => {
    if (!project) return;
    if (datasetId === null || !project.datasets.some((d) => d.id === datasetId)) {
      setDatasetId(project.datasets[0]?.id ?? null);
    }
  }, [project, datasetId]);

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
          <div className="backend" data-testid="backend" title={info?.backend?.reason}>
            {info?.backend ? (
              <>
                <span className="backend-name">{info.backend.name}</span>
                {info.backend.adapter && (
                  <span className="backend-adapter" data-testid="backend-adapter" title={adapterLabel(info.backend.adapter)}>
                    {adapterLabel(info.backend.adapter)}
                  </span>
                )}
                <span className="muted backend-reason" data-testid="backend-reason">
                  {info.backend.reason}
                </span>
              </>
            ) : (
              <span className="muted">backend not chosen yet</span>
            )}
          </div>
          <span className="spacer" />
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
          {screen === 'data' && <DataScreen />}
          {screen === 'examples' && <ExamplesScreen view={examplesView} setView={setExamplesView} />}
          {screen === 'map' && <MapScreen />}
          {screen === 'score' && <ScoreScreen />}
          {screen === 'subsets' && <SubsetsScreen />}
          {screen === 'layers' && <LayersScreen />}
          {screen === 'train' && <TrainScreen />}
          {screen === 'export' && <ExportScreen />}
        </main>
        {drawerOpen && <JobsDrawer onClose={() => setDrawerOpen(false)} />}
      </div>
    </AppContext.Provider>
  );
}

/** "nvidia hopper · buffers ≤ 4 GiB · NVIDIA H100 80GB HBM3": the description last, where the bar truncates */
function adapterLabel(a: GpuAdapterInfo): string {
  const gib = Math.min(a.maxStorageBufferBindingSize, a.maxBufferSize) / 2 ** 30;
  const parts = [[a.vendor, a.architecture].filter(Boolean).join(' '), a.software ? 'software' : '', `buffers ≤ ${gib >= 1 ? `${gib.toFixed(gib % 1 ? 1 : 0)} GiB` : `${Math.round(gib * 1024)} MiB`}`, a.description || a.device];
  return parts.filter(Boolean).join(' · ');
}
