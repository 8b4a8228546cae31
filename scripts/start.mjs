// `npm start`: set up, then open Winnow on the bundled demo project — in an Electron window when an Electron
// binary is installed (and a display is available), otherwise in browser mode with the URL printed.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { electronBinary, ensureBuilt, ensureInstalled, root } from './setup.mjs';

ensureInstalled();
ensureBuilt();

const forceBrowser = process.argv.includes('--browser') || process.env.WINNOW_BROWSER === '1';
const electron = forceBrowser ? null : electronBinary();
const hasDisplay = process.platform !== 'linux' || !!process.env.DISPLAY || !!process.env.WAYLAND_DISPLAY;

/**
 * better-sqlite3 is built for Node's ABI (CLI, browser mode, tests). Electron's engine host needs a build for
 * Electron's ABI: made once into .cache/electron-native from a copy of the package, leaving the Node build alone.
 */
function electronSqliteBinding() {
  const out = join(root, '.cache', 'electron-native', 'better-sqlite3');
  const binding = join(out, 'build', 'Release', 'better_sqlite3.node');
  if (existsSync(binding)) return binding;
  const version = JSON.parse(spawnSync('node', ['-p', 'JSON.stringify(require("electron/package.json").version)'], { cwd: root, encoding: 'utf8' }).stdout);
  mkdirSync(out, { recursive: true });
  cpSync(join(root, 'node_modules', 'better-sqlite3'), out, { recursive: true, filter: (p) => !p.includes(`${'build'}/Release/obj`) });
  console.log(`winnow: building better-sqlite3 for Electron ${version}…`);
  const r = spawnSync('npx', ['node-gyp', 'rebuild', '--release', `--target=${version}`, '--runtime=electron', '--dist-url=https://electronjs.org/headers'], { cwd: out, stdio: 'inherit' });
  return r.status === 0 && existsSync(binding) ? binding : null;
}

/**
 * Browser mode under a supervisor: if the engine host dies, it is started again on the same port with the same
 * secret, and open pages reconnect by themselves (they show "Engine disconnected — reconnecting…" meanwhile).
 */
async function browserMode(reason) {
  console.log(`winnow: starting browser mode (${reason})`);
  const args = process.argv.slice(2).filter((a) => a !== '--browser');
  const token = randomBytes(24).toString('hex');
  let port = null;
  let stopping = false;
  let restarts = 0;
  const launch = () => {
    const portArgs = port ? ['--port', String(port)] : [];
    const child = spawn(process.execPath, [join(root, 'out', 'main', 'server.js'), ...args, ...portArgs], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, WINNOW_TOKEN: token },
    });
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const m = /WINNOW_URL=http:\/\/127\.0\.0\.1:(\d+)/.exec(chunk.toString());
      if (m) port = Number(m[1]);
    });
    child.on('exit', (code, signal) => {
      if (stopping || code === 0 || code === 2) process.exit(code ?? 0);
      restarts++;
      if (restarts > 5) {
        console.error('winnow: the engine keeps stopping; giving up. See the messages above.');
        process.exit(1);
      }
      console.error(`winnow: the engine stopped (${signal ?? `exit ${code}`}); restarting it`);
      setTimeout(launch, 500 * restarts);
    });
    for (const sig of ['SIGINT', 'SIGTERM']) {
      process.removeAllListeners(sig);
      process.on(sig, () => {
        stopping = true;
        child.kill(sig);
      });
    }
  };
  launch();
}

if (!electron) browserMode(forceBrowser ? 'asked for' : 'no Electron binary is installed on this machine');
else if (!hasDisplay) browserMode('no display');
else {
  const binding = electronSqliteBinding();
  if (!binding) browserMode('could not build the SQLite binding for Electron');
  else {
    const child = spawn(electron, [root], { cwd: root, stdio: 'inherit', env: { ...process.env, WINNOW_SQLITE_BINDING: binding } });
    child.on('exit', (code) => process.exit(code ?? 0));
  }
}
