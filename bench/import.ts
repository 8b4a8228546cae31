/**
 * Import benchmark (not part of npm test): `npx tsx bench/import.ts [--rows 1000000] [--keep DIR] [--no-render]`
 * 1. writes a GSM8K-like JSONL of --rows rows in a tmp dir (or DIR with --keep, so bench/query.ts can reuse it);
 * 2. imports it into a fresh project (one transaction: rows + FTS);
 * 3. renders it with the demo model's tokenizer (resources/models/stories260K);
 * 4. computes the duplicate signals.
 * Each phase reports rows/s and its RSS peak; VmHWM is the process's peak so far. Results: bench/results/import.json.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openProjectDb } from '../main/engine/db/open';
import { importDataset } from '../main/engine/data/import';
import { renderDataset } from '../main/engine/data/renderDataset';
import { computeDuplicates } from '../main/engine/data/duplicates';
import { loadTokenizer } from '../main/engine/models/tokenizer';
import { writeGsm8kLike } from './import-data';
import { arg, machine, vmHwmMiB, withRssPeak, writeResult } from './import-stats';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rows = Number(arg('rows') ?? 1_000_000);
const keep = arg('keep');
const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'winnow-bench-'));
mkdirSync(dir, { recursive: true });
const data = join(dir, `gsm8k-like-${rows}.jsonl`);
const project = join(dir, 'bench.winnow');
const log = (s: string) => console.log(`[bench:import] ${s}`);

async function main() {
  const phases: Record<string, unknown> = {};
  if (!existsSync(data)) {
    const t = performance.now();
    const bytes = await writeGsm8kLike(data, rows);
    log(`wrote ${rows} rows (${(bytes / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const fileMiB = Math.round(statSync(data).size / 2 ** 20);
  for (const f of [project, `${project}-wal`, `${project}-shm`]) rmSync(f, { force: true });
  const db = openProjectDb(project);

  let t = performance.now();
  const imp = await withRssPeak(() => importDataset(db, { path: data }));
  let s = (performance.now() - t) / 1000;
  phases.import = { rows: imp.value.rows, seconds: +s.toFixed(2), rowsPerSec: Math.round(imp.value.rows / s), rssPeakMiB: imp.rssPeakMiB, vmHwmMiB: vmHwmMiB() };
  log(`import: ${JSON.stringify(phases.import)}`);
  const datasetId = imp.value.datasetId;

  if (!process.argv.includes('--no-render')) {
    const tok = await loadTokenizer(join(ROOT, 'resources/models/stories260K'));
    t = performance.now();
    const r = await withRssPeak(() => renderDataset(db, datasetId, tok, {
      labelPolicy: 'assistant',
      onProgress: (done, total) => { if (done % 100_000 < 1000) log(`render ${done}/${total}`); },
    }));
    s = (performance.now() - t) / 1000;
    phases.render = { ...r.value, seconds: +s.toFixed(2), rowsPerSec: Math.round(rows / s), rssPeakMiB: r.rssPeakMiB, vmHwmMiB: vmHwmMiB() };
    log(`render: ${JSON.stringify(phases.render)}`);
    phases.importPlusRender = { seconds: +((phases.import as { seconds: number }).seconds + s).toFixed(2) };
  }

  t = performance.now();
  const d = await withRssPeak(() => computeDuplicates(db, datasetId));
  s = (performance.now() - t) / 1000;
  phases.duplicates = { ...d.value, seconds: +s.toFixed(2), rowsPerSec: Math.round(rows / s), rssPeakMiB: d.rssPeakMiB, vmHwmMiB: vmHwmMiB() };
  log(`duplicates: ${JSON.stringify(phases.duplicates)}`);
  db.close();

  const dbMiB = Math.round(statSync(project).size / 2 ** 20);
  const file = writeResult('import.json', { machine: machine(), rows, fileMiB, projectDbMiB: dbMiB, project: keep ? project : null, phases });
  log(`wrote ${file}`);
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => { console.error(err); process.exit(1); });
