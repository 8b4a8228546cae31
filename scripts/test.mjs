// `npm test`: set up (install, build), then unit + parity tests (vitest) and end-to-end tests (Playwright, Chromium).
import { ensureBuilt, ensureInstalled, run } from './setup.mjs';

ensureInstalled();
ensureBuilt();
const only = process.argv[2];
if (!only || only === 'unit') run('npx', ['vitest', 'run']);
if (!only || only === 'e2e') run('npx', ['playwright', 'test']);
