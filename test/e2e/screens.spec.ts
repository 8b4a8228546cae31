/**
 * Every screen in the light and the dark theme, empty (a fresh project) and with data (50 GSM8K rows, embeddings and
 * a few signal columns written into the project, K-means clusters), saved as test-results/screens/theme-*.png for a
 * person to look at. Checks only that each screen renders without an error and that empty screens say what to do.
 */
import { expect, test, type Page } from '@playwright/test';
import { existsSync, mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join, resolve } from 'node:path';
import { type RunningServer, startServer } from './server';

const FIXTURE = resolve('test/fixtures/data/gsm8k-50.jsonl');
const SHOTS = resolve('test-results/screens');
mkdirSync(SHOTS, { recursive: true });
const SCREENS = ['data', 'examples', 'map', 'score', 'subsets', 'layers', 'train', 'export'] as const;

let server: RunningServer;
test.describe.configure({ mode: 'serial' });
test.beforeAll(async () => {
  server = await startServer({ project: 'screens' });
});
test.afterAll(async () => {
  await server?.stop();
});

async function visitAll(page: Page, theme: 'light' | 'dark', stage: string): Promise<void> {
  await page.addInitScript(`localStorage.setItem('winnow.theme', '${theme}')`);
  await page.goto(server.url);
  for (const s of SCREENS) {
    await page.getByTestId(`nav-${s}`).click();
    await expect(page.getByTestId(`screen-${s}`)).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
    // let calls settle: nothing says "loading" in the main area
    await expect(page.locator('main [data-loading="true"]')).toHaveCount(0, { timeout: 30_000 });
    await page.screenshot({ path: join(SHOTS, `theme-${stage}-${theme}-${s}.png`) });
  }
}

test('empty project: every screen, both themes; empty screens say what to do next', async ({ page }) => {
  for (const theme of ['light', 'dark'] as const) await visitAll(page, theme, 'empty');
  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('examples-empty')).toContainText('Import a dataset');
  await page.getByTestId('nav-map').click();
  await expect(page.getByTestId('map-empty')).toContainText('Import a dataset');
});

test('with data: every screen, both themes, with an example open and the map coloured by cluster', async ({ page }) => {
  await page.goto(server.url);
  await page.getByTestId('nav-data').click();
  await page.getByTestId('import-path').fill(FIXTURE);
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('dataset-rows').first()).toHaveText('50');
  const dbPath = `${server.home}/projects/screens/project.winnow`;
  test.skip(!existsSync(dbPath), 'needs the server started by this spec (not WINNOW_E2E_URL)');
  const db = new Database(dbPath);
  try {
    const run = Number(db.prepare(`INSERT INTO score_runs (model_id, dataset_id, signals_json, params_json, status, created_at)
      VALUES (NULL, NULL, '["embedding"]', '{}', 'done', datetime('now'))`).run().lastInsertRowid);
    const rows = db.prepare('SELECT id, row_index FROM examples ORDER BY id').all() as Array<{ id: number; row_index: number }>;
    const put = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
    for (const c of ['mean_loss', 'ifd']) db.exec(`ALTER TABLE example_signals ADD COLUMN ${c} REAL`);
    const sig = db.prepare(`INSERT INTO example_signals (example_id, mean_loss, ifd) VALUES (?, ?, ?)
      ON CONFLICT(example_id) DO UPDATE SET mean_loss = excluded.mean_loss, ifd = excluded.ifd`);
    for (const r of rows) {
      const v = Float32Array.from([0, 1, 2, 3].map((t) => (t === r.row_index % 4 ? 6 : 0) + Math.sin(r.row_index * (t + 1))));
      put.run(run, r.id, 'embedding', 4, Buffer.from(v.buffer));
      sig.run(r.id, 2 + Math.sin(r.row_index), 0.5 + (r.row_index % 9) / 10);
    }
  } finally {
    db.close();
  }
  await page.getByTestId('nav-map').click();
  await page.getByTestId('clusters-k').fill('4');
  await page.getByTestId('clusters-run').click();
  await expect(page.getByTestId('clusters-info')).toContainText('k = 4');
  await page.getByTestId('nav-subsets').click();
  await page.getByTestId('subset-kind').selectOption('cluster_quota');
  await page.getByTestId('subset-amount').fill('3');
  await page.getByTestId('subset-name').fill('3-per-cluster');
  await page.getByTestId('subset-create').click();
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '12');

  for (const theme of ['light', 'dark'] as const) {
    await visitAll(page, theme, 'data');
    await page.getByTestId('nav-examples').click();
    await page.locator('[data-testid="examples-row"]').first().click();
    await expect(page.getByTestId('example-detail')).toHaveAttribute('data-loading', 'false');
    await page.screenshot({ path: join(SHOTS, `theme-data-${theme}-example-detail.png`) });
    await page.getByTestId('jobs-indicator').click();
    await expect(page.getByTestId('jobs-drawer')).toBeVisible();
    await page.screenshot({ path: join(SHOTS, `theme-data-${theme}-jobs.png`) });
    await page.getByTestId('jobs-close').click();
  }
});
