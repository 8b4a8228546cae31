// `npm test`: set up (install, build), then static checks (types, lint, Electron security lint), unit + parity tests
// (vitest) and end-to-end tests (Playwright, Chromium). `npm test -- <part>` runs one of: static, unit, e2e.
import { ensureBuilt, ensureInstalled, run } from './setup.mjs';

ensureInstalled();
ensureBuilt();
const only = process.argv[2];
if (!only || only === 'static') {
  run('npx', ['tsc', '-p', 'tsconfig.node.json', '--noEmit']);
  run('npx', ['tsc', '-p', 'tsconfig.web.json', '--noEmit']);
  run('npx', ['eslint', '.']);
  run('node', ['scripts/security.mjs']);
}
if (!only || only === 'unit') run('npx', ['vitest', 'run']);
if (!only || only === 'e2e') run('npx', ['playwright', 'test']);
