/**
 * Curation in Chromium against the real browser-mode engine (fresh project): column histograms with a range brush,
 * column layout remembered per project, label-mask editing in the example detail, subset rules, set operations and
 * undo/redo. Waits on data-* state, never on sleeps; screenshots go to test-results/screens/curation-NN-*.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { GSM8K_50, importDataset, settled, shooter, useServer, withProjectDb, writeEmbeddings } from './helpers';

const server = useServer('curation');
const shot = shooter('curation-');

async function shownValues(page: Page, column: string): Promise<number[]> {
  const cells = page.locator(`[data-testid="examples-row"] [data-column="${column}"]`);
  return (await cells.allTextContents()).map((t) => Number(t.replace(/,/g, '')));
}

test('import gsm8k-50 and score token_loss, mean_loss and ifd', async ({ page }) => {
  test.setTimeout(900_000);
  await importDataset(page, server, GSM8K_50, 50);
  await page.getByTestId('nav-score').click();
  for (const s of ['token_loss', 'mean_loss', 'ifd']) {
    const box = page.getByTestId(`signal-${s}`);
    if (!(await box.isChecked())) await box.check();
  }
  await page.getByTestId('score-start').click();
  await expect(page.getByTestId('job-progress')).toHaveAttribute('data-status', 'done', { timeout: 840_000 });
});

test('a histogram brush sets the range filter and the row count follows; double-click clears', async ({ page }) => {
  await page.goto(`${server.url}#/examples`);
  await settled(page);
  await expect(page.getByTestId('examples-count')).toHaveText('50 rows');
  const hist = page.getByTestId('hist-mean_loss');
  await expect(hist).toHaveAttribute('data-loading', 'false');
  await expect(hist).toHaveAttribute('data-total', '50');
  const lo = Number(await hist.getAttribute('data-min'));
  const hi = Number(await hist.getAttribute('data-max'));
  expect(hi).toBeGreaterThan(lo);
  await expect(page.getByTestId('hist-n_tokens')).toHaveAttribute('data-total', '50');
  await shot(page, '01-histograms');

  // brush the upper half
  const box = (await hist.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.99, box.y + box.height / 2, { steps: 6 });
  await page.mouse.up();
  const min = page.getByTestId('filter-min-mean_loss');
  const max = page.getByTestId('filter-max-mean_loss');
  await expect(min).not.toHaveValue('');
  await expect(max).not.toHaveValue('');
  const fmin = Number(await min.inputValue());
  const fmax = Number(await max.inputValue());
  expect(fmin).toBeGreaterThan(lo);
  expect(fmax).toBeGreaterThanOrEqual(hi);
  await settled(page);
  const total = Number(await page.getByTestId('examples-count').getAttribute('data-total'));
  expect(total).toBeGreaterThan(0);
  expect(total).toBeLessThan(50);
  await expect(page.getByTestId('examples-row')).toHaveCount(total);
  for (const v of await shownValues(page, 'mean_loss')) {
    expect(v).toBeGreaterThanOrEqual(fmin - 1e-3);
    expect(v).toBeLessThanOrEqual(fmax + 1e-3);
  }
  // the other histograms now describe only the brushed rows
  await expect(page.getByTestId('hist-n_tokens')).toHaveAttribute('data-total', String(total));
  await shot(page, '02-brushed');

  await hist.dblclick();
  await expect(min).toHaveValue('');
  await settled(page);
  await expect(page.getByTestId('examples-count')).toHaveText('50 rows');
});

test('column widths and order are remembered for the project', async ({ page }) => {
  await page.goto(`${server.url}#/examples`);
  await settled(page);
  const header = page.getByTestId('header-mean_loss');
  const before = Number(await header.getAttribute('data-width'));
  await expect(page.getByTestId('hist-mean_loss')).toHaveAttribute('data-loading', 'false');
  // the table scrolls sideways when there are many signal columns
  await page.getByTestId('resize-mean_loss').scrollIntoViewIfNeeded();
  const handle = (await page.getByTestId('resize-mean_loss').boundingBox())!;
  await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
  await page.mouse.down();
  await page.mouse.move(handle.x + 80, handle.y + handle.height / 2, { steps: 5 });
  await page.mouse.up();
  await expect.poll(async () => Number(await header.getAttribute('data-width'))).toBeGreaterThan(before + 40);
  const widened = Number(await header.getAttribute('data-width'));

  // scores come first; move Tokens in front of mean_loss
  const order = async () =>
    page.locator('.vtable-header [data-testid^="header-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!.slice('header-'.length)));
  expect((await order()).indexOf('mean_loss')).toBeLessThan((await order()).indexOf('n_tokens'));
  await page.getByTestId('header-n_tokens').dragTo(header);
  await expect.poll(async () => (await order()).indexOf('n_tokens')).toBeLessThan((await order()).indexOf('mean_loss'));
  // Row and Preview stay first
  expect((await order()).slice(0, 2)).toEqual(['row_index', 'preview']);

  await page.reload();
  await settled(page);
  await expect(page.getByTestId('header-mean_loss')).toHaveAttribute('data-width', String(widened));
  const after = await order();
  expect(after.indexOf('n_tokens')).toBeLessThan(after.indexOf('mean_loss'));
  await shot(page, '03-columns');
});

test('duplicate quick filter appears with exact_dup/near_dup columns', async ({ page }) => {
  await page.goto(`${server.url}#/examples`);
  await settled(page);
  // the import computed the duplicate columns: the quick filter and the (hidden) duplicates column are offered, the
  // raw columns never shown one by one
  await expect(page.getByTestId('dup-filter')).toHaveCount(1);
  await expect(page.getByTestId('show-duplicates')).not.toBeChecked();
  await expect(page.locator('[data-testid="sort-exact_dup"], [data-testid="sort-near_dup"], [data-testid="header-duplicates"]')).toHaveCount(0);
});

test('edit the label mask: a token policy, then drag across tokens; save; it is shown when reopened', async ({ page }) => {
  await page.goto(`${server.url}#/examples`);
  await settled(page);
  await page.getByTestId('examples-row').first().click();
  const detail = page.getByTestId('example-detail');
  await expect(detail).toHaveAttribute('data-loading', 'false');
  const tools = page.getByTestId('mask-tools');
  await expect(tools).toHaveAttribute('data-source', 'template');
  const share = page.getByTestId('trainable-share');
  const template = Number(await share.getAttribute('data-trainable'));
  expect(template).toBeGreaterThan(10);

  await page.getByTestId('policy-percent').fill('25');
  await page.getByTestId('policy-signal').selectOption('token_loss');
  await page.getByTestId('policy-apply').click();
  await expect(tools).toHaveAttribute('data-dirty', 'true');
  const afterPolicy = Number(await share.getAttribute('data-trainable'));
  // a quarter of the response tokens that have a token_loss value (the first token has none)
  expect(afterPolicy).toBeGreaterThan(template * 0.2);
  expect(afterPolicy).toBeLessThan(template * 0.3);
  // only response tokens stay trainable
  expect(await page.locator('[data-testid="token"][data-label="true"][data-template-label="false"]').count()).toBe(0);
  await shot(page, '04-mask-policy');

  // drag across the first prompt tokens: they become trainable
  const first = page.locator('[data-testid="token"][data-index="1"]');
  const last = page.locator('[data-testid="token"][data-index="6"]');
  await expect(first).toHaveAttribute('data-label', 'false');
  const a = (await first.boundingBox())!;
  const b = (await last.boundingBox())!;
  await page.mouse.move(a.x + 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
  for (let i = 1; i <= 6; i++) await expect(page.locator(`[data-testid="token"][data-index="${i}"]`)).toHaveAttribute('data-label', 'true');
  await expect(share).toHaveAttribute('data-trainable', String(afterPolicy + 6));
  // a single click toggles one back
  await page.locator('[data-testid="token"][data-index="6"]').click();
  await expect(page.locator('[data-testid="token"][data-index="6"]')).toHaveAttribute('data-label', 'false');
  await expect(share).toHaveAttribute('data-trainable', String(afterPolicy + 5));

  await page.getByTestId('mask-save').click();
  await expect(tools).toHaveAttribute('data-source', 'edited');
  await expect(tools).toHaveAttribute('data-dirty', 'false');
  await shot(page, '05-mask-saved');

  await page.keyboard.press('Escape');
  await expect(detail).toHaveCount(0);
  await page.getByTestId('examples-row').first().click();
  await expect(detail).toHaveAttribute('data-loading', 'false');
  await expect(tools).toHaveAttribute('data-source', 'edited');
  await expect(share).toHaveAttribute('data-trainable', String(afterPolicy + 5));
  await expect(page.locator('[data-testid="token"][data-index="1"]')).toHaveAttribute('data-label', 'true');

  // back to the template mask
  await page.getByTestId('mask-reset').click();
  await expect(share).toHaveAttribute('data-trainable', String(template));
});

test('subset rules, set operations and undo/redo', async ({ page }) => {
  await page.goto(`${server.url}#/subsets`);
  const make = async (name: string, kind: string, amount: string, column?: string) => {
    await page.getByTestId('subset-name').fill(name);
    await page.getByTestId('subset-kind').selectOption(kind);
    if (column) await page.getByTestId('subset-column').selectOption(column);
    await page.getByTestId('subset-amount').fill(amount);
    await page.getByTestId('subset-create').click();
    await expect(page.locator(`[data-testid="subset-row"][data-name="${name}"]`)).toBeVisible();
  };
  await make('hard-20', 'top', '20', 'mean_loss');
  await make('long-20', 'top', '20', 'n_chars');
  await make('ifd-10', 'ifd_top', '10');
  await expect(page.getByTestId('subset-created')).toHaveAttribute('data-size', '10');
  await expect(page.locator('[data-testid="subset-row"][data-name="ifd-10"]')).toContainText('ifd ≤ 1');

  const pick = (name: string) => page.locator(`[data-testid="subset-row"][data-name="${name}"] [data-testid="subset-pick"]`);
  const size = (name: string) => page.locator(`[data-testid="subset-row"][data-name="${name}"] [data-testid="subset-size"]`);
  await pick('hard-20').check();
  await pick('long-20').check();
  await expect(page.getByTestId('combine-preview')).toHaveText('hard-20 ∪ long-20');
  await page.getByTestId('combine-name').fill('hard-or-long');
  await page.getByTestId('combine-create').click();
  await expect(page.locator('[data-testid="subset-row"][data-name="hard-or-long"]')).toContainText('hard-20 ∪ long-20');
  const union = Number(await size('hard-or-long').textContent());

  await pick('hard-20').check();
  await pick('long-20').check();
  await page.getByTestId('combine-op').selectOption('intersection');
  await page.getByTestId('combine-name').fill('hard-and-long');
  await page.getByTestId('combine-create').click();
  await expect(size('hard-and-long')).toBeVisible();
  const inter = Number(await size('hard-and-long').textContent());
  // |A ∪ B| + |A ∩ B| = |A| + |B|
  expect(union + inter).toBe(40);

  await pick('hard-20').check();
  await pick('long-20').check();
  await page.getByTestId('combine-op').selectOption('difference');
  await expect(page.getByTestId('combine-preview')).toHaveText('hard-20 − long-20');
  await page.getByTestId('combine-name').fill('hard-not-long');
  await page.getByTestId('combine-create').click();
  await expect(size('hard-not-long')).toHaveText(String(20 - inter));
  await shot(page, '06-subsets-combined');

  // delete, undo (recreated from its stored rule), redo, undo again
  await page.locator('[data-testid="subset-row"][data-name="hard-20"] [data-testid="item-delete"]').click();
  await page.getByTestId('dependency-confirm').click();
  await expect(page.locator('[data-testid="subset-row"][data-name="hard-20"]')).toHaveCount(0);
  await page.getByTestId('subset-undo').click();
  await expect(size('hard-20')).toHaveText('20');
  await page.getByTestId('subset-redo').click();
  await expect(page.locator('[data-testid="subset-row"][data-name="hard-20"]')).toHaveCount(0);
  await page.keyboard.press('Control+z');
  await expect(size('hard-20')).toHaveText('20');
  // undo a create
  await page.getByTestId('subset-undo').click(); // next on the stack: the creation of hard-not-long
  await expect(page.locator('[data-testid="subset-row"][data-name="hard-not-long"]')).toHaveCount(0);
  await page.getByTestId('subset-redo').click();
  await expect(size('hard-not-long')).toHaveText(String(20 - inter));
  await shot(page, '07-subsets-undo');

  // the Examples screen shows exactly the subset's rows
  await page.getByTestId('nav-examples').click();
  await page.getByTestId('examples-subset').selectOption({ label: 'hard-and-long (' + inter + ')' });
  await settled(page);
  await expect(page.getByTestId('examples-count')).toHaveText(`${inter} rows`);
});

test('the map says what to do without embeddings; with them, hover reads a row and a lasso saves a subset', async ({ page }) => {
  await page.goto(`${server.url}#/map`);
  await expect(page.getByTestId('map-empty')).toContainText('embedding');
  await shot(page, '08-map-empty');

  // embeddings in two clusters, even and odd rows
  withProjectDb(server, 'curation', (db) => writeEmbeddings(db, (row) => [row % 2 === 0 ? 5 : -5, (row % 7) / 7, (row % 5) / 10, 0.1]));
  await page.reload();
  const canvas = page.getByTestId('map-canvas');
  await expect(canvas).toHaveAttribute('data-points', '50');
  await expect(page.getByTestId('map-info')).toContainText('PCA');
  await page.getByTestId('map-signal').selectOption('mean_loss');
  await expect(canvas).toHaveAttribute('data-loading', 'false');

  const box = (await canvas.boundingBox())!;
  // sweep the pointer across the middle until it is over a point
  const hover = page.getByTestId('map-hover');
  for (let x = box.x + 4; x < box.x + box.width; x += 3) {
    await page.mouse.move(x, box.y + box.height / 2);
    if (await hover.getAttribute('data-example-id')) break;
  }
  await expect(hover).not.toHaveAttribute('data-example-id', '');
  await expect(hover).toContainText('Row');
  await shot(page, '09-map-hover');

  // lasso the left half: one of the two clusters
  const path: Array<[number, number]> = [
    [box.x + 2, box.y + 2],
    [box.x + box.width / 2, box.y + 2],
    [box.x + box.width / 2, box.y + box.height - 2],
    [box.x + 2, box.y + box.height - 2],
    [box.x + 2, box.y + 4],
  ];
  await page.mouse.move(...path[0]!);
  await page.mouse.down();
  for (const p of path.slice(1)) await page.mouse.move(p[0], p[1], { steps: 4 });
  await page.mouse.up();
  await expect(page.getByTestId('map-selected')).toHaveAttribute('data-count', '25');

  // another colour fetches only that column's values: the points, the zoom and the pick stay
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -300);
  await expect(canvas).not.toHaveAttribute('data-zoom', '1.000');
  const zoom = await canvas.getAttribute('data-zoom');
  const draws = Number(await canvas.getAttribute('data-draws'));
  await page.getByTestId('map-signal').selectOption('ifd');
  await expect(page.getByTestId('map-legend')).toContainText('ifd');
  await expect(canvas).toHaveAttribute('data-loading', 'false');
  await expect.poll(async () => Number(await canvas.getAttribute('data-draws'))).toBeGreaterThan(draws);
  await expect(canvas).toHaveAttribute('data-zoom', zoom!);
  await expect(page.getByTestId('map-selected')).toHaveAttribute('data-count', '25');
  await page.getByTestId('map-reset-view').click();
  await expect(canvas).toHaveAttribute('data-zoom', '1.000');
  await page.getByTestId('map-subset-name').fill('left-cluster');
  await page.getByTestId('map-save').click();
  await expect(page.getByTestId('map-saved')).toHaveAttribute('data-size', '25');
  await shot(page, '10-map-lasso');
  await page.getByTestId('nav-subsets').click();
  await expect(page.locator('[data-testid="subset-row"][data-name="left-cluster"]')).toContainText('25 picked rows');
});
