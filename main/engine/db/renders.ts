import { createHash } from 'node:crypto';
import type { Db } from './open';
import { blobToInt32, blobToUint8, toBlob } from './blobs';
import { WinnowError } from '../util/errors';

/** Token roles stored in renders.roles. */
export const ROLE_OTHER = 0; // system and any other speaker
export const ROLE_USER = 1;
export const ROLE_ASSISTANT = 2;
export const ROLE_TEMPLATE = 3; // chat-template text and special tokens

/**
 * Version of Winnow's render code (data/render.ts). Part of every render key, so renders made by older code (e.g.
 * label masks with holes) are never reused for new work. 1: before render keys (schema 10); 2: label masks are one
 * contiguous span per assistant turn, ending at the turn's end-of-turn token.
 */
export const RENDERER_VERSION = 2;

/**
 * The render key: everything that changes a render — tokenizer (its id hashes the tokenizer files), chat template,
 * label policy, max tokens and the render code's version. Renders are stored per (example, render key); every run that
 * stores per-token values (score runs, train runs, token masks) records the key it read, and whatever reads those
 * values reads the render of that key. A job that needs other options writes renders under another key and never
 * touches the renders of this one.
 */
export interface RenderKey {
  tokenizerId: string;
  /** first 16 hex digits of the chat template's sha-256; '' = not recorded (renders from before render keys) */
  templateHash: string;
  labelPolicy: string;
  /** null: no limit */
  maxTokens: number | null;
  renderer: number;
}

export interface StoredRenderKey extends RenderKey {
  id: number;
}

export function templateHash(template: string): string {
  return createHash('sha256').update(template).digest('hex').slice(0, 16);
}

/** The render key of a tokenizer (its id and chat template) and render options, for the current render code. */
export function renderKeyOf(tok: { id: string; chatTemplate: string }, opts: { labelPolicy: string; maxTokens?: number | null }): RenderKey {
  return { tokenizerId: tok.id, templateHash: templateHash(tok.chatTemplate), labelPolicy: opts.labelPolicy, maxTokens: opts.maxTokens ?? null, renderer: RENDERER_VERSION };
}

const KEY_WHERE = 'tokenizer_id = ? AND template_hash = ? AND label_policy = ? AND max_tokens IS ? AND renderer = ?';
const keyArgs = (k: RenderKey) => [k.tokenizerId, k.templateHash, k.labelPolicy, k.maxTokens, k.renderer];

/** The stored id of a render key, or null when nothing was ever rendered or recorded with it. */
export function findRenderKeyId(db: Db, key: RenderKey): number | null {
  return (db.prepare(`SELECT id FROM render_keys WHERE ${KEY_WHERE}`).pluck().get(...keyArgs(key)) as number | undefined) ?? null;
}

/** The stored id of a render key, added when new. */
export function renderKeyId(db: Db, key: RenderKey): number {
  return findRenderKeyId(db, key) ?? Number(
    db.prepare(`INSERT INTO render_keys (tokenizer_id, template_hash, label_policy, max_tokens, renderer, created_at) VALUES (?, ?, ?, ?, ?, datetime('now'))`)
      .run(...keyArgs(key)).lastInsertRowid,
  );
}

interface KeyRow { id: number; tokenizer_id: string; template_hash: string; label_policy: string; max_tokens: number | null; renderer: number }

export function getRenderKey(db: Db, id: number): StoredRenderKey {
  const r = db.prepare('SELECT id, tokenizer_id, template_hash, label_policy, max_tokens, renderer FROM render_keys WHERE id = ?').get(id) as KeyRow | undefined;
  if (!r) throw new WinnowError('not_found', `render key ${id} not found`);
  return { id: r.id, tokenizerId: r.tokenizer_id, templateHash: r.template_hash, labelPolicy: r.label_policy, maxTokens: r.max_tokens, renderer: r.renderer };
}

export function sameRenderKey(a: RenderKey, b: RenderKey): boolean {
  return a.tokenizerId === b.tokenizerId && a.templateHash === b.templateHash && a.labelPolicy === b.labelPolicy &&
    a.maxTokens === b.maxTokens && a.renderer === b.renderer;
}

/** One line for people: "tokenizer 1a2b…, max 512 tokens, labels: assistant". */
export function describeRenderKey(k: RenderKey): string {
  return `tokenizer ${k.tokenizerId}, ${k.maxTokens === null ? 'no token limit' : `max ${k.maxTokens} tokens`}, labels: ${k.labelPolicy}` +
    `${k.renderer < RENDERER_VERSION ? ` (rendered by an earlier Winnow, render code v${k.renderer})` : ''}`;
}

