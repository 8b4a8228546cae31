/**
 * The whole loop in Chromium against the real browser-mode engine, on a fresh project in a temporary home:
 * import → examples → detail → score → sort → subset → train → export. Waits on data-* state and app events,
 * never on sleeps. Screenshots of every screen go to test-results/screens/ (look at them).
 */
import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GSM8K_300 as FIXTURE, shooter, useServer } from './helpers';

const MALFORMED = resolve('test/fixtures/data/e2e-malformed.jsonl');
const server = useServer('e2e');
const shot = shooter('');

test('the token leaves the URL; a fresh project opens with the bundled model', async ({ page }) => {
  await page.goto(`${server.url}#/data`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  await expect(page).not.toHaveURL(/token=/);
  await expect(page.getByTestId('project-name')).toHaveText('e2e');
  await expect(page.getByTestId('model-row').first()).toContainText('stories260K');
  await expect(page.getByTestId('datasets-empty')).toBeVisible();
  await expect(page.getByTestId('backend')).toHaveText(/webgpu|wasm|cpu|tensorflow/);
  await shot(page, '01-data-empty');
  await page.reload();
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  await expect(page.getByTestId('model-row').first()).toBeVisible();
});

test('bad input is reported where it happened, naming the file and line; nothing is imported', async ({ page }) => {
  await page.goto(`${server.url}#/data`);
  await page.getByTestId('import-path').fill('/nonexistent/winnow-e2e.jsonl');
  await page.getByTestId('import-submit').click();
  const shown = page.getByTestId('import-error').or(page.getByTestId('job-error'));
  await expect(shown.first()).toContainText('winnow-e2e.jsonl');

  // an upload goes through the same preview as a path (its rows say which cannot be read), then Import
  await page.getByTestId('import-file').setInputFiles(MALFORMED);
  await expect(page.getByTestId('import-preview')).toBeVisible();
  await expect(page.locator('[data-testid="preview-row"][data-error="true"]').first()).toBeVisible();
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('import-error').or(page.getByTestId('job-error')).first()).toContainText(/line 2/);
  await shot(page, '02-import-error');
  await expect(page.getByTestId('datasets-empty')).toBeVisible();
});

test('import a JSONL by path; browse, sort, page and open an example', async ({ page }) => {
  await page.goto(`${server.url}#/data`);
  await page.getByTestId('import-path').fill(FIXTURE);
  await page.getByTestId('import-submit').click();
  const row = page.getByTestId('dataset-row').first();
  await expect(row).toBeVisible();
  await expect(page.getByTestId('dataset-rows').first()).toHaveText('300');
  await shot(page, '03-data-imported');

  await page.getByTestId('nav-examples').click();
  const table = page.getByTestId('examples-table');
  await expect(page.getByTestId('examples-count')).toHaveText('300 rows');
  await expect(page.getByTestId('examples-row').first()).toBeVisible();
  expect(await page.getByTestId('examples-row').count()).toBeLessThan(100); // virtualized

  await page.getByTestId('sort-row_index').click();
  await expect(page.getByTestId('sort-row_index')).toHaveAttribute('data-sort', 'desc');
  await expect(table).toHaveAttribute('data-loading', 'false');
  const rowCells = page.locator('[data-testid="examples-row"] [data-column="row_index"]');
  await expect(rowCells.first()).toHaveText('300'); // row numbers count from 1 (rowNumber)

  await table.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(page.locator('[data-testid="examples-row"][data-index="299"]')).toBeVisible();
  await table.evaluate((el) => (el.scrollTop = 0));

  await table.focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.locator('[data-testid="examples-row"][aria-selected="true"]')).toHaveAttribute('data-index', '1');
  await page.keyboard.press('Enter');
  const detail = page.getByTestId('example-detail');
  await expect(detail).toHaveAttribute('data-loading', 'false');
  const tokens = page.getByTestId('token');
  await expect(tokens.first()).toBeVisible();
  expect(await page.locator('[data-testid="token"][data-label="true"]').count()).toBeGreaterThan(0);
  expect(await page.locator('[data-testid="token"][data-label="false"]').count()).toBeGreaterThan(0);
  // token texts are the rendered text's characters: joined, they read as the conversation
  const joined = (await page.getByTestId('tokens').innerText()).replace(/\s+/g, ' ');
  expect(joined).toContain('Question:');
  await tokens.nth(3).hover();
  await expect(page.getByTestId('token-info')).toContainText('id');
  await shot(page, '04-example-detail');
  await page.keyboard.press('Escape');
  await expect(detail).toHaveCount(0);

  await page.getByTestId('examples-search').fill('zzzzqqqq-no-such-text');
  await expect(page.getByTestId('examples-count')).toHaveText('0 rows');
});

