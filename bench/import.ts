/**
 * Import benchmark (not part of npm test):
 *   npx tsx bench/import.ts [--rows 1000000] [--shape chat|gsm8k] [--keep DIR] [--phases import,duplicates,render,render-project]
 *                           [--render-rows 50000] [--out import.json]
 * - import:     writes a GSM8K-like JSONL of --rows rows (`chat`: messages with a system prompt and sometimes a second
 *               turn, ~1 KB a row, so 1M rows ≈ 1 GB; `gsm8k`: {question, answer}, ~570 B a row; kept in DIR with --keep,
 *               reused when present) and imports it into a fresh project. Timed separately: until the rows are
 *               committed (read, parse, map, hash, insert, n_chars index, commit — from then on the table sorts and
 *               filters them: this is the rows/s figure) and the search index built after the commit;
 * - duplicates: computeDuplicates on that project's dataset (reuses the project in DIR when import is not run);
 * - render:     import + render of the first --render-rows rows (default: all) into a separate project, with the
 *               demo model's tokenizer (resources/models/stories260K): rendering a million rows on a small shared
 *               machine takes long, so it can be measured on a prefix;
 * - render-project: renders every row of the project in DIR (token counts for bench/query.ts and bench/ui-table.ts).
 * Each phase reports rows/s, its RSS peak (sampled) and VmHWM (the process's peak so far), and the load average
 * before and after. Results are merged into bench/results/import.json with machine info. bench/query.ts runs on the
 * project left in DIR.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openProjectDb } from '../main/engine/db/open';
import { importDataset } from '../main/engine/data/import';
import { renderDataset } from '../main/engine/data/renderDataset';
import { computeDuplicates } from '../main/engine/data/duplicates';
import { loadTokenizer } from '../main/engine/models/tokenizer';
import { writeGsm8kLike, type Shape } from './import-data';
import { arg, machine, RESULTS_DIR, vmHwmMiB, withRssPeak, writeResult } from './import-stats';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rows = Number(arg('rows') ?? 1_000_000);
const shape = (arg('shape') ?? 'chat') as Shape;
/** results file under bench/results (phases of the same rows and shape are merged into it) */
const outName = arg('out') ?? 'import.json';
const keep = arg('keep');
const phases = (arg('phases') ?? 'import,duplicates,render').split(',');
const renderRows = Number(arg('render-rows') ?? rows);
const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'winnow-bench-'));
mkdirSync(dir, { recursive: true });
const data = join(dir, `${shape === 'chat' ? 'chat' : 'gsm8k'}-like-${rows}.jsonl`);
const project = join(dir, 'bench.winnow');
const log = (s: string) => console.log(`[bench:import] ${s}`);
const secs = (t: number) => +((performance.now() - t) / 1000).toFixed(2);
const load = () => +loadavg()[0].toFixed(2);

function fresh(file: string) {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  return openProjectDb(file);
}

