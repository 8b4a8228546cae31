// Runs electronegativity (Electron security lint) over the Electron-facing files and fails on any finding that is
// not fixed or justified in README.md ("Security review"). Part of `npm test`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
  const electron = JSON.parse(readFileSync(join(root, 'node_modules/electron/package.json'), 'utf8')).version;
  // The tool sometimes exits before its CSV is fully written (it also tries, and fails, to fetch Electron's release
  // list offline): a findings file with a short or unterminated row is read again from a fresh run.
  let rows = null;
  for (let attempt = 1; attempt <= 3 && !rows; attempt++) {
    const csv = join(stage, `findings-${attempt}.csv`);
    const r = spawnSync('npx', ['electronegativity', '-i', stage, '-r', '-e', electron, '-v', 'false', '-o', csv], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(r.stdout, r.stderr);
      process.exit(1);
    }
    const text = existsSync(csv) ? readFileSync(csv, 'utf8') : '';
    const parsed = parseCsv(text).slice(1).filter((row) => row.length > 1 || row[0] !== '');
    // a complete file starts with the header and ends with a newline, and every row has its 8 fields
    if (text.startsWith('issue') && text.endsWith('\n') && parsed.every((row) => row.length >= 8)) rows = parsed;
    else console.log(`electronegativity: incomplete findings file (attempt ${attempt}); running it again`);
  }
  if (!rows) {
    console.error('electronegativity: no complete findings file after 3 runs');
    process.exit(1);
  }
  let bad = 0;
  for (const row of rows) {
    const key = `${row[0].trim()} ${row[3].trim()}`;
    if (JUSTIFIED[key]) console.log(`electronegativity: ${key} — justified: ${JUSTIFIED[key]}`);
    else {
      console.error(`electronegativity: UNRESOLVED ${row.join(' | ')}`);
      bad++;
    }
  }
  console.log(`electronegativity: ${rows.length} finding(s), ${bad} unresolved`);
  process.exit(bad ? 1 : 0);
} finally {
  rmSync(stage, { recursive: true, force: true });
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. An unterminated quote yields a short row. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else if (c !== '\r') field += c;
  }
  if (quoted) return [...rows, ['']]; // truncated mid-field: report as incomplete
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}
