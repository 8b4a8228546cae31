import type Database from 'better-sqlite3';
import type { Migration } from './types';

/**
 * Renders are keyed by their render key: everything that changes a render (tokenizer id, chat template hash, label
 * policy, max tokens, the version of Winnow's render code). Before, they were keyed by tokenizer only, so a job with
 * other options re-rendered (overwrote) the tokens that stored scores and masks stood on.
 * - `render_keys`: one row per render key;
 * - `renders` and `render_errors` are keyed (example / row, render_key_id);
 * - `score_runs.render_key_id` and `train_runs.render_key_id`: the render key a run read;
 * - `token_masks` are stored per render key, with the token ids they were drawn on (`token_ids`).
 *
 * Existing data stays readable: each stored render goes under a "legacy" key of its tokenizer, label policy and max
 * tokens, with template_hash '' (not recorded) and renderer 1 (the render code before this migration), which no new
 * job asks for. A score run gets the legacy key whose renders match it (its max tokens, and the token count of every
 * example it scored, checked on a sample); none when its renders were overwritten since, or when two keys match.
 * A token mask gets the legacy key of its tokenizer whose render has its length (and that render's token ids), else
 * the key of the detail view's options then (assistant, 512) with unknown token ids. Render errors go to the key the
 * dataset's renders of that tokenizer have (the options of its last render pass).
 */
export const m010: Migration = {
  version: 10,
  name: 'render_keys',
  up(db) {
    db.exec(`
CREATE TABLE render_keys (
  id INTEGER PRIMARY KEY,
  tokenizer_id TEXT NOT NULL,
  template_hash TEXT NOT NULL,
  label_policy TEXT NOT NULL,
  max_tokens INTEGER,
  renderer INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX idx_render_keys_unique ON render_keys(tokenizer_id, template_hash, label_policy, IFNULL(max_tokens, -1), renderer);

INSERT INTO render_keys (tokenizer_id, template_hash, label_policy, max_tokens, renderer, created_at)
  SELECT DISTINCT tokenizer_id, '', label_policy, max_tokens, 1, datetime('now') FROM renders;

CREATE TABLE renders_new (
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  render_key_id INTEGER NOT NULL REFERENCES render_keys(id),
  token_ids BLOB NOT NULL,
  offsets BLOB NOT NULL,
  roles BLOB NOT NULL,
  label_mask BLOB NOT NULL,
  n_tokens INTEGER NOT NULL,
  n_label INTEGER NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (example_id, render_key_id)
);
INSERT INTO renders_new (example_id, render_key_id, token_ids, offsets, roles, label_mask, n_tokens, n_label, truncated)
  SELECT r.example_id, k.id, r.token_ids, r.offsets, r.roles, r.label_mask, r.n_tokens, r.n_label, r.truncated
  FROM renders r JOIN render_keys k ON k.tokenizer_id = r.tokenizer_id AND k.template_hash = '' AND k.label_policy = r.label_policy
    AND k.max_tokens IS r.max_tokens AND k.renderer = 1;
DROP TABLE renders;
ALTER TABLE renders_new RENAME TO renders;
CREATE INDEX idx_renders_key_ntokens ON renders(render_key_id, n_tokens, example_id);
CREATE INDEX idx_renders_key_nlabel ON renders(render_key_id, n_label, example_id);

ALTER TABLE score_runs ADD COLUMN render_key_id INTEGER REFERENCES render_keys(id);
ALTER TABLE train_runs ADD COLUMN render_key_id INTEGER REFERENCES render_keys(id);
`);
    const legacyKey = keyMaker(db);
    migrateRenderErrors(db, legacyKey);
    migrateScoreRuns(db);
    migrateTokenMasks(db, legacyKey);
  },
};

type Db = Database.Database;

/** find-or-create a legacy key (template not recorded, renderer 1) */
function keyMaker(db: Db): (tokenizerId: string, labelPolicy: string, maxTokens: number | null) => number {
  const find = db.prepare(`SELECT id FROM render_keys WHERE tokenizer_id = ? AND template_hash = '' AND label_policy = ? AND max_tokens IS ? AND renderer = 1`).pluck();
  const add = db.prepare(`INSERT INTO render_keys (tokenizer_id, template_hash, label_policy, max_tokens, renderer, created_at) VALUES (?, '', ?, ?, 1, datetime('now'))`);
  return (tok, policy, max) => (find.get(tok, policy, max) as number | undefined) ?? Number(add.run(tok, policy, max).lastInsertRowid);
}

