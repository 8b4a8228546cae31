/** Migration 010 (render keys): a project from before it keeps every render, error, score run and mask readable. */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../../main/engine/db/open';
import { migrate } from '../../../main/engine/db/migrate';
import {
  RENDERER_VERSION, findRenderKeyId, getRender, getRenderKey, listRenderErrors, renderKeyId, tokenMaskFor,
} from '../../../main/engine/db/renders';
import { blobToInt32, toBlob } from '../../../main/engine/db/blobs';
import { unmigratedProjectPerTest } from './helpers';

const fresh = unmigratedProjectPerTest();

const ids = (n: number, base: number) => Int32Array.from({ length: n }, (_, i) => base + i);

/** A schema-9 project: tokenizer A rendered at 512, tokenizer B re-rendered at 256 after a run scored it at 512. */
function legacyProject(db: Db): void {
  migrate(db, { upTo: 9 });
  db.prepare("INSERT INTO datasets (id,name,source_path,format,mapping_json,hash,created_at) VALUES (1,'d','p','jsonl','{}','h','t')").run();
  const ex = db.prepare("INSERT INTO examples (id,dataset_id,row_index,raw_json,messages_json,text_preview,norm_hash,n_chars) VALUES (?,1,?,'{}','[]','','h',0)");
  for (let i = 1; i <= 4; i++) ex.run(i, i - 1);
  const render = db.prepare(`INSERT INTO renders (example_id, tokenizer_id, token_ids, offsets, roles, label_mask, n_tokens, n_label, truncated, label_policy, max_tokens)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'assistant', ?)`);
  const put = (id: number, tok: string, n: number, max: number, base: number) =>
    render.run(id, tok, toBlob(ids(n, base)), toBlob(new Int32Array(2 * n)), toBlob(new Uint8Array(n)), toBlob(new Uint8Array(n).fill(1)), n, n, max);
  for (let i = 1; i <= 3; i++) put(i, 'tokA', 5 + i, 512, 100 * i);
  for (let i = 1; i <= 3; i++) put(i, 'tokB', 3 + i, 256, 1000 * i);
  db.prepare("INSERT INTO render_errors (dataset_id, row_index, tokenizer_id, reason) VALUES (1, 3, 'tokA', 'no trainable tokens'), (1, 3, 'tokB', 'too long')").run();
  db.prepare("INSERT INTO models (id,name,path,architecture,config_json,hash,created_at) VALUES (1,'a','/a','llama','{}','h','t'), (2,'b','/b','gpt2','{}','h2','t')").run();
  const run = db.prepare("INSERT INTO score_runs (id, model_id, signals_json, params_json, status, created_at) VALUES (?, ?, '[]', ?, 'done', 't')");
  run.run(1, 1, JSON.stringify({ maxTokens: 512 }));
  run.run(2, 2, JSON.stringify({ maxTokens: 512 }));
  run.run(3, 1, 'not json');
  const score = db.prepare("INSERT INTO example_scores (run_id, example_id, signal, value) VALUES (?, ?, 'length_tokens', ?)");
  const tokenScore = db.prepare(`INSERT INTO token_scores (run_id, example_id, signal, "values") VALUES (?, ?, 'token_loss', ?)`);
  for (let i = 1; i <= 3; i++) {
    score.run(1, i, 5 + i); // run 1 scored tokenizer A's renders (still stored)
    tokenScore.run(1, i, toBlob(new Float32Array(5 + i)));
    score.run(2, i, 10 + i); // run 2 scored tokenizer B at 512: its renders were overwritten at 256 since
    tokenScore.run(2, i, toBlob(new Float32Array(10 + i)));
  }
  const mask = db.prepare("INSERT INTO token_masks (name, example_id, tokenizer_id, mask, provenance_json) VALUES ('edited', ?, ?, ?, '{}')");
  mask.run(1, 'tokA', toBlob(Uint8Array.from([0, 1, 1, 0, 0, 0])));       // drawn on A's render of example 1 (6 tokens)
  mask.run(2, 'tokB', toBlob(new Uint8Array(12).fill(1)));              // drawn on B's render at 512, overwritten since
}

