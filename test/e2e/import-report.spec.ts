/**
 * What an import tells the user: with "skip malformed lines" the Datasets table counts the skipped records and the count
 * opens the list of them with their line and reason; a file whose shape is not recognised previews on a guess and says
 * why. Screenshots in test-results/screens/ (look at them).
 */
import { expect, test } from '@playwright/test';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

test('an OpenAssistant message tree previews as text, saying why', async ({ page }) => {
  const file = join(mkdtempSync(join(tmpdir(), 'winnow-e2e-')), 'oasst1.jsonl');
  writeFileSync(file, [
    { message_id: 'm1', parent_id: null, text: 'What is a monad?', role: 'prompter', lang: 'en', message_tree_id: 'm1' },
    { message_id: 'm2', parent_id: 'm1', text: 'A monoid of endofunctors.', role: 'assistant', lang: 'en', message_tree_id: 'm1' },
  ].map((r) => JSON.stringify(r)).join('\n'));
  await page.goto(server.url);
  await page.getByTestId('import-path').fill(file);
  await page.getByTestId('import-preview-button').click();
  const preview = page.getByTestId('import-preview');
  await expect(preview).toHaveAttribute('data-format', 'text');
  await expect(preview.getByTestId('mapping-check')).toBeVisible();
  await expect(preview.getByTestId('mapping-note')).toContainText('OpenAssistant message tree');
  await page.screenshot({ path: join(SHOTS, 'import-guess-note.png'), fullPage: true });
});