async function head(src: string, dst: string, n: number): Promise<void> {
  const out = createWriteStream(dst);
  let k = 0;
  for await (const line of createInterface({ input: createReadStream(src) })) {
    if (k++ >= n) break;
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main() {
  const prev = existsSync(join(RESULTS_DIR, outName)) ? JSON.parse(readFileSync(join(RESULTS_DIR, outName), 'utf8')) : {};
  const results: Record<string, unknown> = prev.rows === rows && prev.shape === shape ? { ...(prev.phases ?? {}) } : {};
  if (!existsSync(data)) {
    const t = performance.now();
    const bytes = await writeGsm8kLike(data, rows, 1, shape);
    log(`wrote ${rows} rows (${(bytes / 2 ** 20).toFixed(0)} MiB) in ${secs(t)} s`);
  }

  if (phases.includes('import')) {
    const db = fresh(project);
    const loadBefore = load();
    const t = performance.now();
    let committedAt = 0;
    let checkpointedAt = 0;
    let loadAtCommit = 0;
    // RSS peak until the commit, apart from the whole phase's
    let importPeak = 0;
    const sample = setInterval(() => { if (!committedAt) importPeak = Math.max(importPeak, process.memoryUsage().rss); }, 100);
    const r = await withRssPeak(() => importDataset(db, {
      path: data,
      onPhase: (phase) => {
        if (phase === 'committed') { committedAt = performance.now(); loadAtCommit = load(); }
        if (phase === 'checkpointed') checkpointedAt = performance.now();
      },
      onProgress: (done) => { if (done % 200_000 < 4000) log(`imported ${done}`); },
    }));
    const total = secs(t);
    clearInterval(sample);
    const committed = +((committedAt - t) / 1000).toFixed(2);
    const checkpoint = +((checkpointedAt - committedAt) / 1000).toFixed(2);
    const index = +((performance.now() - checkpointedAt) / 1000).toFixed(2);
    results.import = { date: new Date().toISOString(),
      rows: r.value.rows, rowsPerSec: Math.round(r.value.rows / committed), committedSeconds: committed,
      includes: 'read + parse + map (worker threads) + insert + n_chars index + commit; the rows sort and filter from then on',
      checkpointSeconds: checkpoint,
      textIndexSeconds: index, textIndexRowsPerSec: Math.round(r.value.rows / index),
      totalSeconds: total, totalRowsPerSec: Math.round(r.value.rows / total),
      rssPeakUntilCommitMiB: Math.round(importPeak / 2 ** 20), rssPeakMiB: r.rssPeakMiB, vmHwmMiB: vmHwmMiB(), loadBefore, loadAtCommit, loadAfter: load(),
    };
    log(`import: ${JSON.stringify(results.import)}`);
    db.close();
  }

  if (phases.includes('duplicates')) {
    const db = openProjectDb(project);
    const datasetId = db.prepare('SELECT id FROM datasets ORDER BY row_count DESC LIMIT 1').pluck().get() as number;
    const t = performance.now();
    const d = await withRssPeak(() => computeDuplicates(db, datasetId));
    const s = secs(t);
    results.duplicates = { date: new Date().toISOString(), ...d.value, seconds: s, rowsPerSec: Math.round(d.value.examples / s), rssPeakMiB: d.rssPeakMiB, vmHwmMiB: vmHwmMiB() };
    log(`duplicates: ${JSON.stringify(results.duplicates)}`);
    db.close();
  }

  if (phases.includes('render')) {
    const part = renderRows < rows ? join(dir, `head-${renderRows}.jsonl`) : data;
    if (part !== data && !existsSync(part)) await head(data, part, renderRows);
    const file = join(dir, 'render.winnow');
    const db = fresh(file);
    let t = performance.now();
    const imp = await importDataset(db, { path: part });
    const importS = secs(t);
    const tok = await loadTokenizer(join(ROOT, 'resources/models/stories260K'));
    t = performance.now();
    const r = await withRssPeak(() => renderDataset(db, imp.datasetId, tok, {
      labelPolicy: 'assistant',
      onProgress: (done, total) => { if (done % 50_000 < 1000) log(`render ${done}/${total}`); },
    }));
    const renderS = secs(t);
    results.importPlusRender = { date: new Date().toISOString(),
      rows: imp.rows, importSeconds: importS, importRowsPerSec: Math.round(imp.rows / importS),
      renderSeconds: renderS, renderRowsPerSec: Math.round(imp.rows / renderS), ...r.value,
      totalSeconds: +(importS + renderS).toFixed(2), rssPeakMiB: r.rssPeakMiB, vmHwmMiB: vmHwmMiB(),
    };
    log(`import + render: ${JSON.stringify(results.importPlusRender)}`);
    db.close();
    rmSync(file, { force: true });
  }

  if (phases.includes('render-project')) {
    const db = openProjectDb(project);
    const datasetId = db.prepare('SELECT id FROM datasets ORDER BY row_count DESC LIMIT 1').pluck().get() as number;
    const tok = await loadTokenizer(join(ROOT, 'resources/models/stories260K'));
    const loadBefore = load();
    const t = performance.now();
    const r = await withRssPeak(() => renderDataset(db, datasetId, tok, {
      labelPolicy: 'assistant', maxTokens: 512,
      onProgress: (done, total) => { if (done % 100_000 < 1000) log(`render ${done}/${total}`); },
    }));
    const s2 = secs(t);
    results.renderProject = { date: new Date().toISOString(), ...r.value, seconds: s2, rowsPerSec: Math.round((r.value.rendered + r.value.errors) / s2), rssPeakMiB: r.rssPeakMiB, loadBefore, loadAfter: load() };
    log(`render (project): ${JSON.stringify(results.renderProject)}`);
    db.close();
  }

  const out = writeResult(outName, {
    machine: machine(), rows, shape, fileMiB: Math.round(statSync(data).size / 2 ** 20),
    projectDbMiB: existsSync(project) ? Math.round(statSync(project).size / 2 ** 20) : null, project: keep ? project : null, phases: results,
  });
  log(`wrote ${out}`);
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => { console.error(err); process.exit(1); });
