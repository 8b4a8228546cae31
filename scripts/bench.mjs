// `npm run bench [name ...]`: runs bench/<name>.ts, or every bench/*.ts entry (not *-lib helpers, *-profile tools or
// *-run child processes), one after another with tsx, stopping at the first failure.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const given = process.argv.slice(2).map((n) => n.replace(/^bench\//, '').replace(/\.ts$/, ''));
const all = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !/-(lib|profile|run)\.ts$/.test(f))
  .map((f) => f.slice(0, -3));
const names = given.length ? given : all;
for (const name of names) {
  console.log(`\n== bench/${name}.ts`);
  const r = spawnSync('npx', ['tsx', join('bench', `${name}.ts`)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
