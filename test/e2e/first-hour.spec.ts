/**
 * A new user's first hour, driven as a person would from a fresh home: the first screen says what Winnow does and
 * which step is next, and its check marks follow the project as the steps are done (import → score → subset → train
 * → export, on the bundled tiny model and 50 GSM8K rows). The top bar shows the backend as a short badge with the
 * details in a popover, and names the dataset in use, which every screen that acts on one shows too; a new import
 * becomes the dataset in use and the choice survives a reload. Screenshots of each step in both themes:
 * test-results/screens/first-hour-NN-<step>-<theme>.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GSM8K_50, SHOTS, useServer } from './helpers';

const server = useServer('first-hour');
const DUPS = resolve('test/fixtures/data/dups.jsonl');
const STEPS = ['import', 'model', 'score', 'subset', 'train', 'export'] as const;
const DATASET_SCREENS = ['examples', 'map', 'score', 'subsets', 'layers', 'train', 'export'] as const;

/** Screenshot in the current theme and in the other one, then back. */
async function shots(page: Page, name: string): Promise<void> {
  const toggle = page.getByTestId('theme-toggle');
  for (let i = 0; i < 2; i++) {
    const theme = await toggle.getAttribute('data-theme');
    await expect(page.locator('main [data-loading="true"]')).toHaveCount(0, { timeout: 30_000 });
    await page.screenshot({ path: join(SHOTS, `first-hour-${name}-${theme}.png`) });
    await toggle.click();
    await expect(toggle).not.toHaveAttribute('data-theme', theme!);
  }
}

/** Open the first screen and check which steps are done and which one is next. */
async function expectSteps(page: Page, done: Array<(typeof STEPS)[number]>, next: (typeof STEPS)[number] | null): Promise<void> {
  await page.getByTestId('nav-home').click();
  await expect(page.getByTestId('home-steps')).toHaveAttribute('data-loading', 'false');
  for (const s of STEPS) {
    await expect(page.getByTestId(`home-step-${s}`), `step ${s}`).toHaveAttribute('data-done', String(done.includes(s)));
    await expect(page.getByTestId(`home-step-${s}`), `step ${s}`).toHaveAttribute('data-next', String(s === next));
  }
}

