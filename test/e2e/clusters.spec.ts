/**
 * Clusters, per-cluster quotas, k-center and UMAP in the browser (fresh project): K-means from the Map screen as a
 * job, colour by cluster, the table's cluster filter, the quota and k-center rules on the Subsets screen (k-center as
 * a job, undo/redo), a UMAP layout on request. Embeddings and mean_loss are written straight into the project (scoring
 * is tested elsewhere): three far-apart blobs by row % 3. Screenshots go to test-results/screens/clusters-*.png.
 */
import { expect, test } from '@playwright/test';
import { GSM8K_50, importDataset, shooter, useServer, withProjectDb, writeEmbeddings } from './helpers';

const server = useServer('clusters');
const shot = shooter('clusters-');

test('import, then embeddings (three blobs) and mean_loss written into the project', async ({ page }) => {
  await importDataset(page, server, GSM8K_50, 50);
  withProjectDb(server, 'clusters', (db) =>
    writeEmbeddings(db, (row) => [0, 1, 2, 3].map((t) => (t === row % 3 ? 10 : 0) + ((row * (t + 3)) % 7) / 20), { mean_loss: (row) => row }),
  );
});

test('K-means from the Map: a job, then the map is coloured by cluster and the table filters by it', async ({ page }) => {
  await page.goto(`${server.url}#/map`);
  const canvas = page.getByTestId('map-canvas');
  await expect(canvas).toHaveAttribute('data-points', '50');
  // Chromium here runs with --disable-gpu: WebGL would be SwiftShader, so the map draws on the pixel-buffer canvas
  await expect(canvas).toHaveAttribute('data-renderer', 'canvas');
  await expect(canvas).toHaveAttribute('data-draws', /\d+/);
  await expect(page.getByTestId('clusters-none')).toBeVisible();
  await page.getByTestId('clusters-k').fill('3');
  await page.getByTestId('clusters-seed').fill('1');
  await page.getByTestId('clusters-run').click();
  await expect(page.getByTestId('map-clusters').getByTestId('job-progress')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('clusters-info')).toContainText('k = 3, seed 1');
  await expect(page.getByTestId('map-signal')).toHaveValue('cluster');
  await expect(page.getByTestId('map-legend')).toHaveAttribute('data-clusters', '3');
  await expect(page.getByTestId('clusters-info')).toContainText(/sizes (1[67]) · (1[67]) · (1[67])/);
  await shot(page, '01-map-clusters');

  await page.getByTestId('nav-examples').click();
  const filter = page.getByTestId('cluster-filter');
  await expect(filter).toBeVisible();
  const options = await filter.locator('option').allTextContents();
  expect(options).toHaveLength(4);
  await filter.selectOption({ index: 1 });
  await expect(page.getByTestId('examples-count')).toHaveAttribute('data-loading', 'false');
  const size = Number(/\((\d+)\)/.exec(options[1]!)![1]);
  await expect(page.getByTestId('examples-count')).toHaveText(`${size} rows`);
  // one blob per cluster: every row shown has the same row_index % 3
  const rows = (await page.locator('[data-testid="examples-row"] [data-column="row_index"]').allTextContents()).map(Number);
  expect(new Set(rows.map((r) => r % 3)).size).toBe(1);
  await shot(page, '02-examples-cluster-filter');
  await filter.selectOption('');
  await expect(page.getByTestId('examples-count')).toHaveText('50 rows');
});

test('per-cluster quota and k-center rules; each subset shows its rule; k-center is undone and redone', async ({ page }) => {
  await page.goto(`${server.url}#/subsets`);
  await page.getByTestId('subset-kind').selectOption('cluster_quota');
  await expect(page.getByTestId('subset-cluster-hint')).toContainText('k = 3');
  await page.getByTestId('subset-rank-by').selectOption('mean_loss');
  await page.getByTestId('subset-amount').fill('2');
  await page.getByTestId('subset-name').fill('top2-per-cluster');
  await page.getByTestId('subset-create').click();
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '6');
  const quota = page.locator('[data-testid="subset-row"][data-name="top2-per-cluster"]');
  await expect(quota).toContainText('2 per cluster of K-means run');
  await expect(quota).toContainText('highest by mean_loss');

  await page.getByTestId('subset-kind').selectOption('kcenter');
  await page.getByTestId('subset-amount').fill('3');
  await page.getByTestId('subset-seed').fill('4');
  await page.getByTestId('subset-name').fill('diverse-3');
  await page.getByTestId('subset-create').click();
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '3');
  const kc = page.locator('[data-testid="subset-row"][data-name="diverse-3"]');
  await expect(kc).toContainText('k-center 3 on embedding (seed 4); every row within');
  await shot(page, '03-subsets-cluster-rules');

  await page.getByTestId('subset-undo').click();
  await expect(kc).toHaveCount(0);
  await page.getByTestId('subset-redo').click();
  await expect(kc).toContainText('k-center 3');
  await expect(kc.getByTestId('subset-size')).toHaveText('3');

  // the three picks are one per blob
  await page.getByTestId('nav-examples').click();
  await page.getByTestId('examples-subset').selectOption({ label: 'diverse-3 (3)' });
  await expect(page.getByTestId('examples-count')).toHaveText('3 rows');
  const rows = (await page.locator('[data-testid="examples-row"] [data-column="row_index"]').allTextContents()).map(Number);
  expect(rows.map((r) => r % 3).sort()).toEqual([0, 1, 2]);
});

test('UMAP on request: says what to do, runs as a job, then draws the same points with the same seed', async ({ page }) => {
  // the WebGL path, forced (SwiftShader here), must draw as well
  const u = new URL(server.url);
  u.searchParams.set('scatter', 'webgl');
  await page.goto(`${u.toString()}#/map`);
  await expect(page.getByTestId('map-canvas')).toHaveAttribute('data-renderer', 'webgl');
  await expect(page.getByTestId('map-canvas')).toHaveAttribute('data-draws', /\d+/);
  await page.getByTestId('map-method').selectOption('umap');
  await expect(page.getByTestId('map-empty')).toContainText('No UMAP layout yet');
  await shot(page, '04-umap-empty');
  await page.getByTestId('umap-seed').fill('2');
  await page.getByTestId('umap-neighbors').fill('8');
  await page.getByTestId('umap-run').click();
  await expect(page.locator('.umap-bar').getByTestId('job-progress')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const canvas = page.getByTestId('map-canvas');
  await expect(canvas).toHaveAttribute('data-points', '50');
  await expect(page.getByTestId('map-info')).toContainText('UMAP of embedding · seed 2, 8 neighbours');
  await shot(page, '05-umap');
  // wheel zoom changes the view; reset returns to it
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -400);
  await expect(canvas).not.toHaveAttribute('data-zoom', '1.000');
  await page.getByTestId('map-reset-view').click();
  await expect(canvas).toHaveAttribute('data-zoom', '1.000');
});
