/**
 * The Map screen at 100k points, in Chromium driven by Playwright against the built browser-mode server: hover
 * response (pointer move → hovered row shown, next frame), redraw after a lasso pick, wheel zoom and shift-drag pan,
 * and a colour change (which includes the engine round trip), p50/p95 each, for the WebGL scatter and the 2-D canvas
 * (pixel buffer) path in the same run. Target (issue 6): hover and redraw well under 100 ms. Without a GPU the app
 * picks the canvas path (WebGL there is SwiftShader, bound by per-point setup at ~150 ms a frame).
 *
 *   npx tsx bench/ui-map.ts [--points 100000] [--dim 64] [--reps 40] [--out DIR (the build to serve; default out/)]
 *
 * Makes a throwaway project (synthetic rows, embeddings from a mixture of Gaussians, two signal columns). Needs
 * `npm run build` and /usr/bin/chromium (run with --disable-gpu, as the e2e tests: WebGL is SwiftShader on the CPU).
 * Writes bench/results/ui-map.json.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from '@playwright/test';
import { createDataset, exampleBatchInserter, openProjectDb, setDatasetRowCount, toBlob, writeExampleSignals } from '../main/engine/db';
import { addModel } from '../main/engine/api/models-registry';
import { mulberry32 } from '../main/engine/util/random';
import { ROOT, pct, serveAndBrowse } from './ui-lib';


const stats = (xs: number[]) => ({ n: xs.length, p50: +pct(xs, 50).toFixed(1), p95: +pct(xs, 95).toFixed(1), max: +Math.max(...xs).toFixed(1) });

function makeProject(file: string, n: number, dim: number): void {
  const db = openProjectDb(file);
  addModel(db, join(ROOT, 'resources/models/stories260K'), { name: 'stories260K (demo)' });
  const ds = createDataset(db, { name: 'synthetic', sourcePath: 'bench', format: 'jsonl', mapping: { format: 'question_answer', question: 'question', answer: 'answer' }, hash: 'bench' });
  const insert = exampleBatchInserter(db, ds);
  const rand = mulberry32(1);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  db.transaction(() => {
    for (let start = 0; start < n; start += 1000) {
      const m = Math.min(1000, n - start);
      const raws = Array.from({ length: m }, (_, i) => JSON.stringify({ question: `Question ${start + i}: how many apples?`, answer: `Answer ${start + i}: ${(start + i) % 97}` }));
      insert(start, raws, raws.map((_, i) => `h${start + i}`), raws.map((r) => r.length));
    }
  })();
  setDatasetRowCount(db, ds, n);
  const ids = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(ds) as number[];
  // twelve Gaussian blobs of different widths in `dim` dimensions
  const centres = Array.from({ length: 12 }, () => Float32Array.from({ length: dim }, () => 6 * gauss()));
  const run = Number(db.prepare(`INSERT INTO score_runs (signals_json, params_json, status, created_at) VALUES ('["embedding"]', '{}', 'done', datetime('now'))`).run().lastInsertRowid);
  const put = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
  const blobOf: number[] = [];
  db.transaction(() => {
    ids.forEach((id, i) => {
      const b = Math.floor(rand() * 12);
      blobOf[i] = b;
      const c = centres[b]!;
      put.run(run, id, 'embedding', dim, toBlob(Float32Array.from(c, (x) => x + (0.5 + b / 6) * gauss())));
    });
  })();
  writeExampleSignals(db, null, ['mean_loss', 'ifd'], ids.map((id, i) => [id, 2 + blobOf[i]! / 4 + gauss() * 0.3, rand() * 1.5]));
  db.close();
}

/** In the page: dispatch an event on the canvas and wait until `done()` holds, then one more frame (painted). */
const TIMERS = `
window.__until = async (done, t0, limit) => {
  for (;;) {
    await new Promise((r) => requestAnimationFrame(() => r(null)));
    if (done()) { await new Promise((r) => requestAnimationFrame(() => r(null))); return performance.now() - t0; }
    if (performance.now() - t0 > (limit || 30000)) return NaN;
  }
};
window.__canvas = () => document.querySelector('[data-testid="map-canvas"]');
window.__fire = (type, x, y, extra) => {
  const c = window.__canvas();
  const r = c.getBoundingClientRect();
  c.dispatchEvent(new PointerEvent(type, { clientX: r.left + x, clientY: r.top + y, bubbles: true, pointerId: 1, isPrimary: true, button: 0, buttons: type === 'pointerup' ? 0 : 1, ...(extra || {}) }));
};
`;

