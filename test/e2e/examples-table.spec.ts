/**
 * The Examples table (issue #20) in Chromium against the real browser-mode engine: Row and Preview stay put while the
 * table scrolls sideways, the selection's highlight spans the whole row, score columns come first, the duplicate
 * columns start hidden as one "duplicates" column, "Trainable" counts a hand-edited mask and marks the row, and a token
 * policy asks before replacing hand edits. Screenshots in both themes: test-results/screens/examples-table-*-<theme>.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { join } from 'node:path';
import { GSM8K_50, SHOTS, importDataset, settled, useServer, withProjectDb, writeEmbeddings } from './helpers';

const server = useServer('examples-table');

/** Screenshot in the current theme and in the other one, then back. */
async function shots(page: Page, name: string): Promise<void> {
  const toggle = page.getByTestId('theme-toggle');
  for (let i = 0; i < 2; i++) {
    const theme = await toggle.getAttribute('data-theme');
    await page.screenshot({ path: join(SHOTS, `examples-table-${name}-${theme}.png`) });
    await toggle.click();
    await expect(toggle).not.toHaveAttribute('data-theme', theme!);
  }
}

/** Extra score columns, enough to make the table scroll sideways. */
const EXTRA_SCORES = ['score_a', 'score_b', 'score_c', 'score_d', 'score_e', 'score_f', 'score_g', 'score_h'];

test('import gsm8k-50, score token_loss, add score and duplicate columns', async ({ page }) => {
  test.setTimeout(900_000);
  // the import preview: each row whole on request, the trained part (the answer) highlighted
  await page.addInitScript(`localStorage.getItem('winnow.theme') || localStorage.setItem('winnow.theme', 'light')`);
  await page.goto(`${server.url}#/data`);
  await page.getByTestId('import-path').fill(GSM8K_50);
  await page.getByTestId('import-preview-button').click();
  const first = page.getByTestId('preview-row').first();
  await expect(first.getByTestId('preview-trained').first()).toBeVisible();
  const trained = (await first.getByTestId('preview-trained').allTextContents()).join('');
  expect(trained).toContain('Natalia sold 48/2');
  expect(trained).not.toContain('Natalia sold clips to 48');
  const text = first.getByTestId('preview-text');
  const folded = (await text.boundingBox())!.height;
  await first.getByTestId('preview-expand').click();
  await expect(text).toHaveAttribute('data-open', 'true');
  expect((await text.boundingBox())!.height).toBeGreaterThan(folded);
  await shots(page, 'preview');
  await importDataset(page, server, GSM8K_50, 50);
  await page.getByTestId('nav-score').click();
  const box = page.getByTestId('signal-token_loss');
  if (!(await box.isChecked())) await box.check();
  await page.getByTestId('score-start').click();
  await expect(page.getByTestId('job-progress')).toHaveAttribute('data-status', 'done', { timeout: 840_000 });
  withProjectDb(server, 'examples-table', (db) => {
    const signals: Record<string, (row: number) => number> = {};
    for (const [i, c] of EXTRA_SCORES.entries()) signals[c] = (row) => row * (i + 1);
    writeEmbeddings(db, (row) => [row, 0], signals);
    // the import computed the duplicate columns (gsm8k-50 has none): make rows 1 and 2 (row_index 0 and 1) one
    // exact-duplicate group, the first of them the one kept
    const cols = db.prepare(`SELECT name FROM pragma_table_info('example_signals')`).pluck().all() as string[];
    expect(cols).toEqual(expect.arrayContaining(['exact_dup', 'exact_dup_rank', 'near_dup', 'near_dup_size', 'near_dup_rank']));
    db.prepare(`UPDATE example_signals SET exact_dup = 2, exact_dup_rank = (SELECT row_index FROM examples e WHERE e.id = example_id)
      WHERE example_id IN (SELECT id FROM examples WHERE row_index < 2)`).run();
  });
});

test('Row and Preview stay put while scrolling sideways; the selection spans the row; scores come first', async ({ page }) => {
  await page.setViewportSize({ width: 1100, height: 760 });
  await page.addInitScript(`localStorage.getItem('winnow.theme') || localStorage.setItem('winnow.theme', 'light')`);
  await page.goto(`${server.url}#/examples`);
  await settled(page);

  const headers = await page.locator('.vtable-header [data-testid^="header-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!.slice('header-'.length)));
  expect(headers.slice(0, 2)).toEqual(['row_index', 'preview']);
  // scores before the token counts; no duplicate column until asked for
  for (const c of EXTRA_SCORES) expect(headers.indexOf(c)).toBeLessThan(headers.indexOf('n_tokens'));
  expect(headers.indexOf('n_tokens')).toBeLessThan(headers.indexOf('n_label'));
  for (const c of ['exact_dup', 'exact_dup_rank', 'near_dup', 'near_dup_size', 'near_dup_rank', 'duplicates']) expect(headers).not.toContain(c);

  const row = page.locator('[data-testid="examples-row"][data-index="2"]');
  await row.click();
  await expect(row).toHaveAttribute('aria-selected', 'true');
  await page.getByTestId('detail-close').click();
  const rowCell = row.locator('[data-column="row_index"]');
  const preview = row.locator('[data-column="preview"]');
  const tokens = row.locator('[data-column="n_tokens"]');
  await expect(rowCell).toHaveText('3');
  const before = { row: (await rowCell.boundingBox())!, preview: (await preview.boundingBox())!, tokens: (await tokens.boundingBox())! };

  const table = page.getByTestId('examples-table');
  const scrolled = await table.evaluate((el) => {
    el.scrollLeft = el.scrollWidth;
    return el.scrollLeft;
  });
  expect(scrolled).toBeGreaterThan(100);
  await expect.poll(async () => (await tokens.boundingBox())!.x).toBeLessThan(before.tokens.x - 100);
  const after = { row: (await rowCell.boundingBox())!, preview: (await preview.boundingBox())! };
  expect(after.row.x).toBeCloseTo(before.row.x, 0);
  expect(after.preview.x).toBeCloseTo(before.preview.x, 0);
  // the header's frozen cells stay put too
  const head = (await page.getByTestId('header-row_index').boundingBox())!;
  expect(head.x).toBeCloseTo(before.row.x, 0);

  // the selected row's box (its highlight) reaches the last column, scrolled or not
  const reach = await row.evaluate((el) => {
    const cells = el.querySelectorAll('.vtable-cell');
    const lastCell = cells[cells.length - 1]!;
    return { row: el.getBoundingClientRect().right, last: lastCell.getBoundingClientRect().right, bg: el.ownerDocument.defaultView!.getComputedStyle(el).backgroundColor };
  });
  expect(reach.row).toBeGreaterThanOrEqual(reach.last - 1);
  const plain = await page.locator('[data-testid="examples-row"][data-index="3"]').evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).backgroundColor);
  expect(reach.bg).not.toBe(plain);
  await shots(page, 'frozen');
});