describe('migration 010: render keys', () => {
  it('moves every render under a legacy key of its tokenizer and options, blobs unchanged', () => {
    const db = fresh();
    legacyProject(db);
    const before = db.prepare('SELECT example_id, tokenizer_id, token_ids FROM renders ORDER BY example_id, tokenizer_id').all() as Array<{ example_id: number; tokenizer_id: string; token_ids: Buffer }>;
    expect(migrate(db, { upTo: 10 })).toEqual([10]);
    const keyA = findRenderKeyId(db, { tokenizerId: 'tokA', templateHash: '', labelPolicy: 'assistant', maxTokens: 512, renderer: 1 })!;
    const keyB = findRenderKeyId(db, { tokenizerId: 'tokB', templateHash: '', labelPolicy: 'assistant', maxTokens: 256, renderer: 1 })!;
    expect(keyA).not.toBeNull();
    expect(keyB).not.toBeNull();
    for (const b of before) {
      const r = getRender(db, b.example_id, b.tokenizer_id === 'tokA' ? keyA : keyB)!;
      expect(Buffer.from(r.tokenIds.buffer)).toEqual(b.token_ids);
    }
    expect(db.prepare("SELECT name FROM pragma_table_info('renders')").pluck().all()).not.toContain('tokenizer_id');
    const idx = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'renders'").pluck().all();
    expect(idx).toEqual(expect.arrayContaining(['idx_renders_key_ntokens', 'idx_renders_key_nlabel']));
    expect(idx).not.toContain('idx_renders_tok_ntokens');
    // a job of today never reuses them: its key has the template hash and the current render code
    const now = renderKeyId(db, { tokenizerId: 'tokA', templateHash: 'abc', labelPolicy: 'assistant', maxTokens: 512, renderer: RENDERER_VERSION });
    expect(now).not.toBe(keyA);
    expect(getRender(db, 1, now)).toBeNull();
  });

  it('render errors go to the key of the dataset renders of their tokenizer', () => {
    const db = fresh();
    legacyProject(db);
    migrate(db);
    const keyA = findRenderKeyId(db, { tokenizerId: 'tokA', templateHash: '', labelPolicy: 'assistant', maxTokens: 512, renderer: 1 })!;
    const keyB = findRenderKeyId(db, { tokenizerId: 'tokB', templateHash: '', labelPolicy: 'assistant', maxTokens: 256, renderer: 1 })!;
    expect(listRenderErrors(db, 1, keyA)).toEqual([{ rowIndex: 3, reason: 'no trainable tokens' }]);
    expect(listRenderErrors(db, 1, keyB)).toEqual([{ rowIndex: 3, reason: 'too long' }]);
    expect(listRenderErrors(db, 1, null)).toEqual([]);
  });

  it('a score run gets the key whose renders it scored; none when they were overwritten or cannot be told', () => {
    const db = fresh();
    legacyProject(db);
    migrate(db);
    const keyA = findRenderKeyId(db, { tokenizerId: 'tokA', templateHash: '', labelPolicy: 'assistant', maxTokens: 512, renderer: 1 })!;
    const runs = db.prepare('SELECT id, render_key_id FROM score_runs ORDER BY id').all();
    expect(runs).toEqual([{ id: 1, render_key_id: keyA }, { id: 2, render_key_id: null }, { id: 3, render_key_id: null }]);
    expect(db.prepare("SELECT name FROM pragma_table_info('train_runs')").pluck().all()).toContain('render_key_id');
  });

  it('token masks keep their bits, with the key and tokens of their render when it is still stored', () => {
    const db = fresh();
    legacyProject(db);
    migrate(db);
    const keyA = findRenderKeyId(db, { tokenizerId: 'tokA', templateHash: '', labelPolicy: 'assistant', maxTokens: 512, renderer: 1 })!;
    const rows = db.prepare('SELECT example_id, render_key_id, token_ids, mask FROM token_masks ORDER BY example_id').all() as Array<{ example_id: number; render_key_id: number; token_ids: Buffer | null; mask: Buffer }>;
    expect(rows[0]!.render_key_id).toBe(keyA);
    expect(Array.from(blobToInt32(rows[0]!.token_ids!))).toEqual(Array.from(ids(6, 100)));
    expect(Array.from(rows[0]!.mask)).toEqual([0, 1, 1, 0, 0, 0]);
    // B's render at 512 is gone: the mask stays, under the key of the detail view's options then, tokens unknown
    expect(getRenderKey(db, rows[1]!.render_key_id)).toMatchObject({ tokenizerId: 'tokB', templateHash: '', maxTokens: 512, renderer: 1 });
    expect(rows[1]!.token_ids).toBeNull();
    expect(rows[1]!.mask.length).toBe(12);
    // it applies to A's render (its own), and to nothing it was not drawn on
    expect(Array.from(tokenMaskFor(db, 'edited', getRender(db, 1, keyA)!)!.mask)).toEqual([0, 1, 1, 0, 0, 0]);
    const keyB = findRenderKeyId(db, { tokenizerId: 'tokB', templateHash: '', labelPolicy: 'assistant', maxTokens: 256, renderer: 1 })!;
    expect(tokenMaskFor(db, 'edited', getRender(db, 2, keyB)!)).toBeNull();
  });
});
