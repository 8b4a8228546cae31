/**
 * Starts the real browser-mode server (`node out/main/server.js`, built by `npm run build`) on a free port with a
 * throwaway home folder, and returns the URL it printed (it carries the per-launch token). `kill()` and `restart()`
 * play a crash and what scripts/start.mjs's supervisor does next: the same home, port and secret token.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface RunningServer {
  url: string;
  home: string;
  stop(): Promise<void>;
  /** SIGKILL the server (a crash: no shutdown handlers run); the home folder is kept */
  kill(): Promise<void>;
  /** start it again on the same port with the same token and home, as the browser-mode supervisor does */
  restart(): Promise<void>;
}

export async function startServer(opts: { project?: string; env?: Record<string, string> } = {}): Promise<RunningServer> {
  // point the tests at a server that is already running (e.g. one started by hand while debugging)
  const given = process.env.WINNOW_E2E_URL;
  if (given) {
    const unsupported = async () => {
      throw new Error('WINNOW_E2E_URL: a server started by hand cannot be killed or restarted by the test');
    };
    return { url: given, home: '', stop: async () => {}, kill: unsupported, restart: unsupported };
  }
  const home = mkdtempSync(join(tmpdir(), 'winnow-e2e-'));
  const entry = resolve('out/main/server.js');
  // like scripts/start.mjs: one secret for every launch, so open pages reconnect to a restarted server
  const token = randomBytes(24).toString('hex');
  const launch = async (port: number): Promise<{ child: ChildProcess; url: string }> => {
    const args = [entry, '--port', String(port), '--home', home, ...(opts.project ? ['--project', opts.project] : [])];
    const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env, WINNOW_TOKEN: token } });
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
    return { child, url };
  };
  const first = await launch(0);
  let child = first.child;
  const url = first.url;
  const port = Number(new URL(url).port);
  return {
    url,
    home,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(home, { recursive: true, force: true });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      const next = await launch(port);
      if (next.url !== url) throw new Error(`restarted server printed ${next.url}, expected ${url}`);
      child = next.child;
    },
  };
}
