/**
 * Browser mode: `node out/main/server.js [--port N] [--home DIR] [--project NAME]`. Starts the engine host in this
 * plain Node process and serves the built renderer and the API on 127.0.0.1 with a per-launch secret token.
 * Prints the URL (with the token) and, for scripts, a line `WINNOW_URL=<url>`.
 */
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine } from '../engine/create';
import { startBrowserServer } from './http';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.WINNOW_PORT ?? '0' },
      home: { type: 'string' },
      project: { type: 'string' },
      renderer: { type: 'string' },
    },
  });
  if (values.home) process.env.WINNOW_HOME = resolve(values.home);
  const here = dirname(fileURLToPath(import.meta.url));
  const rendererDir = values.renderer ? resolve(values.renderer) : join(here, '..', 'renderer');
  if (!existsSync(join(rendererDir, 'index.html'))) {
    console.error(`Winnow: the renderer is not built (${rendererDir}/index.html missing). Run "npm run build" first.`);
    process.exit(2);
  }
  const engine = await createEngine({ mode: 'browser' });
  if (values.project) engine.service.open(values.project);
  else engine.service.current();
  const server = await startBrowserServer({
    handler: engine.service,
    subscribe: (l) => engine.service.onEvent(l),
    rendererDir,
    port: Number(values.port),
    // a supervisor that restarts this process passes the same secret, so open pages reconnect
    token: process.env.WINNOW_TOKEN || undefined,
  });
  console.log(`Winnow (browser mode) is running at ${server.url}`);
  console.log(`Projects live in ${join(process.env.WINNOW_HOME ?? '~/.winnow', 'projects')}`);
  console.log(`WINNOW_URL=${server.url}`);
  const stop = async () => {
    await server.close();
    await engine.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error('Winnow server failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
