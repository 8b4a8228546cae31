/**
 * The renderer's one way to reach the engine: the Electron preload's `window.winnow`, or, in browser mode, a
 * WebSocket to the server that served this page. Both satisfy `WinnowApi` from the contract; errors are values.
 */
import type { ApiError, ApiInput, ApiName, ApiOutputs, EngineEvent, Result, WinnowApi } from '../../../preload/contract';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting';

export interface EngineClient extends WinnowApi {
  readonly mode: 'electron' | 'browser';
  connection(): ConnectionState;
  /** called on every connection state change; `open` after a reconnect means "re-fetch what is on screen" */
  onConnection(listener: (state: ConnectionState) => void): () => void;
}

declare global {
  interface Window {
    winnow?: WinnowApi;
  }
}

const CALL_TIMEOUT_WHILE_DISCONNECTED_MS = 30_000;
const TOKEN_KEY = 'winnow.token';

function unavailable(message: string): { ok: false; error: ApiError } {
  return { ok: false, error: { code: 'engine_unavailable', message } };
}

/** Takes `?token=` from the page URL into sessionStorage (so reloads work) and removes it from the visible URL. */
export function takeToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function electronClient(api: WinnowApi): EngineClient {
  return {
    mode: 'electron',
    call: (name, input) => api.call(name, input),
    onEvent: (listener) => api.onEvent(listener),
    connection: () => 'open',
    onConnection: () => () => {},
  };
}

interface Pending {
  resolve: (result: Result<unknown>) => void;
  timer?: ReturnType<typeof setTimeout>;
}

type ServerMessage =
  | { t: 'result'; id: number; result: Result<unknown> }
  | { t: 'event'; event: EngineEvent };

class BrowserClient implements EngineClient {
  readonly mode = 'browser' as const;
  private socket: WebSocket | null = null;
  private state: ConnectionState = 'connecting';
  private nextId = 1;
  /** sent, waiting for a result */
  private inFlight = new Map<number, Pending>();
  /** made while disconnected, sent on (re)connect */
  private queued: Array<{ id: number; payload: string; pending: Pending }> = [];
  private eventListeners = new Set<(event: EngineEvent) => void>();
  private connectionListeners = new Set<(state: ConnectionState) => void>();
  private backoffMs = 250;

  constructor(private readonly url: string) {
    this.open();
  }

  connection(): ConnectionState {
    return this.state;
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  onEvent(listener: (event: EngineEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  call<N extends ApiName>(name: N, input: ApiInput<N>): Promise<Result<ApiOutputs[N]>> {
    const id = this.nextId++;
    const payload = JSON.stringify({ t: 'call', id, name, input });
    return new Promise<Result<ApiOutputs[N]>>((resolve) => {
      const pending: Pending = { resolve: resolve as (r: Result<unknown>) => void };
      if (this.state === 'open' && this.socket?.readyState === WebSocket.OPEN) {
        this.inFlight.set(id, pending);
        this.socket.send(payload);
        return;
      }
      const entry = { id, payload, pending };
      pending.timer = setTimeout(() => {
        this.queued = this.queued.filter((q) => q !== entry);
        resolve(unavailable(`${name}: the engine did not reconnect within 30 s`));
      }, CALL_TIMEOUT_WHILE_DISCONNECTED_MS);
      this.queued.push(entry);
    });
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.connectionListeners) listener(state);
  }

  private open(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.backoffMs = 250;
      this.setState('open');
      const queued = this.queued;
      this.queued = [];
      for (const q of queued) {
        clearTimeout(q.pending.timer);
        this.inFlight.set(q.id, q.pending);
        socket.send(q.payload);
      }
    };
    socket.onmessage = (message) => {
      let parsed: ServerMessage;
      try {
        parsed = JSON.parse(String(message.data)) as ServerMessage;
      } catch {
        return;
      }
      if (parsed.t === 'result') {
        const pending = this.inFlight.get(parsed.id);
        if (!pending) return;
        this.inFlight.delete(parsed.id);
        pending.resolve(parsed.result);
      } else if (parsed.t === 'event') {
        for (const listener of this.eventListeners) listener(parsed.event);
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      // A call whose result was lost with the socket may or may not have run; resending could start a job twice,
      // so it fails as a value and the caller decides.
      for (const pending of this.inFlight.values()) pending.resolve(unavailable('connection to the engine was lost'));
      this.inFlight.clear();
      this.setState('reconnecting');
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, 5000);
      setTimeout(() => this.open(), delay);
    };
  }
}

let client: EngineClient | null = null;

export function getClient(): EngineClient {
  if (client) return client;
  if (window.winnow) {
    client = electronClient(window.winnow);
  } else {
    const token = takeToken() ?? '';
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    // without a token the server's HttpOnly cookie (set when the page was first opened with it) authenticates
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    client = new BrowserClient(`${scheme}://${window.location.host}/api${query}`);
  }
  return client;
}

/** True in browser mode when the page was opened without the secret token the server printed. */
export function missingToken(): boolean {
  return !window.winnow && !sessionStorage.getItem(TOKEN_KEY);
}
