/**
 * Electron mode: the same app in a real Electron window (preload bridge, IPC, utilityProcess engine host).
 * Runs only where an Electron binary is installed; on machines where Electron's binary download is blocked
 * (installs with ELECTRON_SKIP_BINARY_DOWNLOAD=1), browser mode covers the UI and this file is skipped with that reason.
 */
import { _electron as electron, expect, test } from '@playwright/test';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

function electronBinary(): string | null {
  const pathFile = resolve('node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return null;
  const bin = resolve('node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(bin) ? bin : null;
}

const binary = electronBinary();
const binding = resolve('.cache/electron-native/better-sqlite3/build/Release/better_sqlite3.node');

test.skip(!binary, 'no Electron binary here: its download is blocked on this machine (installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1); app.spec.ts runs the same UI in browser mode');
test.skip(!!binary && !existsSync(binding), "better-sqlite3 is not built for Electron's ABI yet: run `npm start` once (it builds .cache/electron-native)");

test('the desktop window opens the demo project through the preload bridge', async () => {
  const home = mkdtempSync(join(tmpdir(), 'winnow-electron-'));
  const app = await electron.launch({
    executablePath: binary!,
    args: ['.'],
    env: { ...process.env, WINNOW_HOME: home, WINNOW_SQLITE_BINDING: binding } as Record<string, string>,
  });
  try {
    const win = await app.firstWindow();
    await expect(win.getByTestId('app')).toHaveAttribute('data-connection', 'open');
    await expect(win.getByTestId('project-name')).toHaveText('demo');
    await expect(win.getByTestId('model-row').first()).toContainText('stories260K');
    // the renderer has no Node: only the contract bridge is exposed
    expect(await win.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
    expect(await win.evaluate(() => Object.keys((globalThis as unknown as { winnow: object }).winnow).sort())).toEqual(['call', 'onEvent', 'pickFile']);
    await win.screenshot({ path: 'test-results/screens/electron-data.png' });
  } finally {
    await app.close();
    rmSync(home, { recursive: true, force: true });
  }
});
