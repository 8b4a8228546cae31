/**
 * The running state of one pass of one score run (table score_pass_state, migration 006): small JSON values and
 * binary arrays under string keys. Callers write it inside the transaction that stores a finished batch's results,
 * so what is on disk is always "everything up to the cursor" and never more or less.
 */
import type { Db } from '../db';

export class PassState {
  private readonly getStmt;
  private readonly putStmt;

  constructor(private readonly db: Db, private readonly runId: number, private readonly pass: string) {
    this.getStmt = db.prepare('SELECT value FROM score_pass_state WHERE run_id = ? AND pass = ? AND key = ?').pluck();
    this.putStmt = db.prepare('INSERT OR REPLACE INTO score_pass_state (run_id, pass, key, value) VALUES (?, ?, ?, ?)');
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
      .prepare(`SELECT key FROM score_pass_state WHERE run_id = ? AND pass = ? AND substr(key, 1, ?) = ? ORDER BY key`)
      .pluck()
      .all(this.runId, this.pass, prefix.length, prefix) as string[];
  }

  delete(key: string): void {
    this.db.prepare('DELETE FROM score_pass_state WHERE run_id = ? AND pass = ? AND key = ?').run(this.runId, this.pass, key);
  }

  /** Every key but those listed. */
  clearExcept(keep: string[]): void {
    const all = this.db.prepare('SELECT key FROM score_pass_state WHERE run_id = ? AND pass = ?').pluck().all(this.runId, this.pass) as string[];
    for (const k of all) if (!keep.includes(k)) this.delete(k);
  }
}
