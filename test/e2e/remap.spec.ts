/**
 * Changing an imported dataset's mapping from the Data screen: the mapping editor opens on the stored rows, a mapping
 * that does not fit cannot be applied, a new one shows what it will invalidate before it is applied, and the re-map
 * job renders the dataset again (search and token counts follow the new messages). Screenshots in
 * test-results/screens/ (look at them).
 */
import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type RunningServer, startServer } from './server';

const FIXTURE = resolve('test/fixtures/data/gsm8k-50.jsonl');
const SHOTS = resolve('test-results/screens');
mkdirSync(SHOTS, { recursive: true });

let server: RunningServer;
test.describe.configure({ mode: 'serial' });
test.beforeAll(async () => {
  server = await startServer({ project: 'remap' });
});
test.afterAll(async () => {
  await server?.stop();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

test('edit the mapping of an imported dataset: preview, impact, re-map', async ({ page }) => {
  await page.goto(server.url);
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  await page.getByTestId('import-path').fill(FIXTURE);
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('job-progress')).toHaveAttribute('data-status', 'done');
  const row = page.getByTestId('dataset-row').first();
  await expect(row).toContainText('jsonl:question_answer');

  // the Examples table before: trained-on tokens of the question/answer rendering (the answer)
  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('examples-count')).toHaveText('50 rows');
  const firstLabels = page.locator('[data-testid="examples-row"] [data-column="n_label"]').first();
  await expect(firstLabels).not.toHaveText('');
  const labelsBefore = await firstLabels.textContent();
  await page.getByTestId('nav-data').click();

  await row.getByTestId('dataset-edit-mapping').click();
  const editor = page.getByTestId('edit-mapping');
  await expect(editor.getByTestId('import-preview')).toHaveAttribute('data-format', 'question_answer');
  await expect(editor.getByTestId('preview-row').first()).toContainText('Natalia');
  // nothing changed yet: nothing to apply
  await expect(page.getByTestId('remap-impact')).toHaveCount(0);

  // a mapping the rows do not fit: every row says why, and it cannot be applied
  await editor.getByTestId('mapping-format').selectOption('messages');
  await expect(editor.getByTestId('import-preview')).toHaveAttribute('data-format', 'messages');
  await expect(editor.locator('[data-testid="preview-row"][data-error="true"]').first()).toContainText('must be a non-empty list');
  await expect(page.getByTestId('remap-apply')).toBeDisabled();

  // prompt/completion with the answer as the prompt and the question as the response
  await editor.getByTestId('mapping-format').selectOption('prompt_completion');
  await editor.getByTestId('mapping-prompt').selectOption('answer');
  await editor.getByTestId('mapping-completion').selectOption('question');
  await expect(editor.getByTestId('import-preview')).toHaveAttribute('data-confidence', '1');
  await expect(editor.locator('[data-testid="preview-row"][data-error="true"]')).toHaveCount(0);
  const impact = page.getByTestId('remap-impact');
  await expect(impact.getByTestId('remap-impact-renders')).toContainText('50 renders');
  // the import's only per-example columns are the duplicate ones, made again after the re-map: no scores are lost
  await expect(impact.getByTestId('remap-impact-scores')).toHaveCount(0);
  await expect(impact.getByTestId('remap-impact-dups')).toContainText('duplicate columns are rebuilt');
  await expect(page.getByTestId('remap-apply')).toBeEnabled();
  await shot(page, 'remap-01-impact');

  await page.getByTestId('remap-apply').click();
  await expect(page.getByTestId('remap-done')).toContainText('re-mapped 50 rows as prompt_completion');
  await expect(row).toContainText('jsonl:prompt_completion');
  await shot(page, 'remap-02-done');

  // the table follows the new messages: the question is now what is trained on, and search still finds the rows
  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('examples-count')).toHaveText('50 rows');
  await expect(firstLabels).not.toHaveText(labelsBefore ?? '');
  await page.getByTestId('examples-search').fill('Natalia');
  await expect(page.getByTestId('examples-count')).toHaveText('1 rows');
  await expect(page.getByTestId('examples-indexing')).toHaveCount(0);
});
