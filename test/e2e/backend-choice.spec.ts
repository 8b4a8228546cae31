/**
 * The backend chosen in the badge's popover (browser mode, the real server and its compute worker): choosing one
 * restarts the worker on it and the badge follows; webgpu on the software adapter is offered, with what it costs,
 * where that is the only adapter (SwiftShader from Chromium's folder here); the choice is kept when the server starts
 * again on the same home; "automatic" goes back to the fastest backend found.
 */
import { expect, test } from '@playwright/test';
import { useServer } from './helpers';

const server = useServer('e2e-backend-choice');

test('a backend picked in the popover runs, survives a restart, and automatic comes back', async ({ page }) => {
  await page.goto(server.url);
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open');
  const backend = page.getByTestId('backend');
  const popover = page.getByTestId('backend-popover');
  const choice = page.getByTestId('backend-choice');
  await expect(backend).not.toHaveAttribute('data-backend', '');
  const automatic = (await backend.getAttribute('data-backend'))!;
  const openPopover = async () => {
    if (await popover.isHidden()) await backend.click();
    await expect(popover).toBeVisible();
  };
  await openPopover();
  await expect(choice).toHaveValue('auto');
  await expect(page.getByTestId('backend-env-forced')).toHaveCount(0);

  await choice.selectOption('cpu');
  await expect(backend).toHaveAttribute('data-backend', 'cpu');
  await expect(backend).toHaveText('CPU · plain JavaScript (cpu)');
  await expect(page.getByTestId('backend-reason')).toHaveText('Why: requested');
  await expect(choice).toHaveValue('cpu');

  // a software adapter only: offered under its own name, with its cost, and it runs when picked
  const software = choice.locator('option[value="webgpu"]', { hasText: 'webgpu on the software adapter' });
  if ((await software.count()) > 0) {
    await expect(page.getByTestId('backend-software-cost')).toContainText('slower than wasm');
    await choice.selectOption('webgpu');
    await expect(backend).toHaveAttribute('data-backend', 'webgpu');
    await expect(backend).toContainText('(webgpu, software)');
    await expect(page.getByTestId('backend-adapter')).toContainText('software');
    await choice.selectOption('cpu');
    await expect(backend).toHaveAttribute('data-backend', 'cpu');
  }

  // the server starts again on the same home: the worker starts on the saved choice
  await server.kill();
  await expect(page.getByTestId('app')).not.toHaveAttribute('data-connection', 'open');
  await server.restart();
  await expect(page.getByTestId('app')).toHaveAttribute('data-connection', 'open', { timeout: 60_000 });
  await expect(backend).toHaveAttribute('data-backend', 'cpu', { timeout: 60_000 });
  await openPopover();
  await expect(choice).toHaveValue('cpu');

  await choice.selectOption('auto');
  await expect(backend).toHaveAttribute('data-backend', automatic, { timeout: 60_000 });
  await expect(page.getByTestId('backend-reason')).toContainText('best available');
  await expect(choice).toHaveValue('auto');
});
