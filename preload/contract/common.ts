/**
 * What every part of the contract stands on: result values and errors, ids, signal names, job statuses.
 * Like every file of the contract, imported by Node code and by the renderer: it imports nothing but zod.
 */
import { z } from 'zod';

// ---------- results and errors ----------

export type ErrorCode =
  | 'bad_input'
  | 'not_found'
  | 'parse_error'
  | 'unsupported'
  | 'too_large'
  | 'conflict'
  | 'cancelled'
  | 'io_error'
  | 'internal'
  | 'engine_unavailable';

export interface ApiError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}
export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

// ---------- shared value types ----------

export const id = z.number().int().positive();
export const signalName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'signal names are lower_snake_case');

/** where a job (and the run it fills) stands */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
