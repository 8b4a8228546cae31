/**
 * The Examples table on a big project, in Chromium driven by Playwright against the built browser-mode server:
 * time from a sort click, and from a filter click (a histogram bin, then a double-click to clear it), to the first page
 * painted, p50/p95 over repeated clicks; and
 * whether scrolling leaves blank rows once it stops. Target (issue 6): p95 < 200 ms at 1,000,000 rows.
 *
 *   npx tsx bench/ui-table.ts --project /path/to/big.winnow    (e.g. one kept by `bench/import.ts --keep DIR`)
 *   --out DIR: the build to serve (default out/; a copy keeps a long run safe from rebuilds)
 *   npx tsx bench/ui-table.ts --rows 1000000 [--keep FILE]     (a synthetic project: rows and three signal columns,
 *                                                               no renders; quicker to make than a real import)
 *
 * Each click is split into: click → the page request sent (React work before it), the engine round trip, and
 * response → first page painted (React render and paint); the WebSocket is wrapped to time the request.
 *
 * The project file is opened read-write (its WAL beside it). Needs `npm run build` and /usr/bin/chromium.
 * Writes bench/results/ui-table.json.
 */
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createDataset, exampleBatchInserter, openProjectDb, setDatasetRowCount, writeExampleSignals } from '../main/engine/db';
import { mulberry32 } from '../main/engine/util/random';
import { ROOT, pct, serveAndBrowse } from './ui-lib';



/** A project of `n` synthetic rows with three signal columns (a tenth unscored), written straight into SQLite. */
function makeProject(file: string, n: number): void {
  const db = openProjectDb(file);
  const ds = createDataset(db, { name: 'synthetic', sourcePath: 'bench', format: 'jsonl', mapping: { format: 'question_answer', question: 'question', answer: 'answer' }, hash: 'bench' });
  const insert = exampleBatchInserter(db, ds);
  db.transaction(() => {
    for (let start = 0; start < n; start += 4096) {
      const m = Math.min(4096, n - start);
      const raws = Array.from({ length: m }, (_, i) => `{"question":"Question ${start + i}: how many apples?","answer":"Answer ${start + i}"}`);
      insert(start, raws, raws.map((_, i) => `h${start + i}`), raws.map((r) => r.length));
    }
  })();
  setDatasetRowCount(db, ds, n);
  const rnd = mulberry32(7);
  const ids = db.prepare('SELECT id FROM examples ORDER BY id').pluck().all() as number[];
  writeExampleSignals(db, null, ['mean_loss', 'ifd', 'ppl'], ids.map((id) => [id, rnd() < 0.1 ? null : 3 * rnd(), 0.5 + rnd(), Math.exp(1 + rnd())]));
  db.close();
}

