/** Builds an engine service with the compute worker as its executor — shared by the Electron engine host and browser mode. */
import { EngineService } from './api/service';
import { WorkerClient } from './jobs/worker-client';
import { projectsDir } from './util/paths';

export interface Engine {
  service: EngineService;
  worker: WorkerClient;
  close(): Promise<void>;
}

export async function createEngine(opts: { mode: 'electron' | 'browser'; projectsDir?: string }): Promise<Engine> {
  const worker = new WorkerClient();
  const service = new EngineService({ projectsDir: opts.projectsDir ?? projectsDir(), mode: opts.mode, executor: worker });
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