async function measure(page: Page, reps: number) {
  await page.evaluate(TIMERS);
  const size = (await page.evaluate(`(() => {
    const r = document.querySelector('[data-testid="map-canvas"]').getBoundingClientRect();
    return { w: r.width, h: r.height };
  })()`)) as { w: number; h: number };
  // hover: a spiral of pointer positions over the middle; timed when the hovered row changes (to another row or to
  // none); a move that changes nothing within 500 ms is counted as a miss
  const hover: number[] = [];
  let misses = 0;
  for (let i = 0; hover.length < reps && i < reps * 20; i++) {
    const a = i * 0.7;
    const rr = 10 + (i % 60) * 4;
    const x = size.w / 2 + rr * Math.cos(a);
    const y = size.h / 2 + rr * Math.sin(a);
    const ms = (await page.evaluate(`(async () => {
      const el = document.querySelector('[data-testid="map-hover"]');
      const before = el.getAttribute('data-example-id');
      const t0 = performance.now();
      window.__fire('pointermove', ${x}, ${y}, { buttons: 0 });
      return window.__until(() => el.getAttribute('data-example-id') !== before, t0, 500);
    })()`)) as number;
    if (Number.isFinite(ms)) hover.push(ms);
    else misses++;
  }
  const drawsOf = `Number(window.__canvas().dataset.draws || 0)`;
  const redraw = async (action: string) =>
    (await page.evaluate(`(async () => { const d0 = ${drawsOf}; const t0 = performance.now(); ${action}; return window.__until(() => ${drawsOf} > d0, t0); })()`)) as number;
  // lasso: a box around the middle third, then a click (an empty lasso) to clear it
  const lasso: number[] = [];
  const drawMs: number[] = [];
  for (let i = 0; i < Math.min(reps, 20); i++) {
    const [x0, y0, x1, y1] = [size.w / 3, size.h / 3, (2 * size.w) / 3 + i, (2 * size.h) / 3];
    await page.evaluate(`window.__fire('pointerdown', ${x0}, ${y0}); window.__fire('pointermove', ${x1}, ${y0}); window.__fire('pointermove', ${x1}, ${y1}); window.__fire('pointermove', ${x0}, ${y1}); window.__fire('pointermove', ${x0}, ${y0 + 2})`);
    lasso.push(await redraw(`window.__fire('pointerup', ${x0}, ${y0 + 2})`));
    drawMs.push(Number(await page.evaluate(`window.__canvas().dataset.drawMs`)));
    await page.evaluate(`window.__fire('pointerdown', 5, 5)`);
    await redraw(`window.__fire('pointerup', 5, 5)`);
  }
  const zoom: number[] = [];
  const panMs: number[] = [];
  for (let i = 0; i < reps; i++) {
    zoom.push(await redraw(`window.__canvas().dispatchEvent(new WheelEvent('wheel', { deltaY: ${i % 2 ? 120 : -120}, clientX: 400, clientY: 300, bubbles: true }))`));
    await page.evaluate(`window.__fire('pointerdown', 300, 300, { shiftKey: true })`);
    panMs.push(await redraw(`window.__fire('pointermove', ${300 + (i % 2 ? -15 : 15)}, 310, { shiftKey: true })`));
    await page.evaluate(`window.__fire('pointerup', 300, 310)`);
  }
  // colour change: the engine sends the new column's values (and, before valuesOnly, the points again), then colours
  // and a redraw; timed to the first frame drawn after the answer arrived (data-loading false)
  const colour: number[] = [];
  for (let i = 0; i < Math.min(reps, 10); i++) {
    const to = i % 2 ? 'mean_loss' : 'ifd';
    colour.push(
      (await page.evaluate(`(async () => {
        const d0 = ${drawsOf};
        const t0 = performance.now();
        const s = document.querySelector('[data-testid="map-signal"]');
        Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(s, '${to}');
        s.dispatchEvent(new Event('change', { bubbles: true }));
        return window.__until(() => ${drawsOf} > d0 && window.__canvas().dataset.loading === 'false', t0);
      })()`)) as number,
    );
  }
  return { hover: { ...stats(hover), movesWithoutChange: misses }, lassoRedraw: stats(lasso), drawCallMs: stats(drawMs), wheelZoom: stats(zoom), pan: stats(panMs), colourChange: stats(colour) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { points: { type: 'string', default: '100000' }, dim: { type: 'string', default: '64' }, reps: { type: 'string', default: '40' }, out: { type: 'string' } } });
  const n = Number(values.points);
  const home = mkdtempSync(join(tmpdir(), 'winnow-map-bench-'));
  const t = performance.now();
  mkdirSync(join(home, 'projects', 'map'), { recursive: true });
  makeProject(join(home, 'projects', 'map', 'project.winnow'), n, Number(values.dim));
  console.log(`project with ${n.toLocaleString()} rows and ${values.dim}-d embeddings made in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const { url, browser, close } = await serveAndBrowse(home, 'map', values.out);
  const results: Record<string, unknown> = {};
  try {
    for (const mode of ['webgl', 'canvas'] as const) {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      const u = new URL(url);
      u.searchParams.set('scatter', mode);
      const t0 = Date.now();
      await page.goto(`${u.toString()}#/map`);
      await page.waitForSelector(`[data-testid="map-canvas"][data-points="${n}"][data-draws]`, { timeout: 600_000 });
      const firstDrawS = (Date.now() - t0) / 1000;
      const renderer = await page.getByTestId('map-canvas').getAttribute('data-renderer');
      const gpu = (await page.evaluate(`(() => {
        const gl = document.createElement('canvas').getContext('webgl2');
        const ext = gl && gl.getExtension('WEBGL_debug_renderer_info');
        return gl && ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : null;
      })()`)) as string | null;
      const m = await measure(page, Number(values.reps));
      results[mode] = { renderer, gpu, openToFirstDrawS: firstDrawS, ...m };
      console.log(`${mode} (${renderer}): open → first draw ${firstDrawS.toFixed(1)} s; ${JSON.stringify(m)}`);
      await page.close();
    }
    const out = { date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map((x) => +x.toFixed(2)) }, points: n, dim: Number(values.dim), ...results };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/ui-map.json'), JSON.stringify(out, null, 2) + '\n');
  } finally {
    await close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
