/**
 * The Train form's optimisation fields in Chromium against the real browser-mode engine (fresh project, bundled
 * model, 50 GSM8K rows): gradient accumulation is counted in the live memory estimate (a running sum next to each micro-batch's
 * gradients), and a bad value is refused naming its field. Screenshot: train-form-01-advanced.png.
 */
import { expect, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type RunningServer, startServer } from './server';

const FIXTURE = resolve('test/fixtures/data/gsm8k-50.jsonl');
const SHOTS = resolve('test-results/screens');
mkdirSync(SHOTS, { recursive: true });

let server: RunningServer;

test.beforeAll(async () => {
  server = await startServer({ project: 'train-form' });
});

test.afterAll(async () => {
  await server?.stop();
});

/** MiB of gradients in the estimate's breakdown (its title) */
async function gradientMiB(title: string | null): Promise<number> {
  const m = /gradients ([\d.]+) (MiB|GiB)/.exec(title ?? '');
  if (!m) throw new Error(`no gradient figure in "${title}"`);
  return Number(m[1]) * (m[2] === 'GiB' ? 1024 : 1);
}

test('accumulation doubles the gradient memory in the estimate; a bad seed is refused by name', async ({ page }) => {
  await page.goto(server.url);
  await page.getByTestId('import-path').fill(FIXTURE);
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('dataset-rows').first()).toHaveText('50');
  await page.getByTestId('nav-train').click();
  // every tensor trains, so the figures are large enough to compare after rounding to 0.1 MiB
  await page.getByTestId('train-layers-mode-custom').check();
  await page.getByTestId('train-layers').fill('all');
  const estimate = page.getByTestId('train-estimate');
  await expect(estimate).toHaveAttribute('data-fits', 'true');
  const breakdown = estimate.locator('span[title*="gradients"]');
  const one = await gradientMiB(await breakdown.getAttribute('title'));
  expect(one).toBeGreaterThan(0);

  await page.getByTestId('train-grad-accum').fill('4');
  await expect.poll(async () => gradientMiB(await breakdown.getAttribute('title'))).toBeCloseTo(2 * one, 0);
  await page.getByTestId('train-weight-decay').fill('0.01');
  await page.getByTestId('train-clip-norm').fill('');
  await page.getByTestId('train-dft').check();
  await page.screenshot({ path: join(SHOTS, 'train-form-01-advanced.png'), fullPage: true });

  await page.getByTestId('train-seed').fill('x');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-error')).toContainText('seed');
});
