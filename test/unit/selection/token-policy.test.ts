/** Token-mask policies on real renders of GSM8K rows with the real demo tokenizer; signal values are set by the test. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openProjectDb, getRender, toBlob, writeTokenMask, type Db } from '../../../main/engine/db';
import { importDataset } from '../../../main/engine/data/import';
import { renderDataset } from '../../../main/engine/data/renderDataset';
import { loadTokenizer } from '../../../main/engine/models/tokenizer';
import { createTokenMasker } from '../../../main/engine/selection/token-policy';
import { mulberry32 } from '../../../main/engine/util/random';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');
const MODEL = resolve(__dirname, '../../../resources/models/stories260K');
let dir: string;
let db: Db;
/** the render key the rows are rendered (and scored) under */
let keyId: number;
let ids: number[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'winnow-policy-'));
  db = openProjectDb(join(dir, 'p.winnow'));
  const { datasetId } = await importDataset(db, { path: FIXTURE });
  const tok = await loadTokenizer(MODEL);
  keyId = (await renderDataset(db, datasetId, tok, { labelPolicy: 'assistant' })).renderKeyId;
  db.prepare(`INSERT INTO models (id, name, path, architecture, config_json, hash, created_at) VALUES (1, 'm', ?, 'llama', '{}', 'h', 'now')`).run(MODEL);
  db.prepare(`INSERT INTO score_runs (id, model_id, signals_json, params_json, status, created_at, render_key_id) VALUES (1, 1, '[]', '{}', 'done', 'now', ?)`).run(keyId);
  ids = db.prepare('SELECT id FROM examples ORDER BY id').pluck().all() as number[];
  const rand = mulberry32(7);
  const ins = db.prepare(`INSERT INTO token_scores (run_id, example_id, signal, "values") VALUES (1, ?, 'excess_loss', ?)`);
  for (const id of ids) {
    const n = getRender(db, id, keyId)!.nTokens;
    const v = new Float32Array(n).map(() => rand() * 4 - 1);
    v[0] = NaN;
    ins.run(id, toBlob(v));
  }
});

afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const values = (id: number) => {
  const blob = db.prepare(`SELECT "values" FROM token_scores WHERE example_id = ?`).pluck().get(id) as Buffer;
  return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
};

describe('token-mask policies', () => {
  it('response = the render label mask without position 0; all = every token but the first', () => {
    const resp = createTokenMasker(db, { renderKeyId: keyId, modelId: 1, policy: { kind: 'response' } }, ids);
    const all = createTokenMasker(db, { renderKeyId: keyId, modelId: 1, policy: { kind: 'all' } }, ids);
    for (const id of ids.slice(0, 5)) {
      const r = getRender(db, id, keyId)!;
      const m = resp(id)!;
      expect(Array.from(m.mask.slice(1))).toEqual(Array.from(r.labelMask.slice(1)));
      expect(m.mask[0]).toBe(0);
      const a = all(id)!;
      expect(a.mask[0]).toBe(0);
      expect(a.mask.slice(1).every((x) => x === 1)).toBe(true);
    }
  });

  it('top 60% per example keeps exactly round(0.6·n) response tokens, the highest-scoring ones', () => {
    const top = createTokenMasker(db, { renderKeyId: keyId, modelId: 1, policy: { kind: 'top_percent', signal: 'excess_loss', percent: 60, scope: 'example' } }, ids);
    for (const id of ids) {
      const r = getRender(db, id, keyId)!;
      const v = values(id);
      const response = [...Array(r.nTokens).keys()].filter((t) => t > 0 && r.labelMask[t] === 1);
      const mask = top(id)!.mask;
      const kept = [...mask.keys()].filter((t) => mask[t] === 1);
      expect(kept.length).toBe(Math.round(response.length * 0.6));
      expect(kept.every((t) => r.labelMask[t] === 1)).toBe(true);
      const minKept = Math.min(...kept.map((t) => v[t]!));
      const maxDropped = Math.max(...response.filter((t) => !kept.includes(t)).map((t) => v[t]!));
      expect(minKept).toBeGreaterThanOrEqual(maxDropped);
    }
  });

  it('global scope applies one threshold over all examples: 60% of all response tokens overall', () => {
    const top = createTokenMasker(db, { renderKeyId: keyId, modelId: 1, policy: { kind: 'top_percent', signal: 'excess_loss', percent: 60, scope: 'global' } }, ids);
    let kept = 0;
    let response = 0;
    let minKept = Infinity;
    let maxDropped = -Infinity;
    for (const id of ids) {
      const r = getRender(db, id, keyId)!;
      const v = values(id);
      const m = top(id)!.mask;
      for (let t = 1; t < r.nTokens; t++) {
        if (!r.labelMask[t]) continue;
        response++;
        if (m[t]) {
          kept++;
          minKept = Math.min(minKept, v[t]!);
        } else maxDropped = Math.max(maxDropped, v[t]!);
      }
    }
    expect(Math.abs(kept - Math.round(response * 0.6))).toBeLessThanOrEqual(1);
    expect(minKept).toBeGreaterThanOrEqual(maxDropped);
  });

  it('a hand-edited mask replaces the label mask; a signal never scored is a named error', () => {
    const id = ids[0]!;
    const r = getRender(db, id, keyId)!;
    const edited = new Uint8Array(r.nTokens);
    edited[3] = 1;
    writeTokenMask(db, { name: 'edited', exampleId: id, renderKeyId: keyId, tokenIds: r.tokenIds, mask: edited, provenance: {} });
    const m = createTokenMasker(db, { renderKeyId: keyId, modelId: 1, policy: { kind: 'response', editedName: 'edited' } }, ids)(id)!;
    expect(m.edited).toBe(true);
    expect([...m.mask.keys()].filter((t) => m.mask[t])).toEqual([3]);
    expect(() => createTokenMasker(db, { renderKeyId: keyId, modelId: 1, policy: { kind: 'top_percent', signal: 'token_entropy', percent: 50, scope: 'example' } }, ids)).toThrow(/token_entropy/);
  });
});
