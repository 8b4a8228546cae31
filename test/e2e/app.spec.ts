/**
 * The whole loop in the browser against the real engine and the bundled demo (gsm8k + stories260K):
 * data → examples → detail → score → sort → subset → train → export. Waits on data-* state, never on sleeps.
 */
import { expect, test } from '@playwright/test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, startServer } from './server';

let server: RunningServer;

test.beforeAll(async () => {
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
});

test('the token leaves the URL and the demo project opens', async ({ page }) => {
  await page.goto(server.url);
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  await expect(page).not.toHaveURL(/token=/);
  await expect(page.getByTestId('project-name')).not.toHaveText('No project');
  await expect(page.getByTestId('dataset-row').first()).toBeVisible();
  await expect(page.getByTestId('model-row').first()).toBeVisible();
  await expect(page.getByTestId('backend')).not.toContainText('not chosen');
  // reload keeps working without the token in the URL
  await page.reload();
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  await expect(page.getByTestId('dataset-row').first()).toBeVisible();
});

test('a bad import path comes back as an error naming the file', async ({ page }) => {
  await page.goto(server.url);
  await page.getByTestId('import-path').fill('/nonexistent/winnow-e2e.jsonl');
  await page.getByTestId('import-submit').click();
  // either the call is refused or the job fails; both must show the path
  const shown = page.getByTestId('import-error').or(page.getByTestId('job-error'));
  await expect(shown.first()).toContainText('winnow-e2e.jsonl');
});

test('examples: rows, count, sort, keyboard, detail with tokens', async ({ page }) => {
  await page.goto(server.url);
  await page.getByTestId('nav-examples').click();
  const table = page.getByTestId('examples-table');
  await expect(page.getByTestId('examples-count')).toHaveText(/^[\d,]+ rows$/);
  const total = Number(await page.getByTestId('examples-count').getAttribute('data-total'));
  expect(total).toBeGreaterThan(100);
  await expect(page.getByTestId('examples-row').first()).toBeVisible();
  // only visible rows are in the DOM
  expect(await page.getByTestId('examples-row').count()).toBeLessThan(100);

  await page.getByTestId('sort-row_index').click();
  await expect(page.getByTestId('sort-row_index')).toHaveAttribute('data-sort', 'desc');
  await expect(table).toHaveAttribute('data-loading', 'false');
  const rowCells = page.locator('[data-testid="examples-row"] [data-column="row_index"]');
  await expect(rowCells.first()).not.toHaveText('0');
  const r0 = Number((await rowCells.nth(0).textContent())!.replace(/,/g, ''));
  const r1 = Number((await rowCells.nth(1).textContent())!.replace(/,/g, ''));
  expect(r0).toBeGreaterThan(r1);

  // scrolling far fetches later pages and drops early ones
  await table.evaluate((el) => (el.scrollTop = el.scrollHeight / 2));
  await expect(page.locator('[data-testid="examples-row"][data-index]').first()).not.toHaveAttribute('data-index', '0');
  expect(Number(await table.getAttribute('data-loaded'))).toBeLessThanOrEqual(500);
  await table.evaluate((el) => (el.scrollTop = 0));

  await table.focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.locator('[data-testid="examples-row"][aria-selected="true"]')).toHaveAttribute('data-index', '1');
  await page.keyboard.press('Enter');
  const detail = page.getByTestId('example-detail');
  await expect(detail).toHaveAttribute('data-loading', 'false');
  await expect(page.getByTestId('token').first()).toBeVisible();
  const share = page.getByTestId('trainable-share');
  expect(Number(await share.getAttribute('data-total'))).toBeGreaterThan(0);
  await page.getByTestId('token').nth(3).hover();
  await expect(page.getByTestId('token-info')).toContainText('id');
  await page.keyboard.press('Escape');
  await expect(detail).toHaveCount(0);

  await page.getByTestId('examples-search').fill('zzzzqqqq-no-such-text');
  await expect(page.getByTestId('examples-count')).toHaveText('0 rows');
});

test('score, sort by mean_loss, make a subset, train, export', async ({ page }) => {
  await page.goto(server.url);
  await page.getByTestId('nav-score').click();
  await expect(page.getByTestId('signal-token_loss')).toBeChecked();
  await expect(page.getByTestId('signal-mean_loss')).toBeChecked();
  await page.getByTestId('score-start').click();
  await expect(page.getByTestId('score-pass').first()).toBeVisible();
  const progress = page.getByTestId('job-progress');
  await expect(progress).toHaveAttribute('data-status', 'done', { timeout: 240_000 });

  await page.getByTestId('nav-examples').click();
  await page.getByTestId('sort-mean_loss').click();
  await expect(page.getByTestId('sort-mean_loss')).toHaveAttribute('data-sort', 'desc');
  await expect(page.getByTestId('examples-table')).toHaveAttribute('data-loading', 'false');
  const firstTwo = page.locator('[data-testid="examples-row"] [data-column="mean_loss"]');
  await expect(firstTwo.first()).not.toHaveText('—');
  const a = Number((await firstTwo.nth(0).textContent())!.replace(/,/g, ''));
  const b = Number((await firstTwo.nth(1).textContent())!.replace(/,/g, ''));
  expect(a).toBeGreaterThanOrEqual(b);
  await page.getByTestId('examples-row').first().click();
  await expect(page.getByTestId('token-signal')).toBeVisible();
  await expect(page.getByTestId('token-legend')).toBeVisible();

  await page.getByTestId('nav-subsets').click();
  await page.getByTestId('subset-name').fill('e2e-hardest-20');
  await page.getByTestId('subset-kind').selectOption('top');
  await page.getByTestId('subset-column').selectOption('mean_loss');
  await page.getByTestId('subset-amount').fill('20');
  await page.getByTestId('subset-create').click();
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '20');
  await expect(page.locator('[data-testid="subset-row"][data-name="e2e-hardest-20"] [data-testid="subset-size"]')).toHaveText('20');

  await page.getByTestId('nav-train').click();
  await page.getByTestId('train-subset').selectOption({ label: 'e2e-hardest-20 (20)' });
  await page.getByTestId('train-layers-mode-custom').check();
  await page.getByTestId('train-layers').fill('');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-error')).toContainText('layers');
  await page.getByTestId('train-layers-mode-last').check();
  await page.getByTestId('train-last-n').fill('1');
  await page.getByTestId('train-steps').fill('4');
  await page.getByTestId('train-batch-size').fill('2');
  await page.getByTestId('train-start').click();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('train-loss-chart')).not.toHaveAttribute('data-points', '0');
  await expect(page.getByTestId('train-tokens-per-sec')).not.toHaveText('—');

  const out = mkdtempSync(join(tmpdir(), 'winnow-e2e-export-'));
  try {
    await page.getByTestId('nav-export').click();
    await page.getByTestId('export-subset').selectOption({ label: 'e2e-hardest-20 (20)' });
    await page.getByTestId('export-out-dir').fill(out);
    await page.getByTestId('export-overwrite').check();
    await page.getByTestId('export-start').click();
    await expect(page.getByTestId('export-result')).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('export-path').first()).toContainText(out);
    expect(readdirSync(out).length).toBeGreaterThan(0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }

  await page.getByTestId('jobs-indicator').click();
  await expect(page.locator('[data-testid="job-row"][data-kind="train"]').first()).toHaveAttribute('data-status', 'done');
});
