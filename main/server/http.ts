/**
 * Browser mode: the engine host's API over HTTP + WebSocket on 127.0.0.1 with a per-launch secret.
 * Every request needs the secret (query `token` once, then an HttpOnly SameSite=Strict cookie); Host and Origin are
 * checked against the address we listen on, which defeats DNS rebinding and cross-site WebSocket hijacking; only files
 * of the built renderer are served.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EngineEvent } from '../../preload/contract';
import { answer, type CallHandler, type ServerMessage } from '../engine/api/wire';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self' ws://127.0.0.1:* ws://localhost:*; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export interface BrowserServerOptions {
  handler: CallHandler;
  subscribe: (listener: (e: EngineEvent) => void) => () => void;
  rendererDir: string;
  port?: number;
  token?: string;
}

export interface BrowserServer {
  url: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

function sameSecret(a: string | undefined | null, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | null {
  const m = /(?:^|;\s*)winnow_token=([A-Za-z0-9]+)/.exec(req.headers.cookie ?? '');
  return m ? m[1]! : null;
}

export async function startBrowserServer(opts: BrowserServerOptions): Promise<BrowserServer> {
  const token = opts.token ?? randomBytes(24).toString('hex');
  const rendererDir = resolve(opts.rendererDir);
  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  const deny = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(text);
  };

  const server = createServer(async (req, res) => {
    try {
      if (!allowedHosts().has(req.headers.host ?? '')) return deny(res, 421, 'unexpected Host header');
      const origin = req.headers.origin;
      if (origin && !allowedOrigins().has(origin)) return deny(res, 403, 'cross-origin request refused');
      if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'method not allowed');
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      const fromQuery = url.searchParams.get('token');
      const authed = sameSecret(fromQuery, token) || sameSecret(cookieToken(req), token);
      if (!authed) return deny(res, 401, 'Winnow: open the URL printed by the server (it carries the secret token).');

      let path = decodeURIComponent(url.pathname);
      if (path === '/' || path === '') path = '/index.html';
      const file = resolve(join(rendererDir, path));
      if (!file.startsWith(rendererDir + sep)) return deny(res, 404, 'not found');
      const info = await stat(file).catch(() => null);
      if (!info || !info.isFile()) return deny(res, 404, 'not found');
      const body = await readFile(file);
      const headers: Record<string, string> = {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'content-security-policy': CSP,
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
      };
      if (fromQuery) headers['set-cookie'] = `winnow_token=${token}; HttpOnly; SameSite=Strict; Path=/`;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      deny(res, 500, `internal error: ${(err as Error).message}`);
    }
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 300 * 1024 * 1024 });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'x'}`);
    const ok =
      url.pathname === '/api' &&
      allowedHosts().has(req.headers.host ?? '') &&
      allowedOrigins().has(req.headers.origin ?? '') &&
      (sameSecret(url.searchParams.get('token'), token) || sameSecret(cookieToken(req), token));
    if (!ok) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      const send = (m: ServerMessage) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
      };
      const unsubscribe = opts.subscribe((event) => send({ t: 'event', event }));
      ws.on('message', async (data) => {
        const reply = await answer(opts.handler, data.toString());
        if (reply) send(reply);
      });
      ws.on('close', () => {
        sockets.delete(ws);
        unsubscribe();
      });
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}/?token=${token}`;
  return {
    url,
    port,
    token,
    server,
    close: async () => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
