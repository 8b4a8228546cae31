/**
 * The Train form's optimisation fields in Chromium against the real browser-mode engine (fresh project, bundled
 * model, 50 GSM8K rows): gradient accumulation is counted in the live memory estimate (a running sum next to each micro-batch's
 * gradients), and a bad value is refused naming its field. Screenshot: train-form-01-advanced.png.
 */
import { expect, test } from '@playwright/test';
import { GSM8K_50, importDataset, shooter, useServer } from './helpers';

const server = useServer('train-form');
const shot = shooter('train-form-', { fullPage: true });

/** MiB of gradients in the estimate's breakdown (its gradients part's bytes) */
async function gradientMiB(bytes: string | null): Promise<number> {
  if (bytes === null || !Number.isFinite(Number(bytes))) throw new Error(`no gradient figure in the breakdown ("${bytes}")`);
  return Number(bytes) / 2 ** 20;
}

test('accumulation doubles the gradient memory in the estimate; a bad seed is refused by name', async ({ page }) => {
  await importDataset(page, server, GSM8K_50, 50);
  await page.getByTestId('nav-train').click();
  // every tensor trains, so the figures are large enough to compare after rounding to 0.1 MiB
  await page.getByTestId('train-layers-mode-custom').check();
  await page.getByTestId('train-layers').fill('all');
  const estimate = page.getByTestId('train-estimate');
  await expect(estimate).toHaveAttribute('data-fits', 'true');
  const breakdown = estimate.locator('[data-part="gradients"]');
  const one = await gradientMiB(await breakdown.getAttribute('data-bytes'));
  expect(one).toBeGreaterThan(0);

  await page.getByTestId('train-grad-accum').fill('4');
  await expect.poll(async () => gradientMiB(await breakdown.getAttribute('data-bytes'))).toBeCloseTo(2 * one, 0);
  await page.getByTestId('train-weight-decay').fill('0.01');
  await page.getByTestId('train-clip-norm').fill('');
  await page.getByTestId('train-dft').check();
  await shot(page, '01-advanced');

  await page.getByTestId('train-seed').fill('x');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-error')).toContainText('seed');
});
