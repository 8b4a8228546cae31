/**
 * The running state of one pass of one score run (table score_pass_state, migration 006) — or of one job with no run
 * row of its own (table job_state, migration 009: the parameter-mask gradient pass): small JSON values and binary
 * arrays under string keys. Callers write it inside the transaction that stores a finished batch's results, so what
 * is on disk is always "everything up to the cursor" and never more or less.
 */
import type { Db } from './open';

/** where a pass keeps its state: the table and the column naming its owner */
export interface StateTable {
  table: 'score_pass_state' | 'job_state';
  owner: 'run_id' | 'job_id';
}
export const SCORE_PASS_STATE: StateTable = { table: 'score_pass_state', owner: 'run_id' };
export const JOB_STATE: StateTable = { table: 'job_state', owner: 'job_id' };

export class PassState {
  private readonly getStmt;
  private readonly putStmt;

  private readonly t: string;
  private readonly o: string;

  constructor(private readonly db: Db, private readonly runId: number | string, private readonly pass: string, where: StateTable = SCORE_PASS_STATE) {
    this.t = where.table;
    this.o = where.owner;
    this.getStmt = db.prepare(`SELECT value FROM ${this.t} WHERE ${this.o} = ? AND pass = ? AND key = ?`).pluck();
    this.putStmt = db.prepare(`INSERT OR REPLACE INTO ${this.t} (${this.o}, pass, key, value) VALUES (?, ?, ?, ?)`);
  }

  json<T>(key: string): T | undefined {
    const v = this.getStmt.get(this.runId, this.pass, key) as string | undefined;
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  putJson(key: string, value: unknown): void {
    this.putStmt.run(this.runId, this.pass, key, JSON.stringify(value));
  }

  bytes(key: string): Buffer | undefined {
    return this.getStmt.get(this.runId, this.pass, key) as Buffer | undefined;
  }

  /** A copy of the array's bytes (little-endian, as the machine's typed arrays). */
  putArray(key: string, a: Float64Array | Float32Array | Int32Array | Uint8Array): void {
    this.putStmt.run(this.runId, this.pass, key, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  }

  float64(key: string): Float64Array | undefined {
    const b = this.bytes(key);
    return b ? new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) : undefined;
  }

  float32(key: string): Float32Array | undefined {
    const b = this.bytes(key);
    return b ? new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) : undefined;
  }

  int32(key: string): Int32Array | undefined {
    const b = this.bytes(key);
    return b ? new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) : undefined;
  }

  uint8(key: string): Uint8Array | undefined {
    const b = this.bytes(key);
    return b ? new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) : undefined;
  }

  /** Keys starting with `prefix`, in key order. */
  keys(prefix: string): string[] {
    return this.db
      .prepare(`SELECT key FROM ${this.t} WHERE ${this.o} = ? AND pass = ? AND substr(key, 1, ?) = ? ORDER BY key`)
      .pluck()
      .all(this.runId, this.pass, prefix.length, prefix) as string[];
  }

  delete(key: string): void {
    this.db.prepare(`DELETE FROM ${this.t} WHERE ${this.o} = ? AND pass = ? AND key = ?`).run(this.runId, this.pass, key);
  }

  /** Every key but those listed. */
  clearExcept(keep: string[]): void {
    const all = this.db.prepare(`SELECT key FROM ${this.t} WHERE ${this.o} = ? AND pass = ?`).pluck().all(this.runId, this.pass) as string[];
    for (const k of all) if (!keep.includes(k)) this.delete(k);
  }

  /** Every key of the pass. */
  clear(): void {
    this.db.prepare(`DELETE FROM ${this.t} WHERE ${this.o} = ? AND pass = ?`).run(this.runId, this.pass);
  }

  /** Whether the pass has saved anything. */
  exists(): boolean {
    return this.db.prepare(`SELECT 1 FROM ${this.t} WHERE ${this.o} = ? AND pass = ? LIMIT 1`).get(this.runId, this.pass) !== undefined;
  }
}
