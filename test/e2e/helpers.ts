/**
 * What the browser-mode specs share: one server per spec file (a fresh project in a throwaway home), screenshots into
 * test-results/screens/, importing a fixture through the Data screen, waiting for the Examples table to settle, and
 * writing embeddings or signal columns straight into the project (for screens whose inputs are tested elsewhere).
 */
import { expect, test, type Page } from '@playwright/test';
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type RunningServer, startServer } from './server';

export const SHOTS = resolve('test-results/screens');
mkdirSync(SHOTS, { recursive: true });

export const GSM8K_50 = resolve('test/fixtures/data/gsm8k-50.jsonl');
export const GSM8K_300 = resolve('test/fixtures/data/gsm8k-300.jsonl');

/**
 * Starts the server before the spec's first test and stops it after its last; the tests run in order, one page at
 * a time. The returned object is filled in by beforeAll, so read its fields inside tests only.
 */
export function useServer(project: string, env?: Record<string, string>): RunningServer {
  const server = {} as RunningServer;
  test.describe.configure({ mode: 'serial' });
  test.beforeAll(async () => {
    Object.assign(server, await startServer({ project, env }));
  });
  test.afterAll(async () => {
    await server.stop?.();
  });
  return server;
}

/** `shot(page, name)` saves test-results/screens/<prefix><name>.png */
export function shooter(prefix: string, opts: { fullPage?: boolean } = {}): (page: Page, name: string) => Promise<void> {
  return async (page, name) => {
    await page.screenshot({ path: join(SHOTS, `${prefix}${name}.png`), fullPage: opts.fullPage ?? false });
  };
}

/** Import a file by path on the Data screen and wait until the dataset lists `rows` rows. */
export async function importDataset(page: Page, server: RunningServer, file: string, rows: number): Promise<void> {
  await page.goto(`${server.url}#/data`);
  await page.getByTestId('import-path').fill(file);
  await page.getByTestId('import-submit').click();
  await expect(page.getByTestId('dataset-rows').first()).toHaveText(String(rows));
}

/** The Examples screen has answered its current query: count and rows. */
export async function settled(page: Page): Promise<void> {
  await expect(page.getByTestId('examples-count')).toHaveAttribute('data-loading', 'false');
  await expect(page.getByTestId('examples-table')).toHaveAttribute('data-loading', 'false');
}

/**
 * Opens the project's database file (skipping the test when the server was not started by the spec, e.g. with
 * WINNOW_E2E_URL) and runs `fn` on it.
 */
export function withProjectDb(server: RunningServer, project: string, fn: (db: Database.Database) => void): void {
  const dbPath = `${server.home}/projects/${project}/project.winnow`;
  test.skip(!existsSync(dbPath), 'needs the server started by this spec (not WINNOW_E2E_URL)');
  const db = new Database(dbPath);
  try {
    fn(db);
  } finally {
    db.close();
  }
}

/**
 * Embeddings as the scoring pass stores them (example_vectors, Float32 blobs, under a score_runs row), one per
 * example from its row index; and, optionally, signal columns by row index.
 */
export function writeEmbeddings(
  db: Database.Database,
  vectorOf: (rowIndex: number) => number[],
  signals: Record<string, (rowIndex: number) => number> = {},
): void {
  db.exec(`CREATE TABLE IF NOT EXISTS example_vectors (run_id INTEGER NOT NULL, example_id INTEGER NOT NULL, signal TEXT NOT NULL,
    dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (run_id, example_id, signal))`);
  const run = Number(db.prepare(`INSERT INTO score_runs (model_id, dataset_id, signals_json, params_json, status, created_at)
    VALUES (NULL, NULL, '["embedding"]', '{}', 'done', datetime('now'))`).run().lastInsertRowid);
  const rows = db.prepare('SELECT id, row_index FROM examples ORDER BY id').all() as Array<{ id: number; row_index: number }>;
  const put = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
  const names = Object.keys(signals);
  for (const c of names) db.exec(`ALTER TABLE example_signals ADD COLUMN ${c} REAL`);
  const sig = names.length
    ? db.prepare(`INSERT INTO example_signals (example_id, ${names.join(', ')}) VALUES (?, ${names.map(() => '?').join(', ')})
        ON CONFLICT(example_id) DO UPDATE SET ${names.map((c) => `${c} = excluded.${c}`).join(', ')}`)
    : null;
  for (const r of rows) {
    const v = Float32Array.from(vectorOf(r.row_index));
    put.run(run, r.id, 'embedding', v.length, Buffer.from(v.buffer));
    sig?.run(r.id, ...names.map((c) => signals[c]!(r.row_index)));
  }
}
