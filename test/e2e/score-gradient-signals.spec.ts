/**
 * The Score screen's gradient-signal options in Chromium against the real browser-mode engine (fresh project):
 * ticking grad_sim_base asks for a target set (a subset made on the Subsets screen) and the projection size, grad_norm /
 * grad_sim_base for the parameters their gradient is taken over, sstoken for a history model and γ; the plan shows the
 * backward pass with its example count, and the job's grad_sim_base / grad_norm become sortable columns. Screenshots:
 * score-gradient-signals-NN-*.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type RunningServer, startServer } from './server';

const FIXTURE = resolve('test/fixtures/data/gsm8k-50.jsonl');
const SHOTS = resolve('test-results/screens');
mkdirSync(SHOTS, { recursive: true });

let server: RunningServer;

test.beforeAll(async () => {
  server = await startServer({ project: 'score-gradient-signals' });
});

test.afterAll(async () => {
  await server?.stop();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `score-gradient-signals-${name}.png`), fullPage: true });
}

test('grad_sim_base with a target subset, grad_norm over the last block; sstoken asks for a history model', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto(`${server.url}#/data`);
  await page.getByTestId('import-path').fill(FIXTURE);
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('dataset-rows').first()).toHaveText('50');

  await page.goto(`${server.url}#/subsets`);
  await page.getByTestId('subset-name').fill('target');
  await page.getByTestId('subset-kind').selectOption('random');
  await page.getByTestId('subset-amount').fill('5');
  await page.getByTestId('subset-create').click();
  await expect(page.locator('[data-testid="subset-row"][data-name="target"]')).toBeVisible();

  await page.goto(`${server.url}#/score`);
  for (const s of ['token_loss', 'mean_loss']) {
    const box = page.getByTestId(`signal-${s}`);
    if (await box.isChecked()) await box.uncheck();
  }
  await expect(page.getByTestId('score-options')).toHaveCount(0);
  await page.getByTestId('signal-sstoken').check();
  // sstoken's second model is the earlier "history" model, a field of its own, not the (later) reference
  await expect(page.getByTestId('score-history-model')).toBeVisible();
  await expect(page.getByTestId('score-ref-model')).toHaveCount(0);
  await expect(page.getByTestId('score-sstoken-gamma')).toHaveValue('0.5');
  await page.getByTestId('signal-sstoken').uncheck();
  await expect(page.getByTestId('score-history-model')).toHaveCount(0);

  await page.getByTestId('signal-grad_norm').check();
  await expect(page.getByTestId('score-grad-layers')).toHaveValue('all');
  await expect(page.getByTestId('score-target-subset')).toHaveCount(0);
  await page.getByTestId('signal-grad_sim_base').check();
  await expect(page.getByTestId('score-target-subset')).toBeVisible();
  // without a target set the engine refuses, saying what is missing
  await page.getByTestId('score-start').click();
  await expect(page.getByTestId('score-error')).toContainText('target');

  await page.getByTestId('score-grad-layers').fill('last:1');
  await page.getByTestId('score-grad-dim').fill('256');
  await page.getByTestId('score-target-subset').selectOption({ label: 'target (5)' });
  await shot(page, '01-options');
  await page.getByTestId('score-start').click();
  const backward = page.locator('[data-testid="score-pass"]', { hasText: 'backward' });
  await expect(backward).toContainText('grad_sim_base');
  await expect(backward).toContainText('50 examples');
  // wait for the job to end either way, so a failure is reported at once with the engine's message
  await expect(page.getByTestId('job-progress')).toHaveAttribute('data-status', /^(done|failed)$/, { timeout: 540_000 });
  if ((await page.getByTestId('job-progress').getAttribute('data-status')) === 'failed') {
    throw new Error(`the scoring job failed: ${await page.getByTestId('job-error').innerText()}`);
  }
  await shot(page, '02-done');

  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('header-grad_sim_base')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('header-grad_norm')).toBeVisible();
});
