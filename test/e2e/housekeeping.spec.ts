/**
 * Housekeeping in Chromium against the real browser-mode engine (fresh project): score a seeded random sample from
 * the Score screen (the plan and the runs list say which rows), rename a subset (a name in use is refused), delete a
 * dataset after reading what goes with it, and clear finished jobs. Screenshots: housekeeping-NN-*.png.
 */
import { expect, test } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importDataset, shooter, useServer } from './helpers';

const server = useServer('housekeeping');
const shot = shooter('housekeeping-', { fullPage: true });

/** Short rows written by the spec: scoring them on CPU takes seconds. */
function shortFile(name: string, rows: number): string {
  const file = join(mkdtempSync(join(tmpdir(), 'winnow-e2e-hk-')), name);
  writeFileSync(file, Array.from({ length: rows }, (_, i) => JSON.stringify({ prompt: `Say ${i}.`, completion: `${i} and ${i + 1}.` })).join('\n') + '\n');
  return file;
}

test('score a sample, rename a subset, delete a dataset after reading its dependents, clear finished jobs', async ({ page }) => {
  test.setTimeout(600_000);
  await importDataset(page, server, shortFile('short-a.jsonl', 40), 40);

  // a seeded random sample from the Score screen: the plan and the runs list name it
  await page.goto(`${server.url}#/score`);
  await page.getByTestId('score-max-tokens').fill('64');
  await page.getByTestId('score-rows').selectOption('sample');
  await page.getByTestId('score-sample-n').fill('12');
  await page.getByTestId('score-sample-seed').fill('3');
  await page.getByTestId('score-start').click();
  await expect(page.getByTestId('score-plan-rows')).toHaveText('random 12, seed 3');
  await expect(page.getByTestId('score-plan')).toContainText('12 examples');
  await expect(page.getByTestId('job-progress').first()).toHaveAttribute('data-status', 'done', { timeout: 300_000 });
  const runRow = page.getByTestId('score-run-row').first();
  await expect(runRow.getByTestId('score-run-rows')).toHaveText('random 12, seed 3');
  // a run keeps its number and takes a label
  await runRow.getByTestId('item-rename').click();
  await runRow.getByTestId('item-rename-input').fill('pilot');
  await runRow.getByTestId('item-rename-save').click();
  await expect(runRow.getByTestId('score-run-name')).toHaveText('#1 pilot');
  await shot(page, '01-score-sample');
  await page.getByTestId('score-runs').scrollIntoViewIfNeeded();
  await shot(page, '01b-score-runs');

  // two subsets; renaming one to the other's name is refused by name, a free name is taken
  await page.goto(`${server.url}#/subsets`);
  for (const [name, n] of [['target', '5'], ['other', '3']] as const) {
    await page.getByTestId('subset-name').fill(name);
    await page.getByTestId('subset-kind').selectOption('random');
    await page.getByTestId('subset-amount').fill(n);
    await page.getByTestId('subset-create').click();
    await expect(page.locator(`[data-testid="subset-row"][data-name="${name}"]`)).toBeVisible();
  }
  const target = page.locator('[data-testid="subset-row"][data-name="target"]');
  await target.getByTestId('item-rename').click();
  await target.getByTestId('item-rename-input').fill('other');
  await target.getByTestId('item-rename-save').click();
  await expect(target.getByTestId('item-error')).toContainText('a subset named "other" already exists');
  await target.getByTestId('item-rename-input').fill('hard rows');
  await shot(page, '02-rename-subset');
  await target.getByTestId('item-rename-save').click();
  await expect(page.locator('[data-testid="subset-row"][data-name="hard rows"]')).toBeVisible();
  await expect(page.locator('[data-testid="subset-row"][data-name="target"]')).toHaveCount(0);

  // a second dataset, so one remains; then delete the first after reading what depends on it
  await importDataset(page, server, shortFile('short-b.jsonl', 6), 40);
  await expect(page.getByTestId('dataset-row')).toHaveCount(2);
  // a deletion waits for running jobs (the import finishes its search index and duplicate check after its rows)
  await expect(page.getByTestId('jobs-indicator')).toHaveAttribute('data-active', '0');
  const first = page.getByTestId('dataset-row').first();
  await first.getByTestId('item-delete').click();
  const dialog = page.getByTestId('dependency-dialog');
  await expect(dialog).toBeVisible();
  const deletes = dialog.getByTestId('dependency-deletes');
  await expect(deletes).toContainText('40 rows of "short-a.jsonl"');
  await expect(deletes).toContainText('score run #1 "pilot" (token_loss, mean_loss · random 12, seed 3)');
  await expect(deletes).toContainText('"hard rows" (5 rows, all in this dataset)');
  await expect(deletes).toContainText('"other" (3 rows, all in this dataset)');
  await shot(page, '03-delete-dataset-dialog');
  // Cancel deletes nothing; the same dialog in the other theme, then confirm
  await dialog.getByTestId('dependency-cancel').click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId('dataset-row')).toHaveCount(2);
  await page.getByTestId('theme-toggle').click();
  await first.getByTestId('item-delete').click();
  await expect(deletes).toContainText('40 rows of "short-a.jsonl"');
  await shot(page, '03b-delete-dataset-dialog-other-theme');
  await dialog.getByTestId('dependency-confirm').click();
  await expect(page.getByTestId('dataset-row')).toHaveCount(1);
  await expect(page.getByTestId('dataset-rows').first()).toHaveText('6');
  await page.goto(`${server.url}#/subsets`);
  await expect(page.getByTestId('subset-row')).toHaveCount(0);
  await page.goto(`${server.url}#/score`);
  await expect(page.getByTestId('score-run-row')).toHaveCount(0);
  await shot(page, '04-after-delete');

  // clear the finished jobs from the drawer
  await page.getByTestId('jobs-indicator').click();
  await expect(page.getByTestId('job-row').first()).toBeVisible();
  await shot(page, '05-jobs-before-clear');
  await page.getByTestId('jobs-clear').click();
  await expect(page.getByTestId('job-row')).toHaveCount(0);
  await expect(page.getByTestId('jobs-clear')).toBeDisabled();
  await shot(page, '06-jobs-cleared');
});
