/**
 * The renderer keeps its place when the engine dies. Browser mode in Chromium against the real server: the Examples
 * screen is sorted, filtered, scrolled past the first page and has an example open; the server is SIGKILLed and
 * started again on the same port with the same secret (what scripts/start.mjs's supervisor does). The page must say
 * it is reconnecting, then come back by itself to the same screen, sort, filter, row count, rows, scroll position
 * and open example; a click made while the engine was down is answered once it is back.
 * The top bar names the compute backend again without a job having run. Screenshots: test-results/screens/reconnect-NN-*.png.
 */
import { expect, test, type Page } from '@playwright/test';
import { GSM8K_300, importDataset, settled, shooter, useServer } from './helpers';

const server = useServer('reconnect');
const shot = shooter('reconnect-');

/** What the user sees of the Examples screen, to compare before and after the crash. */
async function place(page: Page) {
  const table = page.getByTestId('examples-table');
  const rows = page.getByTestId('examples-row');
  return {
    hash: new URL(page.url()).hash,
    count: await page.getByTestId('examples-count').textContent(),
    total: await table.getAttribute('data-total'),
    sort: await page.getByTestId('sort-n_tokens').getAttribute('data-sort'),
    min: await page.getByTestId('filter-min-n_tokens').inputValue(),
    max: await page.getByTestId('filter-max-n_tokens').inputValue(),
    scrollTop: await table.evaluate((el) => el.scrollTop),
    rows: await rows.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-index')}:${e.getAttribute('data-example-id')}`)),
    selected: await page.locator('[data-testid="examples-row"][aria-selected="true"]').getAttribute('data-example-id'),
    detail: await page.getByTestId('example-detail').getAttribute('data-example-id'),
    tokens: await page.getByTestId('token').count(),
  };
}

test('after the engine is killed and restarted on the same port and token, the Examples screen is as it was', async ({ page }) => {
  test.setTimeout(600_000);
  await importDataset(page, server, GSM8K_300, 300);

  await page.getByTestId('nav-examples').click();
  await settled(page);
  await expect(page.getByTestId('examples-count')).toHaveText('300 rows');
  // sort by token count (descending), keep a middle band of lengths
  await page.getByTestId('sort-n_tokens').click();
  await expect(page.getByTestId('sort-n_tokens')).toHaveAttribute('data-sort', 'desc');
  await settled(page);
  const hist = page.getByTestId('hist-n_tokens');
  await expect(hist).toHaveAttribute('data-loading', 'false');
  const [lo, hi] = [Number(await hist.getAttribute('data-min')), Number(await hist.getAttribute('data-max'))];
  expect(hi).toBeGreaterThan(lo);
  await page.getByTestId('filter-min-n_tokens').fill(String(Math.round(lo + (hi - lo) * 0.1)));
  await page.getByTestId('filter-max-n_tokens').fill(String(Math.round(hi - (hi - lo) * 0.05)));
  await expect(page.getByTestId('examples-count')).not.toHaveText('300 rows'); // typing is debounced
  await settled(page);
  const filtered = Number(await page.getByTestId('examples-table').getAttribute('data-total'));
  expect(filtered).toBeGreaterThan(PAGE_ROWS); // so scrolling below needs the second page
  expect(filtered).toBeLessThan(300);
  // scroll past the first page, then open the row under the pointer
  const table = page.getByTestId('examples-table');
  await table.evaluate((el) => (el.scrollTop = el.scrollHeight * 0.6));
  await expect(page.locator(`[data-testid="examples-row"][data-index="${Math.floor(filtered * 0.6) + 2}"]`)).toBeVisible();
  await settled(page);
  const target = page.locator(`[data-testid="examples-row"][data-index="${Math.floor(filtered * 0.6) + 3}"]`);
  await target.click();
  await page.keyboard.press('Enter');
  const detail = page.getByTestId('example-detail');
  await expect(detail).toHaveAttribute('data-loading', 'false');
  await expect(detail).toHaveAttribute('data-example-id', (await target.getAttribute('data-example-id'))!);
  await expect(page.getByTestId('token').first()).toBeVisible();
  const before = await place(page);
  expect(before.sort).toBe('desc');
  expect(Number(before.rows[0]!.split(':')[0])).toBeGreaterThanOrEqual(PAGE_ROWS); // rows of the second page are on screen
  await shot(page, '01-before');

  await server.kill();
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'reconnecting');
  await expect(page.getByTestId('engine-banner')).toHaveAttribute('data-state', 'disconnected');
  await expect(page.getByTestId('engine-banner')).toContainText('reconnecting');
  // the place is still on screen while the engine is away (the banner takes a row's height from the table)
  const { rows: rowsDown, ...down } = await place(page);
  const { rows: rowsBefore, ...rest } = before;
  expect(down).toEqual(rest);
  expect(rowsDown.length).toBeGreaterThan(rowsBefore.length - 3);
  expect(rowsBefore.slice(0, rowsDown.length)).toEqual(rowsDown);
  await shot(page, '02-disconnected');

  await server.restart();
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open', { timeout: 30_000 });
  await expect(page.getByTestId('engine-banner')).toHaveCount(0);
  // the restarted engine has run no job yet, and the top bar still names its backend
  await expect(page.getByTestId('backend')).toContainText(/webgpu|wasm|cpu|tensorflow/);
  await settled(page);
  await expect(detail).toHaveAttribute('data-loading', 'false');
  expect(await place(page)).toEqual(before);
  await shot(page, '03-reconnected');

  // the restarted engine answers: change the sort and get the other end of the band
  await page.getByTestId('sort-n_tokens').click();
  await expect(page.getByTestId('sort-n_tokens')).toHaveAttribute('data-sort', 'asc');
  await settled(page);
  await expect(page.getByTestId('examples-count')).toHaveText(before.count!);
});

test('a sort clicked while the engine is down is answered when it comes back', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto(`${server.url}#/examples`);
  await settled(page);
  const sort = page.getByTestId('sort-n_tokens');
  await sort.click();
  await expect(sort).toHaveAttribute('data-sort', 'desc');
  await settled(page);
  const firstDesc = await page.getByTestId('examples-row').first().getAttribute('data-example-id');

  await server.kill();
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'reconnecting');
  await sort.click(); // desc → asc while nobody answers: the query waits for the engine
  await expect(sort).toHaveAttribute('data-sort', 'asc');
  await expect(page.getByTestId('examples-table')).toHaveAttribute('data-loading', 'true');
  await shot(page, '04-clicked-while-down');

  await server.restart();
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open', { timeout: 30_000 });
  await settled(page);
  await expect(sort).toHaveAttribute('data-sort', 'asc');
  const cells = (await page.locator('[data-testid="examples-row"] [data-column="n_tokens"]').allTextContents()).map((t) => Number(t.replace(/,/g, '')));
  expect(cells.length).toBeGreaterThan(5);
  expect(cells).toEqual([...cells].sort((a, b) => a - b));
  expect(await page.getByTestId('examples-row').first().getAttribute('data-example-id')).not.toBe(firstDesc);
  await shot(page, '05-answered-after-restart');
});

const PAGE_ROWS = 100; // renderer/src/features/examples/usePagedRows.ts PAGE_SIZE
