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
  await page.goto(`${server.url}#/data`);
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

test('an OpenAssistant message tree previews as conversations, with how many each policy gives, and imports', async ({ page }) => {
  const file = join(mkdtempSync(join(tmpdir(), 'winnow-e2e-')), 'oasst1.jsonl');
  // one tree: a prompt with two ranked replies, the better one answered again by the prompter
  writeFileSync(file, [
    { message_id: 'm1', parent_id: null, text: 'What is a monad?', role: 'prompter', lang: 'en', message_tree_id: 'm1', rank: null },
    { message_id: 'm2', parent_id: 'm1', text: 'A monoid in the category of endofunctors.', role: 'assistant', lang: 'en', message_tree_id: 'm1', rank: 0 },
    { message_id: 'm3', parent_id: 'm1', text: 'A burrito.', role: 'assistant', lang: 'en', message_tree_id: 'm1', rank: 1 },
  ].map((r) => JSON.stringify(r)).join('\n'));
  await page.goto(`${server.url}#/data`);
  await page.getByTestId('import-path').fill(file);
  await page.getByTestId('import-preview-button').click();
  const preview = page.getByTestId('import-preview');
  await expect(preview).toHaveAttribute('data-format', 'messages');
  const policy = preview.getByTestId('mapping-tree-policy');
  // top-1 keeps the best-ranked path of the tree; every path to a leaf gives one conversation per reply
  await expect(policy.locator('option[value="top1"]')).toContainText(': 1');
  await expect(policy.locator('option[value="all_paths"]')).toContainText(': 2');
  await expect(preview.getByTestId('preview-row').first()).toContainText('A monoid in the category of endofunctors.');
  await page.screenshot({ path: join(SHOTS, 'import-tree-preview.png'), fullPage: true });
  await policy.selectOption('all_paths');
  await page.getByTestId('import-submit').click();
  const row = page.locator('[data-testid="dataset-row"]', { hasText: 'oasst1.jsonl' });
  await expect(row.getByTestId('dataset-rows')).toHaveText('2');
});
