/**
 * LoRA from the UI in Chromium against the real browser-mode engine (fresh project, bundled stories260K, 50 GSM8K
 * rows): the Train form's LoRA section counts the adapter's parameters (r·(in + out) per module, worked out here from
 * the model's config.json), a run with LoRA starts and finishes, and its view lists the PEFT adapter files; the Layers
 * grid marks the modules that carry adapters; a full selective run's loss and the LoRA run's share one chart. Screenshots: lora-01-form.png, lora-02-run.png, lora-03-layers.png, lora-04-compare.png.
 */
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GSM8K_50, SHOTS, importDataset, shooter, useServer } from './helpers';

const server = useServer('lora');
const shot = shooter('lora-', { fullPage: true });

const cfg = JSON.parse(readFileSync(resolve('resources/models/stories260K/config.json'), 'utf8')) as {
  hidden_size: number; num_hidden_layers: number; num_key_value_heads: number; head_dim: number; num_attention_heads: number;
};
const H = cfg.hidden_size;
const kvOut = cfg.num_key_value_heads * cfg.head_dim;
const qOut = cfg.num_attention_heads * cfg.head_dim;
const lastBlock = cfg.num_hidden_layers - 1;

test('the Train form counts a LoRA adapter, the run finishes and lists its adapter files', async ({ page }) => {
  test.setTimeout(300_000);
  await importDataset(page, server, GSM8K_50, 50);
  await page.getByTestId('nav-train').click();
  await page.getByTestId('train-last-n').fill('1');
  const estimate = page.getByTestId('train-estimate');
  await expect(estimate).toHaveAttribute('data-lora', 'false');
  const fullCount = Number(await estimate.getAttribute('data-trainable'));

  await page.getByTestId('train-lora-on').check();
  await page.getByTestId('train-lora-rank').fill('4');
  await page.getByTestId('train-lora-alpha').fill('8');
  await page.getByTestId('train-lora-targets').selectOption('names');
  await page.getByTestId('train-lora-names').fill('q_proj,v_proj');
  // q_proj H→qOut and v_proj H→kvOut in the last block, A [r, in] and B [out, r] each
  const want = 4 * (H + qOut) + 4 * (H + kvOut);
  await expect(estimate).toHaveAttribute('data-trainable', String(want));
  await expect(estimate).toHaveAttribute('data-lora', 'true');
  expect(want).toBeLessThan(fullCount);
  const loraLine = page.getByTestId('train-estimate-lora');
  await expect(loraLine).toHaveAttribute('data-modules', '2');
  await expect(loraLine).toContainText(`q_proj, v_proj in block ${lastBlock}`);
  await expect(loraLine).toContainText('scale 2');
  await expect(page.getByTestId('train-param-mask')).toBeDisabled();
  // a rank that is not a whole number gets no estimate, and says why
  await page.getByTestId('train-lora-rank').fill('0');
  await expect(page.getByTestId('train-estimate-none')).toContainText('LoRA needs a whole rank');
  await page.getByTestId('train-lora-rank').fill('4');
  await expect(estimate).toHaveAttribute('data-trainable', String(want));

  await page.getByTestId('train-steps').fill('3');
  await page.getByTestId('train-batch-size').fill('2');
  await page.getByTestId('train-eval-every').fill('3');
  await shot(page, '01-form');

  await page.getByTestId('train-start').click();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('train-run-lora-desc')).toContainText('LoRA r 4 · α 8 · q_proj, v_proj');
  await expect(page.getByTestId('train-run-row').first().getByTestId('train-run-lora')).toContainText('LoRA r 4');
  const files = page.getByTestId('train-run-adapter-file');
  await expect(files).toHaveText(['adapter_config.json', 'adapter_model.safetensors']);
  const dir = await page.getByTestId('train-run-adapter').getAttribute('data-dir');
  const written = JSON.parse(readFileSync(resolve(dir!, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  expect(written).toMatchObject({ r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], layers_to_transform: [lastBlock] });
  // the run's own card (the page scrolls inside the app shell, so a page shot would stop at the form)
  await run.screenshot({ path: join(SHOTS, 'lora-02-run.png') });
});

test('a full selective run and the LoRA run share one loss chart', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto(server.url);
  await page.getByTestId('nav-train').click();
  await page.getByTestId('train-last-n').fill('1');
  await expect(page.getByTestId('train-lora-off')).toBeChecked();
  await page.getByTestId('train-steps').fill('3');
  await page.getByTestId('train-batch-size').fill('2');
  await page.getByTestId('train-start').click();
  const run = page.getByTestId('train-run');
  await expect(run).toHaveAttribute('data-run-id', '2');
  await expect(run).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('train-run-lora-settings')).toHaveCount(0);
  await page.locator('[data-testid="train-run-row"][data-run-id="1"] [data-testid="train-compare"]').check();
  const chart = page.getByTestId('train-loss-chart');
  await expect(chart.locator('g[data-series="#2 train"]')).toHaveAttribute('data-count', '3');
  await expect(chart.locator('g[data-series="#1 train (LoRA)"]')).toHaveAttribute('data-count', '3');
  await run.screenshot({ path: join(SHOTS, 'lora-04-compare.png') });
});

test('the Layers grid marks the modules that carry adapters', async ({ page }) => {
  await page.goto(server.url);
  await page.getByTestId('nav-layers').click();
  await page.getByTestId('preset-last-n').fill('2');
  await page.getByTestId('preset-last').click();
  const marked = page.locator('[data-testid="layer-cell"][data-lora="true"]');
  await expect(marked).toHaveCount(0);
  await page.getByTestId('layers-lora').check();
  await page.getByTestId('layers-lora-targets').selectOption('attention');
  // q, k, v, o in each of the last two blocks, and nothing else
  await expect(marked).toHaveCount(8);
  const names = await marked.evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
  const want = [lastBlock - 1, lastBlock].flatMap((b) => ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `model.layers.${b}.self_attn.${p}.weight`));
  expect(names.sort()).toEqual(want.sort());
  await expect(page.getByTestId('layers-count')).toHaveAttribute('data-lora-modules', '8');
  await page.getByTestId('layers-lora-targets').selectOption('mlp');
  await expect(marked).toHaveCount(6);
  await shot(page, '03-layers');
});
