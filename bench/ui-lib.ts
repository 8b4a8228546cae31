/**
 * Shared by the UI benchmarks (ui-table.ts, ui-map.ts): percentiles, and the built browser-mode server on a home
 * folder with one project, with Debian's Chromium launched the way the e2e tests launch it.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from '@playwright/test';

export const ROOT = resolve(import.meta.dirname, '..');

/** the p-th percentile (nearest rank) of xs; NaN when empty */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

/**
 * Serve project `project` of `home` with the build in `out` (default out/; a copy keeps a long run safe from
 * rebuilds) and launch Chromium. `close` stops both and removes `home`.
 */
export async function serveAndBrowse(home: string, project: string, out?: string): Promise<{ url: string; browser: Browser; close(): Promise<void> }> {
  const server = spawn(process.execPath, [join(resolve(out ?? join(ROOT, 'out')), 'main/server.js'), '--port', '0', '--home', home, '--project', project], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((ok, fail) => {
    let log = '';
    server.stdout!.on('data', (c: Buffer) => {
      log += c.toString();
      const m = /WINNOW_URL=(\S+)/.exec(log);
      if (m) ok(m[1]!);
    });
    server.once('exit', (code) => fail(new Error(`server exited ${code}`)));
  });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  return {
    url,
    browser,
    close: async () => {
      await browser.close();
      server.kill('SIGTERM');
      rmSync(home, { recursive: true, force: true });
    },
  };
}