/** The render key a score run read; null for a run from before render keys whose renders could not be told. */
export function scoreRunRenderKeyId(db: Db, runId: number): number | null {
  return (db.prepare('SELECT render_key_id FROM score_runs WHERE id = ?').pluck().get(runId) as number | null | undefined) ?? null;
}

/** The render key of the latest run of a model that stored token values for an example; undefined when none did. */
export function latestTokenScoredRenderKeyId(db: Db, exampleId: number, modelId: number): number | undefined {
  return db.prepare(`SELECT r.render_key_id FROM token_scores ts JOIN score_runs r ON r.id = ts.run_id
       WHERE ts.example_id = ? AND r.model_id = ? AND r.render_key_id IS NOT NULL ORDER BY ts.run_id DESC LIMIT 1`).pluck().get(exampleId, modelId) as number | undefined;
}

/** An example's token values from a model's runs on one render key, oldest run first (a later run's signal replaces an earlier one's). */
export function tokenScoresOnRender(db: Db, exampleId: number, modelId: number, renderKeyId: number): Array<{ run: number; signal: string; v: Buffer }> {
  return db.prepare(`SELECT ts.run_id AS run, ts.signal, ts."values" AS v FROM token_scores ts JOIN score_runs r ON r.id = ts.run_id
       WHERE ts.example_id = ? AND r.model_id = ? AND r.render_key_id = ? ORDER BY ts.run_id ASC`).all(exampleId, modelId, renderKeyId) as Array<{ run: number; signal: string; v: Buffer }>;
}

export interface StoredRender {
  exampleId: number;
  renderKeyId: number;
  tokenIds: Int32Array;
  /** start,end character offsets into the rendered text, 2 per token */
  offsets: Int32Array;
  roles: Uint8Array;
  labelMask: Uint8Array;
  nTokens: number;
  nLabel: number;
  truncated: boolean;
}

