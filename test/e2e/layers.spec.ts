/**
 * The Layers screen and the Train additions in Chromium against the real browser-mode engine (fresh project):
 * the tensor grid, presets through layers.resolve, toggling tensors and blocks, the live estimate, named masks,
 * "Train with this mask", runs overlaid on the loss chart, pause and resume. Screenshots: layers-NN-*.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { GSM8K_50, importDataset, shooter, useServer } from './helpers';

const server = useServer('layers');
const shot = shooter('layers-');

const cells = (page: Page, selected?: boolean) =>
  page.locator(`[data-testid="layer-cell"]${selected === undefined ? '' : `[data-selected="${selected}"]`}`);

async function trainable(page: Page): Promise<number> {
  return Number(await page.getByTestId('layers-trainable').getAttribute('data-value'));
}

test('the grid shows every tensor of the bundled model; without layer scores it says what to do', async ({ page }) => {
  await importDataset(page, server, GSM8K_50, 50);

  await page.getByTestId('nav-layers').click();
  const grid = page.getByTestId('layer-grid');
  await expect(grid).toBeVisible();
  const total = Number(await grid.getAttribute('data-tensors'));
  await expect(cells(page)).toHaveCount(total);
  await expect(page.getByTestId('layer-block')).toHaveCount(5);
  // stories260K: 9 tensors per block, plus the embeddings and the final norm
  await expect(page.locator('[data-testid="layer-cell"][data-block="4"]')).toHaveCount(9);
  await expect(page.locator('[data-testid="layer-cell"][data-block=""]')).toHaveCount(total - 45);
  await expect(page.getByTestId('layers-no-scores')).toContainText('score layers first');
  await expect(page.getByTestId('preset-top')).toBeDisabled();
  await expect(page.getByTestId('layers-spec')).toContainText('nothing chosen');
  // nothing to train or save yet, and the buttons say why
  for (const id of ['layers-train', 'layer-mask-save']) {
    await expect(page.getByTestId(id)).toBeDisabled();
    await expect(page.getByTestId(id)).toHaveAttribute('title', /No tensor chosen/);
  }
  await shot(page, '01-empty');
});

test('presets resolve through the engine; cells and blocks toggle; the estimate follows', async ({ page }) => {
  await page.goto(`${server.url}#/layers`);
  await expect(page.getByTestId('layer-grid')).toBeVisible();

  await page.getByTestId('preset-last-n').fill('2');
  await page.getByTestId('preset-last').click();
  await expect(page.getByTestId('layers-spec')).toHaveText('last:2');
  await expect(page.locator('[data-testid="layer-block"][data-selected="all"]')).toHaveCount(2);
  await expect(page.locator('[data-testid="layer-block"][data-block="3"]')).toHaveAttribute('data-selected', 'all');
  await expect(page.locator('[data-testid="layer-block"][data-block="4"]')).toHaveAttribute('data-selected', 'all');
  await expect(page.getByTestId('layers-count')).toHaveAttribute('data-value', '18');
  await expect(page.getByTestId('layers-fits')).toHaveAttribute('data-fits', 'true');
  await expect.poll(() => trainable(page)).toBeGreaterThan(0);
  const last2 = await trainable(page);
  await shot(page, '02-last2');

  // one tensor more: the spec becomes an explicit name list
  await page.locator('[data-testid="layer-cell"][data-block="0"][data-kind="q"]').click();
  await expect(page.getByTestId('layers-spec')).toContainText('names:');
  await expect(page.getByTestId('layers-spec')).toContainText('model.layers.0.self_attn.q_proj.weight');
  await expect(page.locator('[data-testid="layer-block"][data-block="0"]')).toHaveAttribute('data-selected', 'some');
  await expect.poll(() => trainable(page)).toBeGreaterThan(last2);
  // off and on again: the pick is last:2 again, and named so (the shortest spec, not a names: list)
  await page.locator('[data-testid="layer-cell"][data-block="0"][data-kind="q"]').click();
  await expect(page.getByTestId('layers-spec')).toHaveText('last:2');
  await page.locator('[data-testid="layer-cell"][data-block="4"][data-kind="q"]').click();
  await expect(page.getByTestId('layers-spec')).toContainText('names:');
  await page.locator('[data-testid="layer-cell"][data-block="4"][data-kind="q"]').click();
  await expect(page.getByTestId('layers-spec')).toHaveText('last:2');
  await page.locator('[data-testid="layer-cell"][data-block="0"][data-kind="q"]').click();
  await expect(page.getByTestId('layers-spec')).toContainText('model.layers.0.self_attn.q_proj.weight');
  // a block label toggles the whole block
  await page.locator('[data-testid="layer-block"][data-block="4"]').click();
  await expect(page.locator('[data-testid="layer-block"][data-block="4"]')).toHaveAttribute('data-selected', 'none');
  await expect(page.getByTestId('layers-count')).toHaveAttribute('data-value', '10');
  await page.locator('[data-testid="layer-block"][data-block="4"]').click();
  await expect(page.getByTestId('layers-count')).toHaveAttribute('data-value', '19');

  // memory grows with the batch
  const bytes = Number(await page.getByTestId('layers-memory').getAttribute('data-bytes'));
  await page.getByTestId('layers-batch-size').fill('64');
  await expect.poll(async () => Number(await page.getByTestId('layers-memory').getAttribute('data-bytes'))).toBeGreaterThan(bytes);
  await page.getByTestId('layers-batch-size').fill('4');

  await page.getByTestId('preset-attention').click();
  await expect(page.getByTestId('layers-spec')).toHaveText('attention');
  // the preset is resolved by the engine: poll until the grid shows it
  const selectedKinds = () => cells(page, true).evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-kind')))].sort());
  await expect.poll(selectedKinds).toEqual(['k', 'o', 'q', 'v']);
  await page.getByTestId('preset-mlp').click();
  await expect(page.getByTestId('layers-spec')).toHaveText('mlp');
  await expect.poll(selectedKinds).toEqual(['down', 'gate', 'up']);
  await page.getByTestId('preset-hft').click();
  await expect(page.getByTestId('layers-spec')).toHaveText('hft:0');
  // HFT by category: 2 of the 4 attention matrices of each of the 5 blocks, and 8 of the 15 MLP matrices (1 or 2 per block)
  await expect(cells(page, true)).toHaveCount(18);
  await page.getByTestId('preset-all').click();
  await expect(cells(page, false)).toHaveCount(0);
  await page.getByTestId('preset-none').click();
  await expect(cells(page, true)).toHaveCount(0);
  await expect(page.getByTestId('layers-trainable')).toHaveAttribute('data-value', '0');
});

test('save a named layer mask, then train with it; compare runs; pause and resume', async ({ page }) => {
  test.setTimeout(600_000);
  await page.goto(`${server.url}#/layers`);
  await expect(page.getByTestId('layer-grid')).toBeVisible();
  await page.getByTestId('preset-attention').click();
  await expect(page.getByTestId('layers-spec')).toHaveText('attention');
  await expect(page.getByTestId('layers-train')).toBeEnabled();
  await expect(page.getByTestId('layer-mask-save')).toHaveAttribute('title', /name/);
  await page.getByTestId('layer-mask-name').fill('attn-only');
  await page.getByTestId('layer-mask-save').click();
  await expect(page.getByTestId('layer-mask-saved')).toBeVisible();
  const row = page.locator('[data-testid="layer-mask-row"][data-name="attn-only"]');
  await expect(row).toContainText('20'); // q k v o × 5 blocks
  await expect(row).toContainText('attention');
  await page.getByTestId('preset-none').click();
  await row.getByTestId('layer-mask-load').click();
  await expect(cells(page, true)).toHaveCount(20);
  await shot(page, '03-mask-saved');

  await page.getByTestId('layers-train').click();
  await expect(page.getByTestId('screen-train')).toBeVisible();
  await expect(page.getByTestId('train-layers-spec')).toHaveText('attention');
  await expect(page.getByTestId('train-estimate')).toHaveAttribute('data-fits', 'true');
  await expect(page.getByTestId('train-estimate')).not.toHaveAttribute('data-trainable', '');
  await page.getByTestId('train-steps').fill('3');
  await page.getByTestId('train-batch-size').fill('2');
  await page.getByTestId('train-start').click();
  const first = page.locator('[data-testid="train-run-row"]').first();
  await expect(first).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  const firstId = await first.getAttribute('data-run-id');

  await page.getByTestId('train-layers-mode-last').check();
  await page.getByTestId('train-last-n').fill('1');
  await page.getByTestId('train-start').click();
  const second = page.locator(`[data-testid="train-run-row"]:not([data-run-id="${firstId}"])`).first();
  await expect(second).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  const secondId = await second.getAttribute('data-run-id');
  await expect(page.getByTestId('train-run')).toHaveAttribute('data-run-id', secondId!);
  await page.locator(`[data-testid="train-run-row"][data-run-id="${firstId}"] [data-testid="train-compare"]`).check();
  const chart = page.getByTestId('train-loss-chart');
  await expect(chart.locator(`g[data-series="#${firstId} train"]`)).toHaveAttribute('data-count', '3');
  await expect(chart.locator(`g[data-series="#${secondId} train"]`)).toHaveAttribute('data-count', '3');
  await expect(page.getByTestId('train-lr-chart')).toBeVisible();
  await chart.scrollIntoViewIfNeeded();
  await shot(page, '04-compare');

  // pause (cancel with a checkpoint) and resume
  await page.getByTestId('train-steps').fill('40');
  await page.getByTestId('train-start').click();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-status', 'running', { timeout: 120_000 });
  await expect.poll(async () => Number(await page.getByTestId('train-step').getAttribute('data-step')), { timeout: 120_000 }).toBeGreaterThanOrEqual(2);
  await expect(run.getByTestId('job-cancel')).toHaveText('Pause');
  await run.getByTestId('job-cancel').click();
  await expect(run).toHaveAttribute('data-status', 'cancelled', { timeout: 120_000 });
  await expect(page.getByTestId('train-paused')).toBeVisible();
  await shot(page, '05-paused');
  await run.getByTestId('job-resume').click();
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 300_000 });
  await expect(page.getByTestId('train-step')).toHaveAttribute('data-step', '40');
  await shot(page, '06-resumed');
});

test('after scoring fim the grid is coloured by it and top:N:fim picks the highest-scoring blocks', async ({ page }) => {
  test.setTimeout(900_000);
  await page.goto(`${server.url}#/score`);
  for (const s of ['token_loss', 'mean_loss', 'ifd', 'embedding']) {
    const box = page.getByTestId(`signal-${s}`);
    if ((await box.count()) && (await box.isChecked())) await box.uncheck();
  }
  await page.getByTestId('signal-fim').check();
  // the per-example loss form is offered and stated: surgical fine-tuning's summed NLL by default
  await expect(page.getByTestId('score-fim-loss')).toHaveValue('sum');
  await page.getByTestId('score-start').click();
  await expect(page.getByTestId('job-progress')).toHaveAttribute('data-status', 'done', { timeout: 840_000 });

  await page.getByTestId('nav-layers').click();
  await expect(page.getByTestId('layers-signal')).toHaveValue('fim');
  await expect(page.getByTestId('layers-no-scores')).toHaveCount(0);
  await expect(page.getByTestId('layers-fim-note')).toContainText('not normalised by tensor size');
  await expect(page.getByTestId('layers-loss-form')).toHaveAttribute('data-form', 'sum');
  await expect(page.getByTestId('layers-loss-form')).toContainText('summed response NLL');
  const scored = page.locator('[data-testid="layer-cell"][data-block="0"]:not([data-value=""])');
  await expect(scored).toHaveCount(9);
  // block score = sum of its tensors' fim (as the engine ranks blocks for top:N)
  const sums = await page.locator('[data-testid="layer-cell"][data-block]:not([data-block=""])').evaluateAll((els) => {
    const s = new Map<number, number>();
    for (const e of els) s.set(Number(e.getAttribute('data-block')), (s.get(Number(e.getAttribute('data-block'))) ?? 0) + Number(e.getAttribute('data-value')));
    return [...s.entries()].sort((a, b) => b[1] - a[1]).map(([b]) => b);
  });
  await page.getByTestId('preset-top-n').fill('2');
  await page.getByTestId('preset-top').click();
  await expect(page.getByTestId('layers-spec')).toHaveText('top:2:fim');
  for (const b of sums.slice(0, 2)) await expect(page.locator(`[data-testid="layer-block"][data-block="${b}"]`)).toHaveAttribute('data-selected', 'all');
  await expect(page.locator('[data-testid="layer-block"][data-selected="all"]')).toHaveCount(2);
  await shot(page, '07-fim');
});
