/**
 * Every vitest run gets a temp folder of its own (TMPDIR, which os.tmpdir() reads and the forked workers inherit),
 * removed when the run ends: tests make model folders, projects and databases there, and none is left behind.
 * WINNOW_KEEP_TMP=1 keeps it for debugging.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-vitest-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    if (process.env.WINNOW_KEEP_TMP === '1') console.log(`temp files kept in ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  };
}
