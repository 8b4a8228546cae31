/** Builds an engine service with the compute worker as its executor — shared by the Electron engine host and browser mode. */
import { join } from 'node:path';
import { EngineService } from './api/service';
import { BackendSetting, readBackendSetting } from './api/backend-setting';
import { WorkerClient } from './jobs/worker-client';
import { winnowHome } from './util/paths';

export interface Engine {
  service: EngineService;
  worker: WorkerClient;
  close(): Promise<void>;
}

/** home: where settings.json (the backend chosen in the app) and, unless projectsDir says otherwise, projects/ live. */
export async function createEngine(opts: { mode: 'electron' | 'browser'; home?: string; projectsDir?: string }): Promise<Engine> {
  const home = opts.home ?? winnowHome();
  const saved = readBackendSetting(home);
  const worker = new WorkerClient({}, saved.prefer);
  const backendSetting = new BackendSetting(home, worker, saved.prefer);
  const service = new EngineService({ projectsDir: opts.projectsDir ?? join(home, 'projects'), mode: opts.mode, executor: worker, backendSetting });
  // before any page is connected to hear a log event: the engine's own output
  if (saved.problem) console.warn(`[winnow] ${saved.problem}`);
  // start the worker (and its TF backend) now so the first job does not pay for it; failures surface per job
  worker.start().then(
    (backend) => service.emit({ type: 'log', level: 'info', message: `compute backend: ${backend.name} (${backend.reason})` }),
    (err) => service.emit({ type: 'log', level: 'error', message: `compute worker failed to start: ${(err as Error).message}` }),
  );
  return {
    service,
    worker,
    close: async () => {
      service.close();
      await worker.stop();
    },
  };
}