/** In the page, before the app loads: time every examples.query request and its answer on the WebSocket. */
const WS_TIMING = `(() => {
  const Native = window.WebSocket;
  window.__wsLog = [];
  window.WebSocket = class extends Native {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (m) => {
        const s = String(m.data);
        const id = /"id":(\\d+)/.exec(s.slice(0, 64));
        if (id) window.__wsLog.push({ t: performance.now(), dir: 'in', id: Number(id[1]) });
      });
    }
    send(data) {
      const s = String(data);
      if (s.includes('"examples.query"')) {
        const id = /"id":(\\d+)/.exec(s);
        window.__wsLog.push({ t: performance.now(), dir: 'out', id: id ? Number(id[1]) : -1, first: /"offset":0[,}]/.test(s) });
      }
      return super.send(data);
    }
  };
})();`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { project: { type: 'string' }, rows: { type: 'string' }, keep: { type: 'string' }, out: { type: 'string' }, clicks: { type: 'string', default: '20' } } });
  if (!values.project && !values.rows) throw new Error('give --project FILE.winnow (a project with many rows; bench/import.ts --keep makes one) or --rows N');
  if (!values.project) {
    const file = values.keep ?? join(mkdtempSync(join(tmpdir(), 'winnow-ui-rows-')), 'bench.winnow');
    if (!existsSync(file)) {
      const t = performance.now();
      makeProject(file, Number(values.rows));
      console.log(`made ${file}: ${Number(values.rows).toLocaleString()} rows in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    }
    values.project = file;
  }
  const home = mkdtempSync(join(tmpdir(), 'winnow-ui-bench-'));
  mkdirSync(join(home, 'projects', 'big'), { recursive: true });
  symlinkSync(resolve(values.project), join(home, 'projects', 'big', 'project.winnow'));
  const { url, browser, close } = await serveAndBrowse(home, 'big', values.out);
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.addInitScript(WS_TIMING);
    await page.goto(url);
    await page.getByTestId('nav-examples').click();
    const table = page.getByTestId('examples-table');
    await page.waitForSelector('[data-testid="examples-row"]', { timeout: 120_000 });
    const total = Number(await page.getByTestId('examples-count').getAttribute('data-total'));
    const sortable: string[] = [];
    for (const el of await page.locator('[data-testid^="sort-"]').all()) sortable.push((await el.getAttribute('data-testid'))!);
    const columns = sortable.filter((id) => id !== 'sort-row_index').slice(0, 3).concat('sort-row_index');

    // one measurement, in the page: `pre` (untimed), a frame, then `act` — timed until the table is settled and shows
    // rows (frame by frame). A string, so the bundler's helper names do not leak into the page.
    const timeAction = (pre: string, act: string) =>
      page.evaluate(`(async () => {
        const tableEl = document.querySelector('[data-testid="examples-table"]');
        const firstRow = () => document.querySelector('[data-testid="examples-row"]')?.textContent ?? '';
        ${pre};
        await new Promise((r) => requestAnimationFrame(() => r(null)));
        const t0 = performance.now();
        let sawLoading = tableEl.getAttribute('data-loading') === 'true';
        const seen = new MutationObserver(() => { if (tableEl.getAttribute('data-loading') === 'true') sawLoading = true; });
        seen.observe(tableEl, { attributes: true, attributeFilter: ['data-loading'] });
        ${act};
        try {
          for (;;) {
            await new Promise((r) => requestAnimationFrame(() => r(null)));
            if (tableEl.getAttribute('data-loading') === 'true') sawLoading = true;
            if (sawLoading && tableEl.getAttribute('data-loading') === 'false' && firstRow() !== '') {
              const total = performance.now() - t0;
              const out = window.__wsLog.find((e) => e.dir === 'out' && e.first && e.t >= t0);
              const back = out && window.__wsLog.find((e) => e.dir === 'in' && e.id === out.id);
              window.__last = out && back ? { send: out.t - t0, trip: back.t - out.t, paint: t0 + total - back.t } : null;
              return total;
            }
            if (performance.now() - t0 > 60000) return NaN;
          }
        } finally { seen.disconnect(); }
      })()`) as Promise<number>;
    const timeClick = (testId: string) => timeAction('', `document.querySelector('[data-testid="${testId}"]').click()`);
    /** a click on a column histogram at `frac` of its width (pointer down, a frame, pointer up: the filter applies on
     * release), or a double-click that clears it */
    const histAt = (column: string) => `const svg = document.querySelector('[data-testid="hist-${column}"] svg');
        const box = svg.getBoundingClientRect();
        const at = (f) => ({ bubbles: true, pointerId: 1, isPrimary: true, clientX: box.left + box.width * f, clientY: box.top + box.height / 2 })`;
    const timeBrush = (column: string, frac: number) =>
      timeAction(`${histAt(column)}; svg.dispatchEvent(new PointerEvent('pointerdown', at(${frac})))`, `svg.dispatchEvent(new PointerEvent('pointerup', at(${frac})))`);
    const timeClear = (column: string) => timeAction(histAt(column), `svg.dispatchEvent(new MouseEvent('dblclick', { bubbles: true }))`);
    const lastBreakdown = () => page.evaluate('window.__last') as Promise<{ send: number; trip: number; paint: number } | null>;

    // the first click on each column reads its index from disk (cold cache): timed, reported apart
    const coldMs: Record<string, number> = {};
    for (const col of columns) {
      coldMs[col] = Math.round(await timeClick(col));
      await timeClick(col);
      await timeClick(col); // desc → asc → none: back where it started
    }
    const sortMs: number[] = [];
    const clicks = Number(values.clicks);
    const perColumn: Record<string, number[]> = {};
    const parts = { send: [] as number[], trip: [] as number[], paint: [] as number[] };
    for (let i = 0; i < clicks; i++) {
      const col = columns[i % columns.length]!;
      const ms = await timeClick(col);
      if (Number.isFinite(ms)) sortMs.push(ms);
      (perColumn[col] ??= []).push(Math.round(ms));
      const b = await lastBreakdown();
      if (b) for (const k of ['send', 'trip', 'paint'] as const) parts[k].push(b[k]);
    }
    const breakdown = Object.fromEntries(Object.entries(parts).map(([k, xs]) => [k, { p50: +pct(xs, 50).toFixed(1), p95: +pct(xs, 95).toFixed(1) }]));
    console.log('click → request sent / engine round trip / response → painted (ms):', JSON.stringify(breakdown));
    console.log('per column (ms):', JSON.stringify(perColumn));

    // filter clicks: a click on a signal column's histogram (one bin's range), then a double-click that clears it,
    // cycling over the histogram columns and bins
    const hists: string[] = [];
    for (const el of await page.locator('[data-testid^="hist-"]').all()) {
      const id = (await el.getAttribute('data-testid'))!.slice('hist-'.length);
      if (Number(await el.getAttribute('data-total')) > 0 && (await el.locator('svg').count()) > 0 && id !== 'row_index') hists.push(id);
    }
    const filterMs: number[] = [];
    const filterPerColumn: Record<string, number[]> = {};
    const filterParts = { send: [] as number[], trip: [] as number[], paint: [] as number[] };
    console.log('histograms with values:', hists.join(', ') || 'none (no filter clicks timed)');
    for (let i = 0; i < clicks && hists.length; i++) {
      const col = hists[i % hists.length]!;
      await page.waitForSelector(`[data-testid="hist-${col}"][data-loading="false"]`);
      for (const run of [() => timeBrush(col, [0.15, 0.45, 0.7, 0.3][i % 4]!), () => timeClear(col)]) {
        const ms = await run();
        if (Number.isFinite(ms)) filterMs.push(ms);
        (filterPerColumn[col] ??= []).push(Math.round(ms));
        const b = await lastBreakdown();
        if (b) for (const k of ['send', 'trip', 'paint'] as const) filterParts[k].push(b[k]);
      }
    }
    const filterBreakdown = Object.fromEntries(Object.entries(filterParts).map(([k, xs]) => [k, xs.length ? { p50: +pct(xs, 50).toFixed(1), p95: +pct(xs, 95).toFixed(1) } : null]));
    console.log('filter click → request sent / engine round trip / response → painted (ms):', JSON.stringify(filterBreakdown));
    console.log('filter clicks per column (ms; click a bin, then double-click to clear):', JSON.stringify(filterPerColumn));

    // scrolling: jump far, stop, and count rows without text after two frames
    const blanks: number[] = [];
    for (const frac of [0.1, 0.37, 0.5, 0.83, 0.99]) {
      await table.evaluate((el, f) => (el.scrollTop = el.scrollHeight * f), frac);
      await page.waitForSelector('[data-testid="examples-table"][data-loading="false"]');
      await page.waitForTimeout(300);
      blanks.push((await page.locator('[data-testid="examples-row"]').allTextContents()).filter((t) => !t.trim()).length);
    }
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map((x) => +x.toFixed(2)) },
      rows: total,
      project: values.rows ? `synthetic (--rows ${values.rows})` : values.project,
      columns,
      coldFirstClickMs: coldMs,
      sortClickToFirstPageMs: { n: sortMs.length, p50: pct(sortMs, 50), p95: pct(sortMs, 95), max: Math.max(...sortMs), perColumn },
      filterClickToFirstPageMs: filterMs.length ? { n: filterMs.length, p50: pct(filterMs, 50), p95: pct(filterMs, 95), max: Math.max(...filterMs), perColumn: filterPerColumn, breakdownMs: filterBreakdown } : null,
      breakdownMs: breakdown,
      blankRowsAfterScrollStops: blanks,
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, `bench/results/ui-table${values.rows ? '-synthetic' : ''}.json`), JSON.stringify(result, null, 2) + '\n');
    console.log(`cold first click per column (ms): ${JSON.stringify(coldMs)}`);
    console.log(`${total.toLocaleString()} rows (warm): sort click → first page painted p50 ${result.sortClickToFirstPageMs.p50.toFixed(0)} ms, p95 ${result.sortClickToFirstPageMs.p95.toFixed(0)} ms (target < 200); blank rows after scrolling stops: ${blanks.join(', ')}`);
    if (result.filterClickToFirstPageMs) {
      console.log(`filter click (histogram bin / clear) → first page painted p50 ${result.filterClickToFirstPageMs.p50.toFixed(0)} ms, p95 ${result.filterClickToFirstPageMs.p95.toFixed(0)} ms (target < 200)`);
    }
  } finally {
    await close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
