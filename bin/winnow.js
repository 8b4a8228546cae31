#!/usr/bin/env node
// The `winnow` command. Runs the built CLI (out/main/cli.js); build once with `npm run build`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'out', 'main', 'cli.js');
if (!existsSync(cli)) {
  console.error('winnow: not built yet — run "npm run build" in the Winnow folder first');
  process.exit(2);
}
await import(cli);
