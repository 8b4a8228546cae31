/**
 * `winnow …` as a user runs it: a child process over the TypeScript sources (node --import tsx main/cli/index.ts),
 * with WINNOW_HOME set to `home`. The last stdout line is parsed as JSON (`--json`); `{}` when it is not JSON, so the
 * assertions say so.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../../..');

export function runWinnow(home: string, args: string[]): { status: number | null; stderr: string; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'main/cli/index.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, WINNOW_HOME: home }, timeout: 300_000,
  });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    // not JSON: the assertions say so
  }
  return { status: r.status, stderr: r.stderr, json };
}