test('score, sort by mean_loss, subset, train the last layer, export', async ({ page }) => {
  await page.goto(server.url);
  await page.getByTestId('nav-score').click();
  await expect(page.getByTestId('signal-token_loss')).toBeChecked();
  await expect(page.getByTestId('signal-mean_loss')).toBeChecked();
  await page.getByTestId('score-start').click();
  await expect(page.getByTestId('score-pass').first()).toBeVisible();
  const progress = page.getByTestId('job-progress');
  await expect(progress).toHaveAttribute('data-status', /running|done/);
  await shot(page, '05-score-running');
  await expect(progress).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await shot(page, '06-score-done');

  await page.getByTestId('nav-examples').click();
  await page.getByTestId('sort-mean_loss').click();
  await expect(page.getByTestId('sort-mean_loss')).toHaveAttribute('data-sort', 'desc');
  await expect(page.getByTestId('examples-table')).toHaveAttribute('data-loading', 'false');
  const losses = page.locator('[data-testid="examples-row"] [data-column="mean_loss"]');
  await expect(losses.first()).not.toHaveText('—');
  const a = Number((await losses.nth(0).textContent())!.replace(/,/g, ''));
  const b = Number((await losses.nth(1).textContent())!.replace(/,/g, ''));
  expect(a).toBeGreaterThanOrEqual(b);
  await page.getByTestId('examples-row').first().click();
  await expect(page.getByTestId('token-signal')).toBeVisible();
  await expect(page.getByTestId('token-legend')).toBeVisible();
  expect(await page.locator('[data-testid="token"][data-value]').count()).toBeGreaterThan(10);
  await shot(page, '07-examples-scored');

  await page.getByTestId('nav-subsets').click();
  await page.getByTestId('subset-name').fill('e2e-hardest-20');
  await page.getByTestId('subset-kind').selectOption('top_percent');
  await page.getByTestId('subset-column').selectOption('mean_loss');
  await page.getByTestId('subset-amount').fill('20');
  await page.getByTestId('subset-create').click();
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '60');
  await expect(page.locator('[data-testid="subset-row"][data-name="e2e-hardest-20"] [data-testid="subset-size"]')).toHaveText('60');
  await shot(page, '08-subsets');

  await page.getByTestId('nav-train').click();
  await page.getByTestId('train-subset').selectOption({ label: 'e2e-hardest-20 (60)' });
  await page.getByTestId('train-layers-mode-custom').check();
  await page.getByTestId('train-layers').fill('last:99');
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-error')).toContainText('last:99');
  await page.getByTestId('train-layers-mode-last').check();
  await page.getByTestId('train-last-n').fill('2');
  await page.getByTestId('train-steps').fill('6');
  await page.getByTestId('train-batch-size').fill('2');
  await page.getByTestId('train-start').click();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('train-loss-chart')).not.toHaveAttribute('data-points', '0');
  await expect(page.getByTestId('train-tokens-per-sec')).not.toHaveText('—');
  await shot(page, '09-train-done');

  const out = mkdtempSync(join(tmpdir(), 'winnow-e2e-export-'));
  try {
    await page.getByTestId('nav-export').click();
    await page.getByTestId('export-subset').selectOption({ label: 'e2e-hardest-20 (60)' });
    await page.getByTestId('export-train-run').selectOption({ index: 1 });
    for (const w of ['subset', 'token_masks', 'layer_mask', 'weights']) {
      const box = page.getByTestId(`export-what-${w}`);
      if (!(await box.isChecked())) await box.check();
    }
    await page.getByTestId('export-out-dir').fill(out);
    await page.getByTestId('export-overwrite').check();
    await page.getByTestId('export-start').click();
    await expect(page.getByTestId('export-result')).toBeVisible({ timeout: 120_000 });
    await shot(page, '10-export-done');
    const files = readdirSync(out);
    expect(files).toEqual(expect.arrayContaining(['subset.jsonl', 'token_masks.jsonl', 'layer_mask.json', 'model', 'manifest.json']));
    expect(readFileSync(join(out, 'subset.jsonl'), 'utf8').trim().split('\n')).toHaveLength(60);
    const mask = JSON.parse(readFileSync(join(out, 'layer_mask.json'), 'utf8')) as { trainable_tensors: string[] };
    expect(mask.trainable_tensors.every((n) => /^model\.layers\.[34]\./.test(n))).toBe(true);
    const firstMask = JSON.parse(readFileSync(join(out, 'token_masks.jsonl'), 'utf8').split('\n')[0]!) as { input_ids: number[]; labels: number[] };
    expect(firstMask.labels).toHaveLength(firstMask.input_ids.length);
    expect(firstMask.labels).toContain(-100);

    // the bundle opens again in Winnow: its subset and masks come back
    await page.getByTestId('nav-data').click();
    await page.getByTestId('bundle-path').fill(out);
    await page.getByTestId('bundle-open').click();
    await expect(page.getByTestId('bundle-opened')).toContainText('restored subset');
    await page.getByTestId('nav-subsets').click();
    await expect(page.locator('[data-testid="subset-row"][data-name="e2e-hardest-20 (2)"] [data-testid="subset-size"]')).toHaveText('60');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }

  await page.getByTestId('jobs-indicator').click();
  await expect(page.locator('[data-testid="job-row"][data-kind="train"]').first()).toHaveAttribute('data-status', 'done');
  await shot(page, '11-jobs');
});

