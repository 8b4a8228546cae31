/** Where things live on disk. Every location can be overridden by an environment variable (tests, portable installs). */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root for projects: $WINNOW_HOME, else ~/.winnow (Electron passes its userData folder as WINNOW_HOME). */
export function winnowHome(): string {
  return resolve(process.env.WINNOW_HOME || join(homedir(), '.winnow'));
}

export function projectsDir(): string {
  return join(winnowHome(), 'projects');
}

/** Bundled resources (demo dataset and model): $WINNOW_RESOURCES, else the nearest `resources/` above this module. */
export function resourcesDir(): string {
  if (process.env.WINNOW_RESOURCES) return resolve(process.env.WINNOW_RESOURCES);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'resources');
    if (existsSync(join(candidate, 'models'))) return candidate;
    dir = dirname(dir);
  }
  return resolve('resources');
}

/** A project name becomes one folder name: letters, digits, dot, dash, underscore. */
export function projectSlug(name: string): string {
  const slug = name.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 80);
  return slug || 'project';
}
