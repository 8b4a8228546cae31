import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openProjectDb, type Db } from '../../../main/engine/db/open';

/** A fresh temp directory per test, removed by the returned cleanup. */
export function tempDir(prefix = 'winnow-db-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fresh project (`project.winnow`, opened with migrate: false) each time the returned function is called; the
 * afterEach registered here closes and removes the last one.
 */
export function unmigratedProjectPerTest(): () => Db {
  let cleanup: () => void = () => {};
  afterEach(() => cleanup());
  return () => {
    const t = tempDir();
    const db = openProjectDb(join(t.dir, 'project.winnow'), { migrate: false });
    cleanup = () => { db.close(); t.cleanup(); };
    return db;
  };
}
