/**
 * What a screen offers, it does (issue 15 §2), in Chromium against the real browser-mode engine (fresh project):
 * the Layers screen's "Score → fim" opens the Score screen with fim ticked; the Score screen lists the import's
 * duplicate signals as computed, not as something to run; the Export screen writes the trainer configs with the files
 * they read, with the model chosen there, and the bundle's README names only files it has; Add model takes a file
 * inside a model folder. Screenshots: signals-NN-*.png.
 */
import { expect, test } from '@playwright/test';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GSM8K_50, importDataset, shooter, useServer } from './helpers';

const server = useServer('signals');
const shot = shooter('signals-');

test('Layers "Score → fim" opens the Score screen with fim ticked; duplicates are shown as computed at import', async ({ page }) => {
  await importDataset(page, server, GSM8K_50, 50);
  await page.getByTestId('nav-layers').click();
  await expect(page.getByTestId('layers-no-scores')).toBeVisible();
  await page.getByTestId('layers-score-fim').click();
  await expect(page.getByTestId('screen-score')).toBeVisible();
  await expect(page.getByTestId('signal-fim')).toBeChecked();
  // the link asked for fim alone
  await expect(page.getByTestId('signal-token_loss')).not.toBeChecked();
  await expect(page.getByTestId('signal-mean_loss')).not.toBeChecked();
  // the query is taken once: the address is the plain screen again
  await expect.poll(() => new URL(page.url()).hash).toBe('#/score');
  // exact_dup / near_dup: no checkbox, a line saying they are already there
  await expect(page.getByTestId('signal-exact_dup')).toHaveCount(0);
  await expect(page.getByTestId('signal-near_dup')).toHaveCount(0);
  await expect(page.getByTestId('score-import-signals')).toContainText('exact_dup');
  await expect(page.getByTestId('score-import-signals')).toContainText('near_dup');
  await shot(page, '01-score-fim');
});

test('the Export screen writes the trainer configs with the files they read; the README names only what is there', async ({ page }) => {
  const out = mkdtempSync(join(tmpdir(), 'winnow-e2e-configs-'));
  try {
    await page.goto(`${server.url}#/export`);
    await expect(page.getByTestId('screen-export')).toBeVisible();
    for (const w of ['subset', 'token_masks', 'scores', 'layer_mask', 'weights']) await page.getByTestId(`export-what-${w}`).uncheck();
    await page.getByTestId('export-what-configs').check();
    // the configs train on these: ticked and held while configs is
    for (const w of ['subset', 'token_masks']) {
      await expect(page.getByTestId(`export-what-${w}`)).toBeChecked();
      await expect(page.getByTestId(`export-what-${w}`)).toBeDisabled();
    }
    await expect(page.getByTestId('export-configs-note')).toBeVisible();
    await expect(page.getByTestId('export-model')).toBeVisible();
    await page.getByTestId('export-out-dir').fill(join(out, 'bundle'));
    await shot(page, '02-export-configs');
    await page.getByTestId('export-start').click();
    await expect(page.getByTestId('export-result')).toContainText(join(out, 'bundle'), { timeout: 120_000 });
    await shot(page, '03-export-done');
    const dir = join(out, 'bundle');
    for (const f of ['train_trl.py', 'axolotl.yaml', 'llamafactory.yaml', 'dataset_info.json', 'token_masks.jsonl', 'subset.messages.jsonl', 'README.md', 'manifest.json']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const info = JSON.parse(readFileSync(join(dir, 'dataset_info.json'), 'utf8')) as Record<string, { file_name: string }>;
    expect(existsSync(join(dir, info.winnow_subset!.file_name))).toBe(true);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const named = [...readme.matchAll(/`([\w./-]+\.(?:jsonl|json|py|yaml|parquet|csv|md|safetensors))`/g)].map((m) => m[1]!);
    expect(named).toContain('train_trl.py');
    // what the bundle's trainers write when they run is named as their output, not as a file of the bundle
    const trainerOutputs = new Set(['hf-out/', 'winnow_delta.json']);
    for (const f of named) if (!trainerOutputs.has(f)) expect(existsSync(join(dir, f)), `README.md names ${f}`).toBe(true);
    // unticking configs releases the files it held
    await page.getByTestId('export-what-configs').uncheck();
    await expect(page.getByTestId('export-what-subset')).toBeEnabled();
    await expect(page.getByTestId('export-what-subset')).not.toBeChecked();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the Export screen says what a layer mask export needs before it is started', async ({ page }) => {
  await page.goto(`${server.url}#/export`);
  await page.getByTestId('export-what-layer_mask').check();
  await expect(page.getByTestId('export-layer-mask-needed')).toBeVisible();
  await expect(page.getByTestId('export-start')).toBeDisabled();
});

test('Add model given model.safetensors adds its folder; the Export screen makes the token masks with the model chosen there', async ({ page }) => {
  const tmp = mkdtempSync(join(tmpdir(), 'winnow-e2e-model-'));
  try {
    const folder = join(tmp, 'stories copy');
    cpSync(resolve('resources/models/stories260K'), folder, { recursive: true });
    await page.goto(`${server.url}#/data`);
    await page.getByTestId('model-path').fill(join(folder, 'model.safetensors'));
    await page.getByTestId('model-add').click();
    await expect(page.getByTestId('model-added')).toContainText('stories copy');
    await expect(page.getByTestId('model-error')).toHaveCount(0);

    await page.getByTestId('nav-export').click();
    for (const w of ['subset', 'scores', 'layer_mask', 'weights', 'configs']) await page.getByTestId(`export-what-${w}`).uncheck();
    await page.getByTestId('export-what-token_masks').check();
    await page.getByTestId('export-model').selectOption({ label: 'stories copy (5 layers)' });
    await page.getByTestId('export-out-dir').fill(join(tmp, 'bundle'));
    await page.getByTestId('export-start').click();
    // the screen shows the earlier export until this one is done
    await expect(page.getByTestId('export-result')).toContainText(join(tmp, 'bundle'), { timeout: 120_000 });
    const manifest = JSON.parse(readFileSync(join(tmp, 'bundle', 'manifest.json'), 'utf8')) as { model: { path: string; name: string } };
    expect(manifest.model).toMatchObject({ path: folder, name: 'stories copy' });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
