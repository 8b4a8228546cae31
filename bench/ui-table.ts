/**
 * The Examples table on a big project, in Chromium driven by Playwright against the built browser-mode server:
 * time from a sort click (or a quick-filter change) to the first page painted, p50/p95 over repeated clicks; and
 * whether scrolling leaves blank rows once it stops. Target (issue 6): p95 < 200 ms at 1,000,000 rows.
 *
 *   npx tsx bench/ui-table.ts --project /path/to/big.winnow    (e.g. one kept by `bench/import.ts --keep DIR`)
 *
 * The project file is opened read-write (its WAL beside it). Needs `npm run build` and /usr/bin/chromium.
 * Writes bench/results/ui-table.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';

const ROOT = resolve(import.meta.dirname, '..');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { project: { type: 'string' }, clicks: { type: 'string', default: '20' } } });
  if (!values.project) throw new Error('give --project FILE.winnow (a project with many rows; bench/import.ts --keep makes one)');
  const home = mkdtempSync(join(tmpdir(), 'winnow-ui-bench-'));
  mkdirSync(join(home, 'projects', 'big'), { recursive: true });
  symlinkSync(resolve(values.project), join(home, 'projects', 'big', 'project.winnow'));
  const server = spawn(process.execPath, [join(ROOT, 'out/main/server.js'), '--port', '0', '--home', home, '--project', 'big'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((ok, fail) => {
    let log = '';
    server.stdout!.on('data', (c: Buffer) => {
      log += c.toString();
      const m = /WINNOW_URL=(\S+)/.exec(log);
      if (m) ok(m[1]!);
    });
    server.once('exit', (code) => fail(new Error(`server exited ${code}`)));
  });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(url);
    await page.getByTestId('nav-examples').click();
    const table = page.getByTestId('examples-table');
    await page.waitForSelector('[data-testid="examples-row"]', { timeout: 120_000 });
    const total = Number(await page.getByTestId('examples-count').getAttribute('data-total'));
    const sortable: string[] = [];
    for (const el of await page.locator('[data-testid^="sort-"]').all()) sortable.push((await el.getAttribute('data-testid'))!);
    const columns = sortable.filter((id) => id !== 'sort-row_index').slice(0, 3).concat('sort-row_index');

    // one measurement, in the page: click, then wait (frame by frame) until the table is settled and its first row changed
    // (a string, so the bundler's helper names do not leak into the page)
    const timeClick = (testId: string) =>
      page.evaluate(`(async (id) => {
        const tableEl = document.querySelector('[data-testid="examples-table"]');
        const firstRow = () => document.querySelector('[data-testid="examples-row"]')?.textContent ?? '';
        const t0 = performance.now();
        let sawLoading = false;
        const seen = new MutationObserver(() => { if (tableEl.getAttribute('data-loading') === 'true') sawLoading = true; });
        seen.observe(tableEl, { attributes: true, attributeFilter: ['data-loading'] });
        document.querySelector('[data-testid="' + id + '"]').click();
        try {
          for (;;) {
            await new Promise((r) => requestAnimationFrame(() => r(null)));
            if (tableEl.getAttribute('data-loading') === 'true') sawLoading = true;
            if (sawLoading && tableEl.getAttribute('data-loading') === 'false' && firstRow() !== '') return performance.now() - t0;
            if (performance.now() - t0 > 60000) return NaN;
          }
        } finally { seen.disconnect(); }
      })(${JSON.stringify(testId)})`) as Promise<number>;

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
    for (let i = 0; i < clicks; i++) {
      const col = columns[i % columns.length]!;
      const ms = await timeClick(col);
      if (Number.isFinite(ms)) sortMs.push(ms);
      (perColumn[col] ??= []).push(Math.round(ms));
    }
    console.log('per column (ms):', JSON.stringify(perColumn));

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
      machine: { cpus: cpus().length, model: cpus()[0]?.model },
      rows: total,
      columns,
      coldFirstClickMs: coldMs,
      sortClickToFirstPageMs: { n: sortMs.length, p50: pct(sortMs, 50), p95: pct(sortMs, 95), max: Math.max(...sortMs), perColumn },
      blankRowsAfterScrollStops: blanks,
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/ui-table.json'), JSON.stringify(result, null, 2) + '\n');
    console.log(`cold first click per column (ms): ${JSON.stringify(coldMs)}`);
    console.log(`${total.toLocaleString()} rows (warm): sort click → first page painted p50 ${result.sortClickToFirstPageMs.p50.toFixed(0)} ms, p95 ${result.sortClickToFirstPageMs.p95.toFixed(0)} ms (target < 200); blank rows after scrolling stops: ${blanks.join(', ')}`);
  } finally {
    await browser.close();
    server.kill('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
