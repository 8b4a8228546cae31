/**
 * Importing with "skip malformed lines": the Datasets table counts the skipped records and the count opens the list of
 * them with their line and reason. Screenshot in test-results/screens/ (look at it).
 */
import { expect, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type RunningServer, startServer } from './server';

const MALFORMED = resolve('test/fixtures/data/malformed.jsonl');
const SHOTS = resolve('test-results/screens');
mkdirSync(SHOTS, { recursive: true });

let server: RunningServer;
test.beforeAll(async () => {
  server = await startServer({ project: 'import-skips' });
});
test.afterAll(async () => {
  await server?.stop();
});

test('skipped records are listed with their line and reason', async ({ page }) => {
  await page.goto(server.url);
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  await page.getByTestId('import-path').fill(MALFORMED);
  await page.getByTestId('import-skip-malformed').check();
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('job-progress')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('dataset-rows').first()).toHaveText('4');
  await page.getByTestId('dataset-skipped').click();
  const list = page.getByTestId('import-skips');
  await expect(list).toHaveAttribute('data-total', '2');
  const rows = list.getByTestId('import-skip-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText(/^3\s*malformed\.jsonl line 3: invalid JSON/);
  await expect(rows.nth(1)).toContainText('malformed.jsonl line 5: field "answer" is missing');
  await page.screenshot({ path: join(SHOTS, 'import-skips.png'), fullPage: true });
});
