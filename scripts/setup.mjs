// Set-up shared by `npm start` and `npm test`: install dependencies when missing or stale, build when sources changed.
// Uses only Node built-ins, so it runs on a fresh clone before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts, env: { ...process.env, ...(opts.env ?? {}) } });
  if (r.status !== 0 && !opts.allowFail) {
    console.error(`winnow setup: "${cmd} ${args.join(' ')}" failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
  return r.status === 0;
}

function newest(paths) {
  let t = 0;
  const walk = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const n of readdirSync(p)) if (n !== 'node_modules') walk(join(p, n));
    } else t = Math.max(t, st.mtimeMs);
  };
  paths.forEach((p) => walk(join(root, p)));
  return t;
}

export function ensureInstalled() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && (!existsSync(lock) || statSync(marker).mtimeMs >= statSync(lock).mtimeMs)) return;
  console.log('winnow setup: installing dependencies (first run)…');
  // `npm ci` installs exactly the lock, and fails when package.json and the lock disagree, so lock drift is caught
  // here and in CI instead of being papered over by `npm install` rewriting the lock.
  // Electron's binary is fetched separately below, so a machine that cannot download it still installs.
  const verb = existsSync(lock) ? 'ci' : 'install';
  run('npm', [verb, '--no-audit', '--no-fund'], { env: { ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } });
  if (!process.env.CI && process.env.WINNOW_NO_ELECTRON !== '1') {
    const ok = run('node', ['node_modules/electron/install.js'], { allowFail: true, stdio: 'ignore' });
    if (!ok) console.log('winnow setup: no Electron binary could be downloaded — Winnow will run in browser mode.');
  }
}

export function ensureBuilt() {
  const out = join(root, 'out', 'main', 'server.js');
  const built = existsSync(out) ? statSync(out).mtimeMs : 0;
  const src = newest(['main', 'preload', 'renderer', 'electron.vite.config.ts', 'package.json']);
  if (built >= src) return;
  console.log('winnow setup: building…');
  run('npx', ['electron-vite', 'build']);
}

/** Path of the Electron binary when one is installed, else null. */
export function electronBinary() {
  const pathFile = join(root, 'node_modules', 'electron', 'path.txt');
  if (!existsSync(pathFile)) return null;
  const bin = join(root, 'node_modules', 'electron', 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(bin) ? bin : null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureInstalled();
  ensureBuilt();
}
