/**
 * Starts the real browser-mode server (`node out/main/server.js`, built by `npm run build`) on a free port with a
 * throwaway home folder, and returns the URL it printed (it carries the per-launch token).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface RunningServer {
  url: string;
  home: string;
  stop(): Promise<void>;
}

export async function startServer(opts: { project?: string } = {}): Promise<RunningServer> {
  // point the tests at a server that is already running (e.g. one started by hand while debugging)
  const given = process.env.WINNOW_E2E_URL;
  if (given) return { url: given, home: '', stop: async () => {} };
  const home = mkdtempSync(join(tmpdir(), 'winnow-e2e-'));
  const entry = resolve('out/main/server.js');
  const args = [entry, '--port', '0', '--home', home, ...(opts.project ? ['--project', opts.project] : [])];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not print WINNOW_URL within 60 s:\n${log}`)), 60_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const m = /WINNOW_URL=(\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => fail(new Error(`server exited with ${code}:\n${log}`)));
  });
  return {
    url,
    home,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}
