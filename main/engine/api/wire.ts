/**
 * The wire form of the contract, shared by the browser-mode WebSocket and the Electron utilityProcess port:
 * client → engine `{t:'call', id, name, input}`; engine → client `{t:'result', id, result}` and `{t:'event', event}`.
 */
import type { EngineEvent, Result } from '../../../preload/contract';
import { isApiName } from '../../../preload/contract';

export type ClientMessage = { t: 'call'; id: number; name: string; input: unknown };
export type ServerMessage = { t: 'result'; id: number; result: Result<unknown> } | { t: 'event'; event: EngineEvent };

export interface CallHandler {
  call(name: string, input: unknown): Promise<Result<unknown>>;
}

/** Parse one raw message and answer it; malformed messages get an error value, never an exception. */
export async function answer(handler: CallHandler, raw: unknown): Promise<ServerMessage | null> {
  let msg: unknown = raw;
  if (typeof raw === 'string') {
    try {
      msg = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (!msg || typeof msg !== 'object') return null;
  const m = msg as Partial<ClientMessage>;
  if (m.t !== 'call' || typeof m.id !== 'number') return null;
  if (!isApiName(m.name)) {
    return { t: 'result', id: m.id, result: { ok: false, error: { code: 'bad_input', message: `unknown call "${String(m.name)}"` } } };
  }
  return { t: 'result', id: m.id, result: await handler.call(m.name, m.input) };
}
