/**
 * An export is written into a sibling folder `<dest>.partial-<jobId>` and moved into place only when complete
 * (manifest.json last), so a killed export never leaves a folder that looks like a bundle. Light on imports: the
 * engine host calls `discardPartialExport` when it recovers jobs after a crash.
 */
import { existsSync, lstatSync, readdirSync, realpathSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { WinnowError } from '../util/errors';
import { insideDir, sanitizeFileName } from './names';

const MANIFEST = 'manifest.json';

/** The folder the bundle is moved to: the chosen one, or where it links to (a link itself cannot be replaced). */
export function exportTarget(outDir: string): string {
  const dest = resolve(outDir);
  return existsSync(dest) && lstatSync(dest).isSymbolicLink() ? realpathSync(dest) : dest;
}

/** A sibling of the destination (same file system, so the final rename is atomic), named after the job. */
export function partialDirOf(outDir: string, jobId: string): string {
  const dest = exportTarget(outDir);
  return join(dirname(dest), `${basename(dest)}.partial-${sanitizeFileName(jobId, 'job')}`);
}

/** Removes what a killed export left behind; returns the folder removed, or null when there was none. */
export function discardPartialExport(outDir: unknown, jobId: string): string | null {
  if (typeof outDir !== 'string' || outDir.includes('\0')) return null;
  const dir = partialDirOf(outDir, jobId);
  if (!existsSync(dir)) return null;
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

/**
 * Moves a finished bundle from `partial` to `dest`. An absent or empty destination is replaced in one rename. A
 * non-empty one (overwriting was allowed) first loses its manifest, so while files are swapped it is not a bundle;
 * then each exported entry replaces its namesake, the manifest last. The user's other files there are left alone.
 */
export function publishExport(partial: string, dest: string): void {
  if (!existsSync(dest)) {
    renameSync(partial, dest);
    return;
  }
  if (readdirSync(dest).length === 0) {
    rmdirSync(dest);
    renameSync(partial, dest);
    return;
  }
  const names = readdirSync(partial).filter((n) => n !== MANIFEST);
  if (!existsSync(join(partial, MANIFEST))) throw new WinnowError('internal', `${partial}: no ${MANIFEST}; the export is incomplete`);
  rmSync(insideDir(dest, MANIFEST), { force: true });
  for (const name of [...names, MANIFEST]) {
    const to = insideDir(dest, name); // refuses a link in the destination instead of writing through it
    rmSync(to, { recursive: true, force: true });
    renameSync(join(partial, name), to);
  }
  rmdirSync(partial);
}
