/**
 * The app shell: left nav, top bar (project, the dataset every screen works on, backend badge, jobs), banners, the
 * active screen and the jobs drawer.
 */
import { useEffect, useMemo, useState } from 'react';
import { getClient } from './api/client';
import { AppContext, type AppState, JobsStore } from './api/hooks';
import { useDatasetChoice, useEngineState } from './appState';
import { Banners, Nav, type ScreenId, screenFromHash, TopBar } from './AppChrome';
import { JobsDrawer } from './features/jobs/JobsDrawer';
import { DataScreen } from './features/data/DataScreen';
import { ExamplesScreen, type ExamplesView, initialExamplesView } from './features/examples/ExamplesScreen';
import { ScoreScreen } from './features/score/ScoreScreen';
import { SubsetsScreen } from './features/subsets/SubsetsScreen';
import { TrainScreen } from './features/train/TrainScreen';
import { LayersScreen } from './features/layers/LayersScreen';
import { MapScreen } from './features/map/MapScreen';
import { ExportScreen } from './features/export/ExportScreen';
import { PlaygroundScreen } from './features/playground/PlaygroundScreen';
import { HomeScreen } from './features/home/HomeScreen';

export function App() {
  const client = useMemo(() => getClient(), []);
  const jobs = useMemo(() => new JobsStore(), []);
  const [screen, setScreen] = useState<ScreenId>(screenFromHash);
  const [drawerOpen, setDrawerOpen] = useState(false);
  const [examplesView, setExamplesView] = useState<ExamplesView>(initialExamplesView);

  useEffect(() => {
    const onHash = () => setScreen(screenFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const { epoch, connection, engineStatus, info, setInfo, project, projectError, reloadProject } = useEngineState(client, jobs);
  const { datasetId, setDatasetId } = useDatasetChoice(project);

  // the Examples screen's place (selected row, open example) belongs to the dataset it was on
  useEffect(() => setExamplesView((v) => ({ ...v, selectedIndex: 0, openExampleId: null })), [datasetId]);

  const state: AppState = { client, epoch, jobs, info, project, reloadProject, datasetId, setDatasetId };

  const go = (id: ScreenId) => {
    window.location.hash = `#/${id}`;
    setScreen(id);
  };

  return (
    <AppContext.Provider value={state}>
      <div className="shell" data-testid="app" data-connection={connection}>
        <Nav screen={screen} onGo={go} info={info} />
        <TopBar project={project} datasetId={datasetId} setDatasetId={setDatasetId} info={info} onInfo={setInfo} drawerOpen={drawerOpen} onToggleDrawer={() => setDrawerOpen((o) => !o)} />
        <main className="content">
          <Banners connection={connection} engineStatus={engineStatus} projectError={projectError} />
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