test('duplicates: show only rows with copies, or keep one per group', async ({ page }) => {
  await page.goto(`${server.url}#/data`);
  await page.getByTestId('import-path').fill(resolve('test/fixtures/data/dups.jsonl'));
  await page.getByTestId('import-submit').click();
  await expect(page.locator('[data-testid="dataset-row"]', { hasText: 'dups.jsonl' })).toBeVisible();
  await page.locator('[data-testid="dataset-row"]', { hasText: 'dups.jsonl' }).getByTestId('dataset-select').check();
  await page.getByTestId('nav-examples').click();
  await expect(page.getByTestId('examples-count')).toHaveText('4 rows');
  await page.getByTestId('dup-filter').selectOption('only:exact_dup');
  await expect(page.getByTestId('examples-count')).toHaveText('2 rows');
  await page.getByTestId('dup-filter').selectOption('hide:exact_dup');
  await expect(page.getByTestId('examples-count')).toHaveText('3 rows');
  await shot(page, '12-duplicates');
});

test('mapping step: preview the first rows rendered, map odd field names, import with that mapping', async ({ page }) => {
  await page.goto(`${server.url}#/data`);
  await page.getByTestId('import-path').fill(resolve('test/fixtures/data/odd-fields.jsonl'));
  await page.getByTestId('import-preview-button').click();
  const preview = page.getByTestId('import-preview');
  await expect(preview).toBeVisible();
  // no known format: the preview opens on a guess and says so
  await expect(page.getByTestId('mapping-check')).toContainText('guess');
  await page.getByTestId('mapping-format').selectOption('question_answer');
  await page.getByTestId('mapping-question').selectOption('query');
  await page.getByTestId('mapping-answer').selectOption('reply');
  await expect(page.locator('[data-testid="preview-row"][data-error="false"]')).toHaveCount(2);
  await expect(page.getByTestId('preview-row').first()).toContainText('What is 2+2?');
  await shot(page, '13-import-preview');
  await page.getByTestId('import-submit').click();
  const row = page.locator('[data-testid="dataset-row"]', { hasText: 'odd-fields.jsonl' });
  await expect(row).toBeVisible();
  await expect(row.getByTestId('dataset-rows')).toHaveText('2');
});
