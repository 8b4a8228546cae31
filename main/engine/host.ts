/**
 * The engine host under Electron: a utilityProcess that owns the project database and the job queue, and talks to
 * main over its parent port with the wire messages of api/wire.ts. Main restarts it if it dies.
 */
import { createEngine } from './create';
import { answer } from './api/wire';

interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

async function main(): Promise<void> {
  const port = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (!port) throw new Error('engine-host must run as an Electron utilityProcess (use the browser-mode server otherwise)');
  const engine = await createEngine({ mode: 'electron' });
  engine.service.onEvent((event) => port.postMessage({ t: 'event', event }));
  port.on('message', async (e) => {
    const reply = await answer(engine.service, e.data);
    if (reply) port.postMessage(reply);
  });
  port.postMessage({ t: 'event', event: { type: 'engine', status: 'ready', message: 'engine ready' } });
}

main().catch((err) => {
  console.error('[engine-host]', err);
  process.exit(1);
});