test('the duplicates column: hidden at first, then one column with group size and keep/drop', async ({ page }) => {
  await page.goto(`${server.url}#/examples`);
  await settled(page);
  await expect(page.getByTestId('header-duplicates')).toHaveCount(0);
  await expect(page.getByTestId('header-exact_dup')).toHaveCount(0);
  // near_dup is a group id: no histogram for it (nor for the other duplicate columns)
  await expect(page.getByTestId('hist-near_dup')).toHaveCount(0);
  await page.getByTestId('show-duplicates').check();
  await expect(page.getByTestId('header-duplicates')).toBeVisible();
  const dup = (i: number) => page.locator(`[data-testid="examples-row"][data-index="${i}"] [data-column="duplicates"]`);
  await expect(dup(0)).toHaveText('exact ×2 · keep');
  await expect(dup(1)).toHaveText('exact ×2 · drop');
  await expect(dup(2)).toHaveText('unique');
  await page.getByTestId('header-duplicates').scrollIntoViewIfNeeded();
  await shots(page, 'duplicates');
  await page.getByTestId('show-duplicates').uncheck();
  await expect(page.getByTestId('header-duplicates')).toHaveCount(0);
});

test('a hand-edited mask: Trainable counts it and marks the row; a policy asks before replacing it', async ({ page }) => {
  await page.goto(`${server.url}#/examples`);
  await settled(page);
  const row = page.locator('[data-testid="examples-row"][data-index="0"]');
  await expect(row).toHaveAttribute('data-edited', 'false');
  const templateCount = Number((await row.locator('[data-column="n_label"]').textContent())!.replace(/,/g, ''));
  await row.click();
  const detail = page.getByTestId('example-detail');
  await expect(detail).toHaveAttribute('data-loading', 'false');
  await expect(detail.locator('h2')).toHaveText('Example row 1');
  const share = page.getByTestId('trainable-share');
  expect(Number(await share.getAttribute('data-trainable'))).toBe(templateCount);

  // two prompt tokens made trainable by hand, saved
  for (const i of [1, 2]) await page.locator(`[data-testid="token"][data-index="${i}"]`).click();
  await expect(share).toHaveAttribute('data-trainable', String(templateCount + 2));
  await page.getByTestId('mask-save').click();
  await expect(page.getByTestId('mask-tools')).toHaveAttribute('data-source', 'edited');
  await expect(row).toHaveAttribute('data-edited', 'true');
  await expect(row.locator('[data-column="n_label"]')).toHaveText(`✎ ${templateCount + 2}`);
  await expect(row.getByTestId('edited-mark')).toBeVisible();
  await page.getByTestId('examples-table').evaluate((el) => (el.scrollLeft = el.scrollWidth));
  await expect(row.locator('[data-column="n_label"]')).toBeInViewport();
  await shots(page, 'edited');

  // keep top 50%: asks first; "keep them" changes nothing
  await page.getByTestId('policy-percent').fill('50');
  await page.getByTestId('policy-signal').selectOption('token_loss');
  await page.getByTestId('policy-apply').click();
  await expect(page.getByTestId('policy-confirm')).toBeVisible();
  await shots(page, 'confirm');
  await page.getByTestId('policy-confirm-cancel').click();
  await expect(page.getByTestId('policy-confirm')).toHaveCount(0);
  await expect(share).toHaveAttribute('data-trainable', String(templateCount + 2));
  await expect(page.getByTestId('mask-tools')).toHaveAttribute('data-dirty', 'false');

  // "replace" applies the policy: only response tokens, about half of them
  await page.getByTestId('policy-apply').click();
  await page.getByTestId('policy-confirm-replace').click();
  await expect(page.getByTestId('mask-tools')).toHaveAttribute('data-dirty', 'true');
  expect(await page.locator('[data-testid="token"][data-label="true"][data-template-label="false"]').count()).toBe(0);
  const policyCount = Number(await share.getAttribute('data-trainable'));
  expect(policyCount).toBeLessThan(templateCount);
  // a policy on a policy-made mask does not ask again
  await page.getByTestId('policy-percent').fill('25');
  await page.getByTestId('policy-apply').click();
  await expect(page.getByTestId('policy-confirm')).toHaveCount(0);
  expect(Number(await share.getAttribute('data-trainable'))).toBeLessThan(policyCount);
});