test('from a fresh home to an exported bundle, guided by the first screen', async ({ page }) => {
  await page.addInitScript(`localStorage.getItem('winnow.theme') || localStorage.setItem('winnow.theme', 'light')`);
  await page.goto(server.url);
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');

  // the first screen: what Winnow does; the bundled model is there, importing a dataset is next
  await expect(page.getByTestId('screen-home')).toBeVisible();
  await expect(page.getByTestId('screen-home')).toContainText('decide what to fine-tune on');
  await expectSteps(page, ['model'], 'import');
  await expect(page.getByTestId('header-dataset')).toHaveCount(0);

  // the backend: a short badge, never the raw reason; the details in a popover on hover
  const badge = page.getByTestId('backend');
  // "starting the compute backend…" until app.info has it; never "not chosen" once it is up
  await expect(badge).toHaveAttribute('data-state', 'ready');
  await expect(badge).not.toContainText('not chosen');
  await expect(badge).toHaveText(/^(GPU · .+ \(webgpu\)|CPU · .+|TensorFlow .+)$/);
  const reason = (await page.getByTestId('backend-reason').getAttribute('data-reason'))!;
  expect(reason.length).toBeGreaterThan(0);
  await expect(badge).not.toContainText(reason);
  await expect(page.getByTestId('backend-popover')).toBeHidden();
  await badge.hover();
  await expect(page.getByTestId('backend-popover')).toBeVisible();
  await expect(page.getByTestId('backend-faster')).toContainText('Faster:');
  await page.getByTestId('nav-data').hover(); // away from the badge: the popover closes
  await expect(page.getByTestId('backend-popover')).toBeHidden();
  await badge.click(); // a click keeps it open
  await page.getByTestId('nav-data').hover();
  await expect(page.getByTestId('backend-popover')).toBeVisible();
  await shots(page, '01-backend');
  await badge.click(); // and a second one closes it
  await expect(page.getByTestId('backend-popover')).toBeHidden();
  await shots(page, '01-home');

  // 1. import: one click from the first screen
  await page.getByTestId('home-go-import').click();
  await expect(page.getByTestId('screen-data')).toBeVisible();
  await page.getByTestId('import-path').fill(GSM8K_50);
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('dataset-rows').first()).toHaveText('50');
  await expect(page.getByTestId('header-dataset').locator('option:checked')).toHaveText('gsm8k-50.jsonl (50 rows)');
  await shots(page, '02-imported');
  await expectSteps(page, ['import', 'model'], 'score');
  await expect(page.getByTestId('screen-home')).toContainText('Working on gsm8k-50.jsonl (50 rows)');

  // 2. score
  await page.getByTestId('home-go-score').click();
  await expect(page.getByTestId('screen-score')).toBeVisible();
  await expect(page.getByTestId('screen-dataset')).toContainText('gsm8k-50.jsonl');
  await page.getByTestId('score-start').click();
  await expect(page.getByTestId('job-progress')).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await shots(page, '03-scored');
  await expectSteps(page, ['import', 'model', 'score'], 'subset');

  // 3. subset: the hardest 20% by mean loss
  await page.getByTestId('home-go-subset').click();
  await expect(page.getByTestId('screen-subsets')).toBeVisible();
  await page.getByTestId('subset-name').fill('hardest-20');
  await page.getByTestId('subset-kind').selectOption('top_percent');
  await page.getByTestId('subset-column').selectOption('mean_loss');
  await page.getByTestId('subset-amount').fill('20');
  await page.getByTestId('subset-create').click();
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '10');
  await expect(page.getByTestId('subset-created')).toContainText('10 rows');
  await shots(page, '04-subset');
  await expectSteps(page, ['import', 'model', 'score', 'subset'], 'train');

  // 4. train the last layer for two steps; the run names its rows, the memory estimate its parts
  await page.getByTestId('home-go-train').click();
  await expect(page.getByTestId('screen-train')).toBeVisible();
  await page.getByTestId('train-subset').selectOption({ label: 'hardest-20 (10)' });
  await page.getByTestId('train-layers-mode-last').check();
  await page.getByTestId('train-last-n').fill('1');
  await page.getByTestId('train-steps').fill('2');
  await page.getByTestId('train-batch-size').fill('2');
  const parts = page.getByTestId('train-memory-parts');
  for (const part of ['weights', 'activations', 'gradients', 'optimizer state']) await expect(parts).toContainText(part);
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('train-run-rows').first()).toHaveText('“hardest-20” of gsm8k-50.jsonl');
  await shots(page, '05-trained');
  await page.getByTestId('train-lr-chart').scrollIntoViewIfNeeded();
  await shots(page, '05-trained-charts');
  await expectSteps(page, ['import', 'model', 'score', 'subset', 'train'], 'export');

  // 5. export the subset and its token masks
  const out = mkdtempSync(join(tmpdir(), 'winnow-e2e-first-hour-'));
  try {
    await page.getByTestId('home-go-export').click();
    await expect(page.getByTestId('screen-export')).toBeVisible();
    await page.getByTestId('export-subset').selectOption({ label: 'hardest-20 (10)' });
    await page.getByTestId('export-out-dir').fill(out);
    await page.getByTestId('export-overwrite').check();
    await page.getByTestId('export-start').click();
    await expect(page.getByTestId('export-result')).toBeVisible({ timeout: 120_000 });
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['subset.jsonl', 'manifest.json']));
    await shots(page, '06-exported');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  await expectSteps(page, [...STEPS], null);
  await expect(page.getByTestId('home-all-done')).toBeVisible();
  await shots(page, '07-all-done');

  // the jobs name what they worked on
  await page.getByTestId('jobs-indicator').click();
  await expect(page.locator('[data-testid="job-row"][data-kind="train"]').first()).toContainText('“hardest-20” of gsm8k-50.jsonl');
  await expect(page.locator('[data-testid="job-row"][data-kind="score"]').first()).toContainText('of gsm8k-50.jsonl');
  await shots(page, '08-jobs');
  await page.getByTestId('jobs-close').click();
});

test('the dataset in use is named on every screen, a new import becomes it, and a reload keeps the choice', async ({ page }) => {
  await page.goto(server.url);
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  for (const s of DATASET_SCREENS) {
    await page.getByTestId(`nav-${s}`).click();
    await expect(page.getByTestId(`screen-${s}`)).toBeVisible();
    await expect(page.getByTestId('screen-dataset'), s).toContainText('gsm8k-50.jsonl');
  }

  // a second import becomes the dataset in use: nothing is scored on it yet
  await page.getByTestId('nav-data').click();
  await page.getByTestId('import-path').fill(DUPS);
  await page.getByTestId('import-submit').click();
  await expect(page.locator('[data-testid="dataset-row"]', { hasText: 'dups.jsonl' })).toBeVisible();
  await expect(page.getByTestId('header-dataset').locator('option:checked')).toHaveText('dups.jsonl (4 rows)');
  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('screen-dataset')).toContainText('dups.jsonl');
  await expect(page.getByTestId('examples-count')).toHaveText('4 rows');
  // the training run and bundle of the other dataset are earlier work here, not this dataset's steps done
  await expectSteps(page, ['import', 'model'], 'score');
  for (const s of ['train', 'export']) await expect(page.getByTestId(`home-step-${s}`)).toHaveAttribute('data-kept', 'true');
  await shots(page, '09-second-dataset');

  // chosen in the top bar, kept over a reload
  await page.getByTestId('header-dataset').selectOption({ label: 'gsm8k-50.jsonl (50 rows)' });
  await page.reload();
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  await expect(page.getByTestId('header-dataset').locator('option:checked')).toHaveText('gsm8k-50.jsonl (50 rows)');
  await expectSteps(page, [...STEPS], null);
  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('examples-count')).toHaveText('50 rows');
});
