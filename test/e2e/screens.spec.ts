/**
 * Every screen in the light and the dark theme, empty (a fresh project) and with data (50 GSM8K rows, embeddings and
 * a few signal columns written into the project, K-means clusters), saved as test-results/screens/theme-*.png for a
 * person to look at. Checks only that each screen renders without an error and that empty screens say what to do.
 */
import { expect, test, type Page } from '@playwright/test';
import { GSM8K_50, importDataset, shooter, useServer, withProjectDb, writeEmbeddings } from './helpers';

const SCREENS = ['home', 'data', 'examples', 'map', 'score', 'subsets', 'layers', 'train', 'playground', 'export'] as const;
const server = useServer('screens');
const shot = shooter('theme-');

async function visitAll(page: Page, theme: 'light' | 'dark', stage: string): Promise<void> {
  await page.addInitScript(`localStorage.setItem('winnow.theme', '${theme}')`);
  await page.goto(server.url);
  for (const s of SCREENS) {
    await page.getByTestId(`nav-${s}`).click();
    await expect(page.getByTestId(`screen-${s}`)).toBeVisible();
    await expect(page.locator('html')).toHaveAttribute('data-theme', theme);
    // let calls settle: nothing says "loading" in the main area
    await expect(page.locator('main [data-loading="true"]')).toHaveCount(0, { timeout: 30_000 });
    await shot(page, `${stage}-${theme}-${s}`);
  }
}

test('empty project: every screen, both themes; empty screens say what to do next', async ({ page }) => {
  for (const theme of ['light', 'dark'] as const) await visitAll(page, theme, 'empty');
  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('examples-empty')).toContainText('Import a dataset');
  await page.getByTestId('nav-map').click();
  await expect(page.getByTestId('map-empty')).toContainText('Import a dataset');
  await page.getByTestId('nav-export').click();
  await expect(page.getByTestId('export-empty')).toContainText('Import a dataset');
  await expect(page.getByTestId('export-start')).toHaveCount(0);
});

test('with data: every screen, both themes, with an example open and the map coloured by cluster', async ({ page }) => {
  await importDataset(page, server, GSM8K_50, 50);
  withProjectDb(server, 'screens', (db) =>
    writeEmbeddings(db, (row) => [0, 1, 2, 3].map((t) => (t === row % 4 ? 6 : 0) + Math.sin(row * (t + 1))), {
      mean_loss: (row) => 2 + Math.sin(row),
      ifd: (row) => 0.5 + (row % 9) / 10,
    }),
  );
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
    await shot(page, `data-${theme}-example-detail`);
    await page.getByTestId('jobs-indicator').click();
    await expect(page.getByTestId('jobs-drawer')).toBeVisible();
    await shot(page, `data-${theme}-jobs`);
    await page.getByTestId('jobs-close').click();
  }
});
