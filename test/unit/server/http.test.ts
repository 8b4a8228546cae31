/**
 * Browser mode's HTTP + WebSocket front: 127.0.0.1 only, the secret on every request, Host/Origin checks,
 * only the built renderer's files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startBrowserServer, type BrowserServer } from '../../../main/server/http';
import type { EngineEvent } from '../../../preload/contract';

let dir: string;
let server: BrowserServer;
const listeners = new Set<(e: EngineEvent) => void>();

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function ws(url: string, origin?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(url, origin ? { headers: { origin } } : {});
    s.once('open', () => resolve(s));
    s.once('error', reject);
    s.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'winnow-http-'));
  mkdirSync(join(dir, 'renderer', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'renderer', 'index.html'), '<!doctype html><title>Winnow</title>');
  writeFileSync(join(dir, 'renderer', 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'outside the renderer');
  server = await startBrowserServer({
    handler: { call: async (name, input) => ({ ok: true, value: { name, input } }) },
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    rendererDir: join(dir, 'renderer'),
  });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('browser-mode server', () => {
  it('listens on 127.0.0.1 and prints a URL with the token', () => {
    expect(server.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/\\?token=[0-9a-f]{48}$`));
    const addr = server.server.address();
    expect(typeof addr === 'object' && addr?.address).toBe('127.0.0.1');
  });

  it('refuses requests without the secret, and serves with it plus a strict CSP and a cookie', async () => {
    expect((await get('/')).status).toBe(401);
    expect((await get('/?token=wrong')).status).toBe(401);
    const ok = await get(`/?token=${server.token}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('Winnow');
    expect(String(ok.headers['content-security-policy'])).toContain("default-src 'self'");
    expect(String(ok.headers['set-cookie'])).toMatch(/winnow_token=.*HttpOnly; SameSite=Strict/);
    expect((await get('/assets/app.js', { cookie: `winnow_token=${server.token}` })).status).toBe(200);
  });

  it('checks Host (DNS rebinding) and Origin (cross-site requests)', async () => {
    expect((await get(`/?token=${server.token}`, { host: `evil.example:${server.port}` })).status).toBe(421);
    expect((await get(`/?token=${server.token}`, { origin: 'http://evil.example' })).status).toBe(403);
  });

  it('serves only the built renderer: no traversal, no other methods', async () => {
    const c = { cookie: `winnow_token=${server.token}` };
    expect((await get('/../secret.txt', c)).status).toBe(404);
    expect((await get('/%2e%2e/secret.txt', c)).status).toBe(404);
    expect((await get('/assets/../../secret.txt', c)).status).toBe(404);
  });

  it('WebSocket: needs the token and the app origin; answers calls and pushes events', async () => {
    const base = `ws://127.0.0.1:${server.port}/api`;
    const origin = `http://127.0.0.1:${server.port}`;
    await expect(ws(base, origin)).rejects.toThrow('403');
    await expect(ws(`${base}?token=${server.token}`, 'http://evil.example')).rejects.toThrow('403');
    await expect(ws(`${base}?token=${server.token}`)).rejects.toThrow('403');
    const s = await ws(`${base}?token=${server.token}`, origin);
    const messages: unknown[] = [];
    s.on('message', (d) => messages.push(JSON.parse(d.toString())));
    s.send(JSON.stringify({ t: 'call', id: 1, name: 'jobs.list', input: {} }));
    s.send(JSON.stringify({ t: 'call', id: 2, name: 'evil.call', input: {} }));
    await new Promise((r) => setTimeout(r, 200));
    for (const l of listeners) l({ type: 'log', level: 'info', message: 'hello' });
    await new Promise((r) => setTimeout(r, 200));
    expect(messages).toContainEqual({ t: 'result', id: 1, result: { ok: true, value: { name: 'jobs.list', input: {} } } });
    expect(messages).toContainEqual({ t: 'result', id: 2, result: { ok: false, error: { code: 'bad_input', message: 'unknown call "evil.call"' } } });
    expect(messages).toContainEqual({ t: 'event', event: { type: 'log', level: 'info', message: 'hello' } });
    s.close();
  });
});
