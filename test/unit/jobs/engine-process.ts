/**
 * Test helper: the browser-mode engine host as a real child process (TypeScript sources via tsx), driven over its
 * WebSocket like the UI drives it, so tests can SIGKILL it mid-job and start it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ApiInput, ApiName, ApiOutputs, EngineEvent, Result } from '../../../preload/contract';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export class EngineProcess {
  private child: ChildProcess | null = null;
  private ws: WebSocket | null = null;
  private nextId = 1;
  private pending = new Map<number, (r: Result<unknown>) => void>();
  private listeners = new Set<(e: EngineEvent) => void>();
  log = '';

  constructor(private readonly home: string, private readonly project: string) {}

  /** the engine host's process id while it runs */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async start(): Promise<void> {
    this.log = '';
    const renderer = join(this.home, 'renderer');
    mkdirSync(renderer, { recursive: true });
    writeFileSync(join(renderer, 'index.html'), '<!doctype html>');
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'main/server/index.ts'), '--port', '0', '--home', this.home, '--project', this.project, '--renderer', renderer], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const url = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`engine did not start:\n${this.log}`)), 60_000);
      const onData = (c: Buffer) => {
        this.log += c.toString();
        const m = /WINNOW_URL=(\S+)/.exec(this.log);
        if (m) {
          clearTimeout(timer);
          ok(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => fail(new Error(`engine exited (${code}):\n${this.log}`)));
    });
    const u = new URL(url);
    this.ws = await new Promise<WebSocket>((ok, fail) => {
      const s = new WebSocket(`ws://${u.host}/api?token=${u.searchParams.get('token')}`, { headers: { origin: `http://${u.host}` } });
      s.once('open', () => ok(s));
      s.once('error', fail);
    });
    this.ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.t === 'result') {
        this.pending.get(m.id)?.(m.result);
        this.pending.delete(m.id);
      } else if (m.t === 'event') for (const l of this.listeners) l(m.event);
    });
  }

  async call<N extends ApiName>(name: N, input: ApiInput<N>): Promise<ApiOutputs[N]> {
    const id = this.nextId++;
    const r = await new Promise<Result<unknown>>((ok) => {
      this.pending.set(id, ok);
      this.ws!.send(JSON.stringify({ t: 'call', id, name, input }));
    });
    if (!r.ok) throw new Error(`${name}: ${r.error.message}`);
    return r.value as ApiOutputs[N];
  }

  onEvent(l: (e: EngineEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Resolves with the first event matching `pred` (rejects after `ms`). */
  waitFor(pred: (e: EngineEvent) => boolean, ms = 240_000): Promise<EngineEvent> {
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        off();
        fail(new Error(`timed out waiting for an engine event\n${this.log.slice(-2000)}`));
      }, ms);
      const off = this.onEvent((e) => {
        if (pred(e)) {
          clearTimeout(timer);
          off();
          ok(e);
        }
      });
    });
  }

  async kill(): Promise<void> {
    const child = this.child!;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.ws?.terminate();
    this.child = null;
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    const child = this.child;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    this.child = null;
  }
}