/** Writes one render under its key. Only a render of the same key (the same tokens) is ever replaced. */
export function renderWriter(db: Db): (r: StoredRender) => void {
  const st = db.prepare(`INSERT OR REPLACE INTO renders
    (example_id, render_key_id, token_ids, offsets, roles, label_mask, n_tokens, n_label, truncated)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  return (r) => {
    st.run(r.exampleId, r.renderKeyId, toBlob(r.tokenIds), toBlob(r.offsets), toBlob(r.roles), toBlob(r.labelMask),
      r.nTokens, r.nLabel, r.truncated ? 1 : 0);
  };
}

interface RenderDbRow {
  example_id: number; render_key_id: number; token_ids: Buffer; offsets: Buffer; roles: Buffer; label_mask: Buffer;
  n_tokens: number; n_label: number; truncated: number;
}

export function getRender(db: Db, exampleId: number, renderKeyId: number): StoredRender | null {
  const r = db.prepare('SELECT * FROM renders WHERE example_id = ? AND render_key_id = ?').get(exampleId, renderKeyId) as RenderDbRow | undefined;
  if (!r) return null;
  return {
    exampleId: r.example_id, renderKeyId: r.render_key_id, tokenIds: blobToInt32(r.token_ids), offsets: blobToInt32(r.offsets),
    roles: blobToUint8(r.roles), labelMask: blobToUint8(r.label_mask), nTokens: r.n_tokens, nLabel: r.n_label,
    truncated: r.truncated === 1,
  };
}

/**
 * Whether per-token values drawn on `from` apply position by position to `to`: the same token ids up to the shorter
 * one's length (a render at a lower max tokens is a prefix of one at a higher). Positions of `to` past `from`'s end
 * have no value.
 */
export function sharesTokens(from: Int32Array, to: Int32Array): boolean {
  const n = Math.min(from.length, to.length);
  for (let t = 0; t < n; t++) if (from[t] !== to[t]) return false;
  return true;
}

export function renderErrorWriter(db: Db, datasetId: number, renderKeyId: number): (rowIndex: number, reason: string) => void {
  const st = db.prepare('INSERT OR REPLACE INTO render_errors (dataset_id, row_index, render_key_id, reason) VALUES (?, ?, ?, ?)');
  return (rowIndex, reason) => { st.run(datasetId, rowIndex, renderKeyId, reason); };
}

export function clearRenderErrors(db: Db, datasetId: number, renderKeyId: number): void {
  db.prepare('DELETE FROM render_errors WHERE dataset_id = ? AND render_key_id = ?').run(datasetId, renderKeyId);
}

/** The rows of a dataset that could not be rendered with one render key (none when the key is null). */
export function listRenderErrors(db: Db, datasetId: number, renderKeyId: number | null): Array<{ rowIndex: number; reason: string }> {
  if (renderKeyId === null) return [];
  return db.prepare('SELECT row_index AS rowIndex, reason FROM render_errors WHERE dataset_id = ? AND render_key_id = ? ORDER BY row_index')
    .all(datasetId, renderKeyId) as Array<{ rowIndex: number; reason: string }>;
}

export function countRenderErrors(db: Db, datasetId: number, renderKeyId: number | null): number {
  if (renderKeyId === null) return 0;
  return db.prepare('SELECT COUNT(*) FROM render_errors WHERE dataset_id = ? AND render_key_id = ?').pluck().get(datasetId, renderKeyId) as number;
}

export interface StoredTokenMask {
  name: string;
  exampleId: number;
  /** the render key the mask was drawn on */
  renderKeyId: number;
  /** the token ids it was drawn on; null for masks from before render keys whose render was gone */
  tokenIds: Int32Array | null;
  /** 1 = trained on, one entry per token of the render it is read for */
  mask: Uint8Array;
  provenance: Record<string, unknown>;
}

/** Stores a named mask of one example drawn on the render of `renderKeyId` (replacing that name's mask of that key). */
export function writeTokenMask(db: Db, m: { name: string; exampleId: number; renderKeyId: number; tokenIds: Int32Array; mask: Uint8Array; provenance: Record<string, unknown> }): void {
  db.prepare(
    `INSERT INTO token_masks (name, example_id, render_key_id, token_ids, mask, provenance_json) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT(name, example_id, render_key_id) DO UPDATE SET token_ids = excluded.token_ids, mask = excluded.mask, provenance_json = excluded.provenance_json`,
  ).run(m.name, m.exampleId, m.renderKeyId, toBlob(m.tokenIds), toBlob(m.mask), JSON.stringify(m.provenance));
}

/**
 * The named mask that applies to `render`, cut to its tokens: one drawn on this render key, else the newest one drawn
 * on tokens that `render`'s tokens are a prefix of (e.g. the same row rendered at a lower max tokens; never a longer
 * render, whose later tokens the mask does not cover). A mask from before render keys with no recorded tokens applies
 * to a render of its tokenizer with exactly its length, as it did then. Null when none applies.
 */
export function tokenMaskFor(db: Db, name: string, render: StoredRender): StoredTokenMask | null {
  const rows = db.prepare(`SELECT m.render_key_id, m.token_ids, m.mask, m.provenance_json, k.tokenizer_id FROM token_masks m JOIN render_keys k ON k.id = m.render_key_id
    WHERE m.name = ? AND m.example_id = ? ORDER BY (m.render_key_id = ?) DESC, m.id DESC`)
    .all(name, render.exampleId, render.renderKeyId) as Array<{ render_key_id: number; token_ids: Buffer | null; mask: Buffer; provenance_json: string; tokenizer_id: string }>;
  if (!rows.length) return null;
  const tokenizerId = (db.prepare('SELECT tokenizer_id FROM render_keys WHERE id = ?').pluck().get(render.renderKeyId) as string | undefined) ?? null;
  for (const r of rows) {
    const mask = blobToUint8(r.mask);
    const ids = r.token_ids ? blobToInt32(r.token_ids) : null;
    const fits = ids
      ? ids.length === mask.length && ids.length >= render.nTokens && sharesTokens(ids, render.tokenIds)
      : r.tokenizer_id === tokenizerId && mask.length === render.nTokens;
    if (!fits) continue;
    return {
      name, exampleId: render.exampleId, renderKeyId: r.render_key_id, tokenIds: ids, mask: mask.slice(0, render.nTokens),
      provenance: JSON.parse(r.provenance_json) as Record<string, unknown>,
    };
  }
  return null;
}

/**
 * A reader (prepared once) of the example ids in [loId, hiId] that have a render under `renderKeyId`: one lookup
 * per batch of contiguous ids, not one per row.
 */
export function renderedIdsReader(db: Db): (renderKeyId: number, loId: number, hiId: number) => number[] {
  const st = db.prepare('SELECT example_id FROM renders WHERE render_key_id = ? AND example_id BETWEEN ? AND ?').pluck();
  return (renderKeyId, loId, hiId) => st.all(renderKeyId, loId, hiId) as number[];
}
