import type { Db } from './open';
import { blobToInt32, blobToUint8, toBlob } from './blobs';

/** Token roles stored in renders.roles. */
export const ROLE_OTHER = 0; // system and any other speaker
export const ROLE_USER = 1;
export const ROLE_ASSISTANT = 2;
export const ROLE_TEMPLATE = 3; // chat-template text and special tokens

export interface StoredRender {
  exampleId: number;
  tokenizerId: string;
  tokenIds: Int32Array;
  /** start,end character offsets into the rendered text, 2 per token */
  offsets: Int32Array;
  roles: Uint8Array;
  labelMask: Uint8Array;
  nTokens: number;
  nLabel: number;
  truncated: boolean;
  labelPolicy: string;
  maxTokens: number | null;
}

export function renderWriter(db: Db): (r: StoredRender) => void {
  const st = db.prepare(`INSERT OR REPLACE INTO renders
    (example_id, tokenizer_id, token_ids, offsets, roles, label_mask, n_tokens, n_label, truncated, label_policy, max_tokens)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  return (r) => {
    st.run(r.exampleId, r.tokenizerId, toBlob(r.tokenIds), toBlob(r.offsets), toBlob(r.roles), toBlob(r.labelMask),
      r.nTokens, r.nLabel, r.truncated ? 1 : 0, r.labelPolicy, r.maxTokens);
  };
}

interface RenderDbRow {
  example_id: number; tokenizer_id: string; token_ids: Buffer; offsets: Buffer; roles: Buffer; label_mask: Buffer;
  n_tokens: number; n_label: number; truncated: number; label_policy: string; max_tokens: number | null;
}

export function getRender(db: Db, exampleId: number, tokenizerId: string): StoredRender | null {
  const r = db.prepare('SELECT * FROM renders WHERE example_id = ? AND tokenizer_id = ?').get(exampleId, tokenizerId) as RenderDbRow | undefined;
  if (!r) return null;
  return {
    exampleId: r.example_id, tokenizerId: r.tokenizer_id, tokenIds: blobToInt32(r.token_ids), offsets: blobToInt32(r.offsets),
    roles: blobToUint8(r.roles), labelMask: blobToUint8(r.label_mask), nTokens: r.n_tokens, nLabel: r.n_label,
    truncated: r.truncated === 1, labelPolicy: r.label_policy, maxTokens: r.max_tokens,
  };
}

export function renderErrorWriter(db: Db, datasetId: number, tokenizerId: string): (rowIndex: number, reason: string) => void {
  const st = db.prepare('INSERT OR REPLACE INTO render_errors (dataset_id, row_index, tokenizer_id, reason) VALUES (?, ?, ?, ?)');
  return (rowIndex, reason) => { st.run(datasetId, rowIndex, tokenizerId, reason); };
}

export function clearRenderErrors(db: Db, datasetId: number, tokenizerId: string): void {
  db.prepare('DELETE FROM render_errors WHERE dataset_id = ? AND tokenizer_id = ?').run(datasetId, tokenizerId);
}

export function listRenderErrors(db: Db, datasetId: number, tokenizerId?: string): Array<{ rowIndex: number; tokenizerId: string; reason: string }> {
  const sql = `SELECT row_index AS rowIndex, tokenizer_id AS tokenizerId, reason FROM render_errors
    WHERE dataset_id = ?${tokenizerId === undefined ? '' : ' AND tokenizer_id = ?'} ORDER BY row_index`;
  const args: unknown[] = tokenizerId === undefined ? [datasetId] : [datasetId, tokenizerId];
  return db.prepare(sql).all(...args) as Array<{ rowIndex: number; tokenizerId: string; reason: string }>;
}
