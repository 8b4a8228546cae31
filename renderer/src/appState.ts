/**
 * The app shell's state hooks: the connection to the engine (reconnects, engine restarts, app info, the live jobs
 * table, the open project) and the dataset every screen works on.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiOutputs, EngineEvent, ProjectInfo } from '../../preload/contract';
import type { ConnectionState, EngineClient } from './api/client';
import type { JobsStore } from './api/hooks';

export type EngineStatus = Extract<EngineEvent, { type: 'engine' }>;

/**
 * Follows the client: `epoch` bumps when the connection opens again or the engine is back (screens re-fetch), job
 * events fill `jobs`, and the project (re)opens on every epoch and on `reloadProject`.
 */
export function useEngineState(client: EngineClient, jobs: JobsStore) {
  const [epoch, setEpoch] = useState(0);
  const [connection, setConnection] = useState<ConnectionState>(client.connection());
  const [engineStatus, setEngineStatus] = useState<EngineStatus | null>(null);
  const [info, setInfo] = useState<ApiOutputs['app.info'] | null>(null);
  const [project, setProject] = useState<ProjectInfo | null>(null);
  const [projectError, setProjectError] = useState<string | null>(null);
  const [projectNonce, setProjectNonce] = useState(0);

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

  const reloadProject = useCallback(() => setProjectNonce((n) => n + 1), []);
  // setInfo: the backend badge's popover switches backends and answers the new app.info
  return { epoch, connection, engineStatus, info, setInfo, project, projectError, reloadProject };
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

/** The dataset the screens work on: stored per project, kept valid as the project changes. */
export function useDatasetChoice(project: ProjectInfo | null) {
  const [datasetId, setDatasetIdState] = useState<number | null>(null);
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
  return { datasetId, setDatasetId };
}
