/**
 * A new user's first hour in one go (issue #20), driven as a person would in Chromium against the real browser-mode
 * engine, from a fresh home: the first screen's guidance → import gsm8k-50 after reading its preview → the first
 * screen's check mark → score a random sample of 20 rows with the bundled model → sort and filter the Examples table
 * → hand-edit one row's token mask → a subset of the filtered rows → a short training run on it → export a bundle →
 * delete the dataset after reading what goes with it, and find the exported bundle still on disk, as the dialog
 * promises. Only reads touch the disk (the bundle folder). first-hour.spec.ts and housekeeping.spec.ts test the same
 * steps one by one; this one checks that they join up. Screenshots of every step in the light theme and of the key
 * steps in the dark one too: test-results/screens/journey-NN-<step>-<theme>.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GSM8K_50, settled, shooter, useServer, withProjectDb } from './helpers';

const server = useServer('journey');
const shot = shooter('journey-');
const SAMPLE = 20;

/** Screenshot in the light theme; with `dark`, in the dark theme too, then back to light. */
async function shots(page: Page, name: string, dark = false): Promise<void> {
  const toggle = page.getByTestId('theme-toggle');
  await expect(toggle).toHaveAttribute('data-theme', 'light');
  await expect(page.locator('main [data-loading="true"]')).toHaveCount(0, { timeout: 60_000 });
  await shot(page, `${name}-light`);
  if (!dark) return;
  await toggle.click();
  await expect(toggle).toHaveAttribute('data-theme', 'dark');
  await shot(page, `${name}-dark`);
  await toggle.click();
  await expect(toggle).toHaveAttribute('data-theme', 'light');
}

