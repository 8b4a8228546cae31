/**
 * The Layers screen's "Parameter mask" panel and training with a mask, in Chromium against the real browser-mode
 * engine (fresh project, bundled stories260K, GSM8K rows): compute a salience mask over the grid's choice and a gps
 * mask over every tensor, read their trainable counts, train with one from the Train form. Screenshots: pmask-NN-*.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { GSM8K_50, importDataset, shooter, useServer } from './helpers';

const server = useServer('pmasks');
const shot = shooter('pmask-', { fullPage: true });

const maskRow = (page: Page, name: string) => page.locator(`[data-testid="pm-row"][data-name="${name}"]`);

test('salience over the grid’s choice, gps over every tensor: counts follow the rule', async ({ page }) => {
  test.setTimeout(300_000);
  await importDataset(page, server, GSM8K_50, 50);

  await page.getByTestId('nav-layers').click();
  const panel = page.getByTestId('param-mask-panel');
  await expect(panel).toBeVisible();
  await expect(page.getByTestId('pm-scope')).toHaveText('all');
  await expect(panel).toContainText('No parameter masks for this model yet');
  await page.getByTestId('pm-compute').scrollIntoViewIfNeeded();
  await expect(page.getByTestId('pm-compute')).toBeDisabled();

  // the scope is what the grid shows chosen
  await page.getByTestId('preset-last-n').fill('2');
  await page.getByTestId('preset-last').click();
  await expect(page.getByTestId('pm-scope')).toHaveText('last:2');
  await expect.poll(async () => Number(await page.getByTestId('layers-trainable').getAttribute('data-value'))).toBeGreaterThan(0);
  const scopeParams = Number(await page.getByTestId('layers-trainable').getAttribute('data-value'));

  await page.getByTestId('pm-metric').selectOption('abs_wg');
  await page.getByTestId('pm-density').fill('2');
  await page.getByTestId('pm-topk').selectOption('global');
  // every tensor of the scope (by default salience scores its linear weight matrices only, as SPEFT)
  await page.getByTestId('pm-all-params').check();
  await page.getByTestId('pm-examples').fill('12');
  await page.getByTestId('pm-name').fill('sal-2pct');
  await page.getByTestId('pm-compute').click();
  await expect(panel.getByTestId('job-progress')).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  const sal = maskRow(page, 'sal-2pct');
  await expect(sal).toBeVisible();
  await expect(sal).toHaveAttribute('data-scope-params', String(scopeParams));
  await expect(sal).toHaveAttribute('data-trainable', String(Math.round(0.02 * scopeParams)));
  await expect(sal).toContainText('|w·Σg|');
  await expect(sal).toContainText('all tensors');
  await expect(sal).toContainText('last:2');
  await expect(sal).toContainText('(2.0%)');
  await sal.scrollIntoViewIfNeeded();
  await shot(page, '01-salience');

  // gps, 2 inputs per output row of every matrix in scope (every tensor: nothing chosen on the grid)
  await page.getByTestId('preset-none').click();
  await expect(page.getByTestId('pm-scope')).toHaveText('all');
  await page.getByTestId('pm-method').selectOption('gps');
  await expect(page.getByTestId('pm-metric')).toHaveCount(0);
  await page.getByTestId('pm-per-row').fill('2');
  await page.getByTestId('pm-examples').fill('6');
  await page.getByTestId('pm-name').fill('gps-2');
  await page.getByTestId('pm-compute').click();
  const gps = maskRow(page, 'gps-2');
  await expect(gps).toBeVisible({ timeout: 240_000 });
  await expect(gps).toContainText('2 inputs per row');
  // stories260K block matrices' output rows: q 64, k 32, v 32 (GQA), o 64, gate 172, up 172, down 64; 2 inputs each.
  // The embeddings (tied to the head) and norms are not GPS matrices.
  const perBlock = 2 * (64 + 32 + 32 + 64 + 172 + 172 + 64);
  await expect(gps).toHaveAttribute('data-trainable', String(5 * perBlock));
  await gps.scrollIntoViewIfNeeded();
  await shot(page, '02-gps');

  // a taken name is refused with the engine's message
  await page.getByTestId('pm-name').fill('gps-2');
  await page.getByTestId('pm-compute').click();
  await expect(page.getByTestId('pm-error')).toContainText('already exists');
});

test('train with a parameter mask: the form takes its scope, the estimate counts its entries', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto(`${server.url}#/layers`);
  const sal = maskRow(page, 'sal-2pct');
  await expect(sal).toBeVisible();
  const entries = await sal.getAttribute('data-trainable');
  await sal.getByTestId('pm-train').click();

  await expect(page.getByTestId('screen-train')).toBeVisible();
  await expect(page.getByTestId('train-param-mask')).not.toHaveValue('');
  await expect(page.getByTestId('train-layers-spec')).toHaveText('last:2');
  await expect(page.getByTestId('train-param-mask-note')).toContainText('only the mask');
  await expect(page.getByTestId('train-estimate-masked')).toHaveAttribute('data-masked', entries!);
  await expect(page.getByTestId('train-layers-mode-last')).toBeDisabled();
  await page.getByTestId('train-steps').fill('2');
  await page.getByTestId('train-batch-size').fill('2');
  await shot(page, '03-train-form');
  await page.getByTestId('train-start').click();
  const row = page.locator('[data-testid="train-run-row"]').first();
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(row.getByTestId('train-run-param-mask')).toContainText('parameter mask #');
  await shot(page, '04-trained');

  // choosing "none" gives the layer choice back
  await page.getByTestId('train-param-mask').selectOption('');
  await expect(page.getByTestId('train-layers-mode-last')).toBeEnabled();
  await expect(page.getByTestId('train-estimate-masked')).toHaveCount(0);
});
