/**
 * Close the loop in Chromium against the real browser-mode engine (fresh project, bundled stories260K, 50 GSM8K
 * rows): hold out 4 rows, train a few steps on the other 46, evaluate the base and the run on the held-out rows on the
 * Playground, see both answer side by side (each reference answer coloured by that model's token loss) and their
 * metrics in the experiment report on the Train screen. Screenshots: test-results/screens/playground-NN-*.png.
 */
import { expect, test } from '@playwright/test';
import { GSM8K_50, importDataset, shooter, useServer } from './helpers';

const server = useServer('playground');
const shot = shooter('playground-', { fullPage: true });

test('base and a tuned run answer held-out rows side by side, with metrics in the report', async ({ page }) => {
  test.setTimeout(600_000);
  await importDataset(page, server, GSM8K_50, 50);

  // held-out rows, and every other row to train on
  await page.getByTestId('nav-subsets').click();
  const make = async (name: string, kind: string, amount: string, column?: string) => {
    await page.getByTestId('subset-name').fill(name);
    await page.getByTestId('subset-kind').selectOption(kind);
    if (column) await page.getByTestId('subset-column').selectOption(column);
    await page.getByTestId('subset-amount').fill(amount);
    await page.getByTestId('subset-create').click();
    await expect(page.locator(`[data-testid="subset-row"][data-name="${name}"]`)).toBeVisible();
  };
  await make('held-out', 'random', '4');
  await make('all-rows', 'top', '50', 'n_chars');
  const pick = (name: string) => page.locator(`[data-testid="subset-row"][data-name="${name}"] [data-testid="subset-pick"]`);
  await pick('all-rows').check();
  await pick('held-out').check();
  await page.getByTestId('combine-op').selectOption('difference');
  await page.getByTestId('combine-name').fill('train-rows');
  await page.getByTestId('combine-create').click();
  await expect(page.locator('[data-testid="subset-row"][data-name="train-rows"] [data-testid="subset-size"]')).toHaveText('46');

  // a short run on the training rows
  await page.getByTestId('nav-train').click();
  await page.getByTestId('train-subset').selectOption({ label: 'train-rows (46)' });
  await page.getByTestId('train-layers-mode-last').check();
  await page.getByTestId('train-last-n').fill('1');
  await page.getByTestId('train-steps').fill('3');
  await page.getByTestId('train-batch-size').fill('2');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 300_000 });
  const runId = await page.getByTestId('train-run').getAttribute('data-run-id');
  await expect(page.getByTestId('eval-report-empty')).toBeVisible();

  // the Playground: the held-out subset, the base and the run
  await page.getByTestId('nav-playground').click();
  await expect(page.getByTestId('screen-playground')).toBeVisible();
  await page.getByTestId('pg-subset').selectOption({ label: 'held-out (4 rows)' });
  await page.getByTestId('pg-limit').fill('4');
  await page.getByTestId('pg-max-new').fill('12');
  await page.locator(`[data-testid="pg-model"][data-key="run${runId}"]`).check();
  await expect(page.getByTestId('pg-start')).toHaveText('Answer and evaluate (2 models)');
  await shot(page, '01-form');
  await page.getByTestId('pg-start').click();
  await expect(page.getByTestId('pg-job').first()).toContainText('Base');
  await expect(page.getByTestId('pg-job')).toHaveCount(2);
  for (const job of await page.getByTestId('pg-job').all()) await expect(job).toHaveAttribute('data-status', 'done', { timeout: 300_000 });

  // the report: a row and a bar per model, the run's loss not the base's (it was tuned)
  const row = (model: string) => page.locator(`[data-testid="playground-report"] [data-testid="eval-report-row"][data-model="${model}"]`);
  await expect(row('Base')).toBeVisible();
  await expect(row(`Run #${runId}`)).toBeVisible();
  const loss = async (model: string) => Number(await row(model).locator('[data-metric="loss"]').getAttribute('data-value'));
  const baseLoss = await loss('Base');
  const runLoss = await loss(`Run #${runId}`);
  expect(baseLoss).toBeGreaterThan(0);
  expect(runLoss).toBeGreaterThan(0);
  expect(runLoss).not.toBe(baseLoss);
  const ppl = Number(await row('Base').locator('[data-metric="perplexity"]').getAttribute('data-value'));
  expect(ppl).toBeCloseTo(Math.exp(baseLoss), 4);
  const em = Number(await row('Base').locator('[data-metric="exact_match"]').getAttribute('data-value'));
  expect(em).toBeGreaterThanOrEqual(0);
  expect(em).toBeLessThanOrEqual(1);
  await expect(page.locator('[data-testid="playground-report"] [data-testid="eval-bars"][data-metric="loss"] [data-testid="eval-bar"]')).toHaveCount(2);

  // side by side: 4 rows, each answered by both, the reference answer tokens coloured by each model's loss
  await expect(page.getByTestId('pg-row')).toHaveCount(4);
  const first = page.getByTestId('pg-row').first();
  await expect(first.getByTestId('pg-answer')).toHaveCount(2);
  await expect(first.locator('[data-testid="pg-answer"][data-model="Base"] [data-testid="pg-completion"]')).not.toBeEmpty();
  const tokens = first.locator(`[data-testid="pg-answer"][data-model="Run #${runId}"] [data-testid="pg-ref-tokens"] [data-testid="token"]`);
  expect(await tokens.count()).toBeGreaterThan(3);
  const values = await tokens.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
  expect(values.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
  await page.getByTestId('playground-side').scrollIntoViewIfNeeded();
  await first.scrollIntoViewIfNeeded();
  await shot(page, '02-side-by-side');

  // the experiment report on the Train screen: both models
  await page.getByTestId('nav-train').click();
  const report = page.getByTestId('train-report');
  await expect(report.locator('[data-testid="eval-report-row"][data-model="Base"]')).toBeVisible();
  await expect(report.locator(`[data-testid="eval-report-row"][data-model="Run #${runId}"]`)).toBeVisible();
  await expect(report.getByTestId('eval-report-set')).toContainText('Held out: subset “held-out”, first 4 rows');
  await report.scrollIntoViewIfNeeded();
  await shot(page, '03-report');
  // reopened, the Playground shows the last evaluated set (the form is back to its defaults)
  await page.getByTestId('nav-playground').click();
  await expect(page.locator('[data-testid="playground-report"] [data-testid="eval-report-row"]')).toHaveCount(2);
  await expect(page.getByTestId('pg-row')).toHaveCount(4);
  await page.getByTestId('playground-report').scrollIntoViewIfNeeded();
  await shot(page, '04-metrics');
});