function migrateRenderErrors(db: Db, legacyKey: ReturnType<typeof keyMaker>): void {
  const rows = db.prepare('SELECT dataset_id, row_index, tokenizer_id, reason FROM render_errors').all() as Array<{ dataset_id: number; row_index: number; tokenizer_id: string; reason: string }>;
  db.exec(`
CREATE TABLE render_errors_new (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  row_index INTEGER NOT NULL,
  render_key_id INTEGER NOT NULL REFERENCES render_keys(id),
  reason TEXT NOT NULL,
  PRIMARY KEY (dataset_id, row_index, render_key_id)
);`);
  // the key of the dataset's renders with that tokenizer: its last render pass left every row at its options
  const keyOfDataset = db.prepare(`SELECT r.render_key_id FROM renders r JOIN render_keys k ON k.id = r.render_key_id
    WHERE k.tokenizer_id = ? AND r.example_id IN (SELECT id FROM examples WHERE dataset_id = ?)
    GROUP BY r.render_key_id ORDER BY COUNT(*) DESC, r.render_key_id DESC LIMIT 1`).pluck();
  const put = db.prepare('INSERT OR REPLACE INTO render_errors_new (dataset_id, row_index, render_key_id, reason) VALUES (?, ?, ?, ?)');
  const memo = new Map<string, number>();
  for (const e of rows) {
    const m = `${e.dataset_id}\u0000${e.tokenizer_id}`;
    let key = memo.get(m);
    if (key === undefined) {
      key = (keyOfDataset.get(e.tokenizer_id, e.dataset_id) as number | undefined) ?? legacyKey(e.tokenizer_id, 'assistant', 512);
      memo.set(m, key);
    }
    put.run(e.dataset_id, e.row_index, key, e.reason);
  }
  db.exec('DROP TABLE render_errors; ALTER TABLE render_errors_new RENAME TO render_errors;');
}

const SAMPLE = 64;

function migrateScoreRuns(db: Db): void {
  const runs = db.prepare('SELECT id, params_json FROM score_runs').all() as Array<{ id: number; params_json: string }>;
  const keys = db.prepare(`SELECT id FROM render_keys WHERE renderer = 1 AND label_policy = 'assistant' AND max_tokens IS ?`).pluck();
  // per-token lengths the run stored: length_tokens (every forward-scored example) and token arrays (4 bytes a value)
  const lengths = db.prepare(`SELECT example_id AS id, CAST(value AS INTEGER) AS n FROM example_scores WHERE run_id = ? AND signal = 'length_tokens'
    UNION ALL SELECT example_id AS id, length("values") / 4 AS n FROM (SELECT * FROM token_scores WHERE run_id = ? LIMIT ${SAMPLE})
    LIMIT ${2 * SAMPLE}`);
  const scored = db.prepare(`SELECT DISTINCT example_id FROM example_scores WHERE run_id = ? LIMIT ${SAMPLE}`).pluck();
  const nTokens = db.prepare('SELECT n_tokens FROM renders WHERE example_id = ? AND render_key_id = ?').pluck();
  const set = db.prepare('UPDATE score_runs SET render_key_id = ? WHERE id = ?');
  for (const run of runs) {
    let maxTokens: number | null = null;
    try {
      const p = JSON.parse(run.params_json) as { maxTokens?: unknown };
      if (typeof p.maxTokens === 'number') maxTokens = p.maxTokens;
    } catch {
      continue;
    }
    const evidence = lengths.all(run.id, run.id) as Array<{ id: number; n: number }>;
    const examples = evidence.length ? null : (scored.all(run.id) as number[]);
    if (!evidence.length && !examples!.length) continue;
    const fits = (keys.all(maxTokens) as number[]).filter((k) =>
      evidence.length
        ? evidence.every((e) => nTokens.get(e.id, k) === e.n)
        : examples!.every((id) => nTokens.get(id, k) !== undefined));
    if (fits.length === 1) set.run(fits[0], run.id);
  }
}

function migrateTokenMasks(db: Db, legacyKey: ReturnType<typeof keyMaker>): void {
  const masks = db.prepare('SELECT id, name, example_id, tokenizer_id, mask, provenance_json FROM token_masks ORDER BY id').all() as Array<{
    id: number; name: string; example_id: number; tokenizer_id: string; mask: Buffer; provenance_json: string;
  }>;
  db.exec(`
CREATE TABLE token_masks_new (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  render_key_id INTEGER NOT NULL REFERENCES render_keys(id),
  token_ids BLOB,
  mask BLOB NOT NULL,
  provenance_json TEXT NOT NULL,
  UNIQUE (name, example_id, render_key_id)
);`);
  const match = db.prepare(`SELECT r.render_key_id AS key, r.token_ids AS ids FROM renders r JOIN render_keys k ON k.id = r.render_key_id
    WHERE r.example_id = ? AND k.tokenizer_id = ? AND r.n_tokens = ? ORDER BY (k.max_tokens IS 512) DESC, k.id LIMIT 1`);
  const put = db.prepare('INSERT OR IGNORE INTO token_masks_new (id, name, example_id, render_key_id, token_ids, mask, provenance_json) VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (const m of masks) {
    const hit = match.get(m.example_id, m.tokenizer_id, m.mask.length) as { key: number; ids: Buffer } | undefined;
    put.run(m.id, m.name, m.example_id, hit?.key ?? legacyKey(m.tokenizer_id, 'assistant', 512), hit?.ids ?? null, m.mask, m.provenance_json);
  }
  db.exec('DROP TABLE token_masks; ALTER TABLE token_masks_new RENAME TO token_masks;');
}
