/**
 * Browser mode on webgpu: the server is started with WINNOW_BACKEND=webgpu (the engine finds SwiftShader in
 * Chromium's folder by itself in CI; a machine with a GPU uses that), the top bar shows the adapter, and a short
 * dataset is scored and trained on through the UI. Skipped where the engine reports no WebGPU adapter.
 */
import { expect, test } from '@playwright/test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importDataset, shooter, useServer } from './helpers';

const server = useServer('e2e-webgpu', { WINNOW_BACKEND: 'webgpu' });
const shot = shooter('webgpu-');
const dir = mkdtempSync(join(tmpdir(), 'winnow-e2e-webgpu-'));
const DATA = join(dir, 'short.jsonl');
writeFileSync(
  DATA,
  [['What is 4 plus 5?', 'Nine.'], ['Lily saw a red bird.', 'The bird sang.'], ['Tom has a cat.', 'The cat is small.'], ['Where is the sun?', 'In the sky.']]
    .map(([question, answer]) => JSON.stringify({ question, answer }))
    .join('\n') + '\n',
);
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the top bar shows the WebGPU adapter; scoring and training run on it', async ({ page }) => {
  await page.goto(server.url);
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  const backend = page.getByTestId('backend');
  await expect(backend).not.toHaveAttribute('data-state', 'starting');
  test.skip((await backend.getAttribute('data-backend')) !== 'webgpu', `no WebGPU adapter here: ${await page.getByTestId('backend-reason').textContent()}`);
  // the bar shows a short badge; the adapter's details are in its popover
  await expect(backend).toContainText('(webgpu');
  await backend.click();
  await expect(page.getByTestId('backend-popover')).toBeVisible();
  await expect(page.getByTestId('backend-adapter')).toContainText(/buffers ≤ \d/);
  await shot(page, '01-topbar');

  await importDataset(page, server, DATA, 4);
  await page.getByTestId('nav-score').click();
  await page.getByTestId('score-start').click();
  const progress = page.getByTestId('job-progress');
  await expect(progress).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await shot(page, '02-scored');

  await page.getByTestId('nav-train').click();
  await page.getByTestId('train-layers-mode-last').check();
  await page.getByTestId('train-last-n').fill('1');
  await page.getByTestId('train-steps').fill('2');
  await page.getByTestId('train-batch-size').fill('2');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('train-loss-chart')).not.toHaveAttribute('data-points', '0');
  await shot(page, '03-trained');
});