/** WCAG's contrast ratio of two computed CSS colours ("rgb(r, g, b)"), from 1 (none) to 21 (black on white). */
function contrast(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** The values a numeric column shows in the rows on screen (blank cells, rows not scored, left out). */
async function shownValues(page: Page, column: string): Promise<number[]> {
  const cells = page.locator(`[data-testid="examples-row"] [data-column="${column}"]`);
  return (await cells.allTextContents()).map((t) => t.trim()).filter((t) => t !== '' && t !== '—').map((t) => Number(t.replace(/,/g, '')));
}

test('a new user: import, score a sample, sort and filter, edit a mask, subset, train, export, delete', async ({ page }) => {
  test.setTimeout(1_500_000);
  const out = mkdtempSync(join(tmpdir(), 'winnow-e2e-journey-'));
  try {
    await page.addInitScript(`localStorage.getItem('winnow.theme') || localStorage.setItem('winnow.theme', 'light')`);
    await page.goto(server.url);
    await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');

    // the first screen: what Winnow does, and that importing a dataset is the next step
    const home = page.getByTestId('screen-home');
    await expect(home).toBeVisible();
    await expect(home).toContainText('decide what to fine-tune on');
    await expect(page.getByTestId('home-steps')).toHaveAttribute('data-loading', 'false');
    await expect(page.getByTestId('home-step-import')).toHaveAttribute('data-next', 'true');
    await expect(page.getByTestId('home-step-import')).toHaveAttribute('data-done', 'false');
    await shots(page, '01-home', true);

    // import: type the path, read the preview (rows, the trained part marked), then Import
    await page.getByTestId('home-go-import').click();
    await expect(page.getByTestId('screen-data')).toBeVisible();
    await page.getByTestId('import-path').fill(GSM8K_50);
    await page.getByTestId('import-preview-button').click();
    const preview = page.getByTestId('import-preview');
    await expect(preview).toBeVisible();
    await expect(preview.locator('[data-testid="preview-row"][data-error="false"]').first()).toBeVisible();
    const first = preview.getByTestId('preview-row').first();
    await expect(first).toContainText('Natalia');
    // the answer is what is trained on, not the question
    const trained = (await first.getByTestId('preview-trained').allTextContents()).join('');
    expect(trained).toContain('Natalia sold 48/2');
    expect(trained).not.toContain('Natalia sold clips to 48');
    await shots(page, '02-preview');
    await page.getByTestId('import-submit').click();
    await expect(page.getByTestId('dataset-rows').first()).toHaveText('50');
    await expect(page.getByTestId('header-dataset').locator('option:checked')).toHaveText('gsm8k-50.jsonl (50 rows)');
    await shots(page, '03-imported');

    // the first screen ticks the import off and points at scoring
    await page.getByTestId('nav-home').click();
    await expect(page.getByTestId('home-steps')).toHaveAttribute('data-loading', 'false');
    await expect(page.getByTestId('home-step-import')).toHaveAttribute('data-done', 'true');
    await expect(page.getByTestId('home-step-import')).toContainText('✓');
    await expect(page.getByTestId('home-step-score')).toHaveAttribute('data-next', 'true');
    await shots(page, '04-home-imported');

    // score a seeded random sample of 20 rows: mean_loss and token_loss with the bundled model
    await page.getByTestId('home-go-score').click();
    await expect(page.getByTestId('screen-score')).toBeVisible();
    await expect(page.getByTestId('screen-dataset')).toContainText('gsm8k-50.jsonl');
    for (const s of ['mean_loss', 'token_loss']) {
      const box = page.getByTestId(`signal-${s}`);
      if (!(await box.isChecked())) await box.check();
    }
    await page.getByTestId('score-rows').selectOption('sample');
    await page.getByTestId('score-sample-n').fill(String(SAMPLE));
    await page.getByTestId('score-sample-seed').fill('7');
    await page.getByTestId('score-start').click();
    await expect(page.getByTestId('score-plan-rows')).toHaveText(`random ${SAMPLE}, seed 7`);
    await expect(page.getByTestId('job-progress').first()).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
    await expect(page.getByTestId('score-run-row').first().getByTestId('score-run-rows')).toHaveText(`random ${SAMPLE}, seed 7`);
    // the finished run's speed, in tokens and in examples
    await expect(page.getByTestId('job-progress').first().getByTestId('job-tokensPerSec')).toContainText('tokens/s');
    await expect(page.getByTestId('job-progress').first().getByTestId('job-examplesPerSec')).toContainText('examples/s');
    await shots(page, '05-scored', true);

    // the Examples table: sort by mean_loss, highest first
    await page.getByTestId('nav-examples').click();
    await settled(page);
    await expect(page.getByTestId('examples-count')).toHaveText('50 rows');
    const sort = page.getByTestId('sort-mean_loss');
    await expect(sort).toHaveAttribute('data-sort', 'none');
    await sort.click();
    await expect(sort).toHaveAttribute('data-sort', 'desc');
    await settled(page);
    const sorted = await shownValues(page, 'mean_loss');
    expect(sorted.length).toBeGreaterThan(1);
    expect(sorted).toEqual([...sorted].sort((a, b) => b - a));
    await shots(page, '06-sorted');

    // filter a range: the upper half of the scored rows' mean_loss, typed into the column's min and max
    const hist = page.getByTestId('hist-mean_loss');
    await expect(hist).toHaveAttribute('data-loading', 'false');
    await expect(hist).toHaveAttribute('data-total', String(SAMPLE));
    const lo = Number(await hist.getAttribute('data-min'));
    const hi = Number(await hist.getAttribute('data-max'));
    expect(hi).toBeGreaterThan(lo);
    const fmin = ((lo + hi) / 2).toFixed(3);
    const fmax = (Math.ceil(hi * 1000) / 1000 + 0.001).toFixed(3);
    await page.getByTestId('filter-min-mean_loss').fill(fmin);
    await page.getByTestId('filter-max-mean_loss').fill(fmax);
    await expect(page.getByTestId('examples-count')).not.toHaveText('50 rows');
    await settled(page);
    const total = Number(await page.getByTestId('examples-count').getAttribute('data-total'));
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(SAMPLE);
    // the 30 rows outside the scored sample have no mean_loss: the count says the filter left them out
    await expect(page.getByTestId('examples-filter-note')).toHaveText('rows without mean_loss left out');
    await expect(page.getByTestId('examples-row')).toHaveCount(total);
    const kept = await shownValues(page, 'mean_loss');
    expect(kept).toHaveLength(total);
    for (const v of kept) {
      expect(v).toBeGreaterThanOrEqual(Number(fmin) - 1e-3);
      expect(v).toBeLessThanOrEqual(Number(fmax) + 1e-3);
    }
    await shots(page, '07-filtered', true);

    // open the first filtered row and make two of its prompt tokens trainable by clicking them; save
    const row = page.getByTestId('examples-row').first();
    await expect(row).toHaveAttribute('data-edited', 'false');
    await row.click();
    const detail = page.getByTestId('example-detail');
    await expect(detail).toHaveAttribute('data-loading', 'false');
    const tools = page.getByTestId('mask-tools');
    await expect(tools).toHaveAttribute('data-source', 'template');
    const share = page.getByTestId('trainable-share');
    const template = Number(await share.getAttribute('data-trainable'));
    for (const i of [1, 2]) {
      const token = page.locator(`[data-testid="token"][data-index="${i}"]`);
      await expect(token).toHaveAttribute('data-label', 'false');
      await token.click();
      await expect(token).toHaveAttribute('data-label', 'true');
    }
    await expect(share).toHaveAttribute('data-trainable', String(template + 2));
    await expect(tools).toHaveAttribute('data-dirty', 'true');
    await shots(page, '08-mask-edited');
    await page.getByTestId('mask-save').click();
    await expect(tools).toHaveAttribute('data-source', 'edited');
    await expect(tools).toHaveAttribute('data-dirty', 'false');
    await expect(row).toHaveAttribute('data-edited', 'true');
    await expect(row.getByTestId('edited-mark')).toBeVisible();
    await shots(page, '09-mask-saved', true);
    await page.keyboard.press('Escape');
    await expect(detail).toHaveCount(0);

    // a subset of the filtered rows, saved from the Examples toolbar: it holds exactly the rows the filter showed,
    // and the Subsets screen lists it with its rule in words
    await page.getByTestId('examples-save-subset').click();
    const subsetName = page.getByTestId('examples-subset-name');
    await expect(subsetName).toHaveValue(`filtered: mean_loss ${Number(fmin)}–${Number(fmax)}`);
    await subsetName.fill('upper-loss');
    await shots(page, '10-save-subset');
    await page.getByTestId('examples-subset-save').click();
    await expect(page.getByTestId('examples-subset-saved')).toHaveAttribute('data-size', String(total));
    await page.getByTestId('nav-subsets').click();
    await expect(page.getByTestId('screen-subsets')).toBeVisible();
    const saved = page.locator('[data-testid="subset-row"][data-name="upper-loss"]');
    await expect(saved.getByTestId('subset-size')).toContainText(String(total));
    await expect(saved).toContainText(`${Number(fmin)} ≤ mean_loss ≤ ${Number(fmax)} (Examples filter)`);
    await shots(page, '10-subset');

    // train the last layer for two steps on it with the bundled tiny model
    await page.getByTestId('nav-train').click();
    await expect(page.getByTestId('screen-train')).toBeVisible();
    await page.getByTestId('train-subset').selectOption({ label: `upper-loss (${total})` });
    await page.getByTestId('train-layers-mode-last').check();
    await page.getByTestId('train-last-n').fill('1');
    await page.getByTestId('train-steps').fill('2');
    await page.getByTestId('train-batch-size').fill('2');
    await page.getByTestId('train-start').click();
    await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done', { timeout: 600_000 });
    await expect(page.getByTestId('train-run-rows').first()).toHaveText('“upper-loss” of gsm8k-50.jsonl');
    await shots(page, '11-trained', true);

    // export the subset: the result names the folder it was written to, and the files are there
    await page.getByTestId('nav-export').click();
    await expect(page.getByTestId('screen-export')).toBeVisible();
    await page.getByTestId('export-subset').selectOption({ label: `upper-loss (${total})` });
    await page.getByTestId('export-out-dir').fill(out);
    await page.getByTestId('export-overwrite').check();
    await page.getByTestId('export-start').click();
    await expect(page.getByTestId('export-result')).toBeVisible({ timeout: 300_000 });
    await expect(page.getByTestId('export-path').first()).toContainText(out);
    const written = readdirSync(out);
    expect(written).toEqual(expect.arrayContaining(['subset.jsonl', 'manifest.json']));
    await shots(page, '12-exported', true);

    // delete the dataset: the dialog lists what goes with it and promises to leave exported bundles on disk
    await page.getByTestId('nav-data').click();
    await expect(page.getByTestId('screen-data')).toBeVisible();
    // a deletion waits for running jobs
    await expect(page.getByTestId('jobs-indicator')).toHaveAttribute('data-active', '0', { timeout: 120_000 });
    await page.getByTestId('dataset-row').first().getByTestId('item-delete').click();
    const dialog = page.getByTestId('dependency-dialog');
    await expect(dialog).toBeVisible();
    const deletes = dialog.getByTestId('dependency-deletes');
    await expect(deletes).toContainText('50 rows of "gsm8k-50.jsonl"');
    await expect(deletes).toContainText(`the scores of ${SAMPLE} rows`);
    await expect(deletes).toContainText(`random ${SAMPLE}, seed 7`);
    await expect(deletes).toContainText(`"upper-loss" (${total} rows, all in this dataset)`);
    await expect(deletes).toContainText('token masks');
    await expect(dialog.getByTestId('dependency-keeps')).toContainText('train runs that used it (kept, with their models and files)');
    await expect(dialog).toContainText('exported bundles) are never deleted');
    // the note stands clear of the buttons below it
    const gap = async () => (await dialog.getByTestId('dependency-confirm').boundingBox())!.y - await dialog.getByTestId('dependency-note').evaluate((e) => e.getBoundingClientRect().bottom);
    expect(await gap()).toBeGreaterThanOrEqual(16);
    await shots(page, '13-delete-dialog');
    // Cancel deletes nothing; the same dialog in the dark theme (the backdrop covers the theme toggle), then confirm
    const toggle = page.getByTestId('theme-toggle');
    await dialog.getByTestId('dependency-cancel').click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByTestId('dataset-row')).toHaveCount(1);
    await toggle.click();
    await expect(toggle).toHaveAttribute('data-theme', 'dark');
    await page.getByTestId('dataset-row').first().getByTestId('item-delete').click();
    await expect(deletes).toContainText('50 rows of "gsm8k-50.jsonl"');
    // the red Delete button's white text reads in the dark theme too (WCAG AA: at least 4.5:1)
    const confirmColours = await dialog.getByTestId('dependency-confirm').evaluate((e) => {
      const style = e.ownerDocument.defaultView!.getComputedStyle(e);
      return [style.color, style.backgroundColor];
    });
    expect(contrast(confirmColours[0]!, confirmColours[1]!)).toBeGreaterThanOrEqual(4.5);
    await shot(page, '13-delete-dialog-dark');
    await dialog.getByTestId('dependency-cancel').click();
    await toggle.click();
    await expect(toggle).toHaveAttribute('data-theme', 'light');
    await page.getByTestId('dataset-row').first().getByTestId('item-delete').click();
    await expect(deletes).toContainText('50 rows of "gsm8k-50.jsonl"');
    await dialog.getByTestId('dependency-confirm').click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByTestId('dataset-row')).toHaveCount(0);
    await expect(page.getByTestId('header-dataset')).toHaveCount(0);
    await shots(page, '14-deleted');

    // what went with it: its score run and subset; the train run stays; the bundle folder is untouched
    await page.getByTestId('nav-subsets').click();
    await expect(page.getByTestId('screen-subsets')).toBeVisible();
    await expect(page.getByTestId('subset-row')).toHaveCount(0);
    await page.getByTestId('nav-score').click();
    await expect(page.getByTestId('screen-score')).toBeVisible();
    await expect(page.getByTestId('score-run-row')).toHaveCount(0);
    // the Train screen, with no dataset left, has no form to start a run, but still lists the kept run and shows it;
    // the run's model is still listed on the Data screen
    await page.getByTestId('nav-train').click();
    await expect(page.getByTestId('train-empty')).toBeVisible();
    await expect(page.getByTestId('train-start')).toHaveCount(0);
    await expect(page.getByTestId('train-run-row')).toHaveCount(1);
    await expect(page.getByTestId('train-run-row')).toHaveAttribute('data-status', 'done');
    await expect(page.getByTestId('train-run-rows')).toHaveText('a deleted subset of a deleted dataset');
    await expect(page.getByTestId('train-run')).toHaveAttribute('data-status', 'done');
    await shots(page, '15-train-no-dataset', true);
    await page.getByTestId('nav-data').click();
    await expect(page.locator('[data-testid="model-row"]', { hasText: 'train run #1' })).toBeVisible();
    await shots(page, '16-model-kept');
    // the screens above have no dataset to show any more, so read the project itself: the deletion took its score
    // run, subset and masks, and kept the train run
    withProjectDb(server, 'journey', (db) => {
      const count = (table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get();
      expect({ datasets: count('datasets'), examples: count('examples'), score_runs: count('score_runs'), subsets: count('subsets'), token_masks: count('token_masks'), train_runs: count('train_runs') })
        .toEqual({ datasets: 0, examples: 0, score_runs: 0, subsets: 0, token_masks: 0, train_runs: 1 });
    });
    expect(existsSync(out)).toBe(true);
    expect(readdirSync(out).sort()).toEqual([...written].sort());
    await page.getByTestId('nav-home').click();
    await expect(page.getByTestId('home-steps')).toHaveAttribute('data-loading', 'false');
    // import is next again; the kept training run and the bundle on disk are named as earlier work, not ticked
    await expect(page.getByTestId('home-step-import')).toHaveAttribute('data-done', 'false');
    await expect(page.getByTestId('home-step-import')).toHaveAttribute('data-next', 'true');
    for (const s of ['score', 'subset', 'train', 'export']) await expect(page.getByTestId(`home-step-${s}`)).toHaveAttribute('data-done', 'false');
    for (const s of ['train', 'export']) {
      await expect(page.getByTestId(`home-step-${s}`)).toHaveAttribute('data-kept', 'true');
      await expect(page.getByTestId(`home-kept-${s}`)).toContainText('from earlier work');
    }
    await expect(page.getByTestId('home-kept-train')).toContainText('1 finished run');
    await shots(page, '17-home-after-delete', true);

    // the top bar named the backend once it was up, and never said "not chosen" after
    const badge = page.getByTestId('backend');
    await expect(badge).toHaveAttribute('data-state', 'ready');
    await expect(badge).not.toContainText('not chosen');
    await expect(badge).not.toContainText('starting');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
