// Runs electronegativity (Electron security lint) over the Electron-facing files and fails on any finding that is
// not fixed or justified in README.md ("Security review"). Part of `npm test`.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from './setup.mjs';

// Each accepted finding: check id + file, with the reason (mirrored in README.md).
const JUSTIFIED = {
  'CSP_GLOBAL_CHECK renderer/index.html': "style-src 'unsafe-inline' is needed for React style attributes; scripts stay 'self' only",
  'PRELOAD_JS_CHECK main/index.ts': 'the preload exposes only the contract (call, onEvent, pickFile) via contextBridge, sandboxed',
};

const stage = mkdtempSync(join(tmpdir(), 'winnow-eneg-'));
try {
  for (const f of ['main/index.ts', 'preload/index.ts', 'renderer/index.html', 'package.json']) {
    mkdirSync(join(stage, f, '..'), { recursive: true });
    cpSync(join(root, f), join(stage, f));
  }
  const csv = join(stage, 'findings.csv');
  const electron = JSON.parse(readFileSync(join(root, 'node_modules/electron/package.json'), 'utf8')).version;
  const r = spawnSync('npx', ['electronegativity', '-i', stage, '-r', '-e', electron, '-v', 'false', '-o', csv], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    process.exit(1);
  }
  const rows = readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  let bad = 0;
  for (const row of rows) {
    const key = `${row[0]} ${row[3].replace(/"/g, '')}`;
    if (JUSTIFIED[key]) console.log(`electronegativity: ${key} — justified: ${JUSTIFIED[key]}`);
    else {
      console.error(`electronegativity: UNRESOLVED ${row.join(',')}`);
      bad++;
    }
  }
  console.log(`electronegativity: ${rows.length} finding(s), ${bad} unresolved`);
  process.exit(bad ? 1 : 0);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
