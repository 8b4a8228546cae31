/**
 * Errors cross every boundary as values: `{ ok: false, error: { code, message } }`.
 * Inside the engine we throw WinnowError so the message can name the file, line or field.
 */
import type { ErrorCode } from '../../../preload/contract';

export type { ErrorCode };

export class WinnowError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'WinnowError';
  }
}

export function toErrorValue(err: unknown): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
  if (err instanceof WinnowError) return { code: err.code, message: err.message, details: err.details };
  const sqlite = (err as { code?: unknown })?.code;
  if (sqlite === 'SQLITE_FULL') {
    return { code: 'io_error', message: 'the disk is full (or the project database reached its size limit); nothing partial was saved — free some space and try again' };
  }
  if (sqlite === 'SQLITE_IOERR' || (typeof sqlite === 'string' && sqlite.startsWith('SQLITE_IOERR'))) {
    return { code: 'io_error', message: `the project database could not be written (${(err as Error).message})` };
  }
  if (sqlite === 'ENOSPC') return { code: 'io_error', message: `the disk is full: ${(err as Error).message}` };
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}
