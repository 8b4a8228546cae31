/**
 * Changing an imported dataset's mapping from the Data screen: the mapping editor opens on the stored rows, a mapping
 * that does not fit cannot be applied, a new one shows what it will invalidate before it is applied, and the re-map
 * job renders the dataset again (search and token counts follow the new messages); a subset of its rows is then
 * marked stale on the Subsets and Examples screens, and Recreate makes it again from its rule. Screenshots in test-results/screens/ (look at them).
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
  await page.goto(`${server.url}#/data`);
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

  // a subset of its rows, current for now
  await page.getByTestId('nav-subsets').click();
  await page.getByTestId('subset-name').fill('sample-10');
  await page.getByTestId('subset-kind').selectOption('random');
  await page.getByTestId('subset-amount').fill('10');
  await page.getByTestId('subset-create').click();
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '10');
  const subsetRow = page.locator('[data-testid="subset-row"][data-name="sample-10"]');
  await expect(subsetRow).toHaveAttribute('data-stale', 'false');
  await expect(subsetRow.getByTestId('subset-stale')).toHaveCount(0);
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
  await expect(impact.getByTestId('remap-impact-subsets')).toContainText('"sample-10"');
  await expect(page.getByTestId('remap-apply')).toBeEnabled();
  await shot(page, 'remap-01-impact');

  await page.getByTestId('remap-apply').click();
  await expect(page.getByTestId('remap-done')).toContainText('re-mapped 50 rows as prompt_completion');
  await expect(row).toContainText('jsonl:prompt_completion');
  await shot(page, 'remap-02-done');

  // the jobs drawer names each job by what it did: the import, then the re-map (not a second "import")
  await page.getByTestId('jobs-indicator').click();
  const jobKind = (kind: string) => page.locator(`[data-testid="job-row"][data-kind="${kind}"]`).getByTestId('job-kind');
  await expect(jobKind('remap')).toHaveText('Re-map');
  await expect(jobKind('import')).toHaveText('Import');
  await expect(page.locator('[data-testid="job-row"][data-kind="remap"]')).toContainText('re-mapped 50 rows');
  await shot(page, 'remap-02b-jobs-drawer');
  await page.getByTestId('jobs-close').click();

  // the table follows the new messages: the question is now what is trained on, and search still finds the rows
  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('examples-count')).toHaveText('50 rows');
  await expect(firstLabels).not.toHaveText(labelsBefore ?? '');
  await page.getByTestId('examples-search').fill('Natalia');
  await expect(page.getByTestId('examples-count')).toHaveText('1 row');
  await expect(page.getByTestId('examples-indexing')).toHaveCount(0);
  await page.getByTestId('examples-search').fill('');

  // the subset kept its rows but is marked stale wherever subsets are listed, with the reason and what to do
  const option = page.getByTestId('examples-subset').locator('option', { hasText: 'sample-10' });
  await expect(option).toHaveText('sample-10 (10) — stale');
  await expect(option).toHaveAttribute('title', /re-mapped.*Score the dataset again/);
  await page.getByTestId('examples-subset').selectOption({ label: 'sample-10 (10) — stale' });
  await expect(page.getByTestId('examples-count')).toHaveText('10 rows');
  const mark = page.getByTestId('examples-subset-stale');
  await expect(mark).toBeVisible();
  await expect(mark).toHaveAttribute('title', 'Stale: dataset "gsm8k-50.jsonl" was re-mapped: its scores were deleted. ' +
    'Its rows are kept as they were. Score the dataset again, then press Recreate on the Subsets screen to run its rule again on the new scores.');
  await shot(page, 'remap-03-examples-stale-subset');

  await page.getByTestId('nav-subsets').click();
  await expect(subsetRow).toHaveAttribute('data-stale', 'true');
  await expect(subsetRow.getByTestId('subset-stale')).toBeVisible();
  await expect(subsetRow.getByTestId('subset-stale-reason')).toHaveText(/^dataset "gsm8k-50.jsonl" was re-mapped: its scores were deleted\. .*Score the dataset again, then press Recreate/);
  await expect(subsetRow.getByTestId('subset-size')).toHaveText('10');
  const subsetId = await subsetRow.getAttribute('data-subset-id');
  await expect(subsetRow.getByTestId('subset-recreate')).toBeEnabled();
  await shot(page, 'remap-04-subsets-stale');

  // Recreate runs the stored rule (random 10, seed 0) again in place: same row, same name, 10 rows, no longer stale
  await subsetRow.getByTestId('subset-recreate').click();
  await expect(subsetRow).toHaveAttribute('data-stale', 'false');
  await expect(subsetRow).toHaveAttribute('data-subset-id', subsetId ?? '');
  await expect(subsetRow.getByTestId('subset-stale')).toHaveCount(0);
  await expect(subsetRow.getByTestId('subset-recreate')).toHaveCount(0);
  await expect(subsetRow.getByTestId('subset-recreate-error')).toHaveCount(0);
  await expect(subsetRow.getByTestId('subset-size')).toHaveText('10');
  await expect(page.locator('[data-testid="subset-row"][data-name="sample-10"]')).toHaveCount(1);
  await shot(page, 'remap-05-subsets-recreated');
});
