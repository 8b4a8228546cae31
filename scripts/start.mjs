// `npm start`: set up, then open Winnow on the bundled demo project — in an Electron window when an Electron
// binary is installed (and a display is available), otherwise in browser mode with the URL printed.
import { spawn, spawnSync } from 'node:child_process';
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

function browserMode(reason) {
  console.log(`winnow: starting browser mode (${reason})`);
  const child = spawn(process.execPath, [join(root, 'out', 'main', 'server.js'), ...process.argv.slice(2).filter((a) => a !== '--browser')], { cwd: root, stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
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
