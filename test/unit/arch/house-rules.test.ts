/**
 * Two house rules of the redesign (issue 17) are lint rules in eslint.config.js: SQL lives in main/engine/db/ only,
 * and no function in main/, preload/ or renderer/ runs over 120 lines (migrations aside). Each is shown failing on a
 * planted file before the real tree's clean lint is trusted.
 */
import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';

const root = resolve(__dirname, '..', '..', '..');

async function messages(path: string, text: string, rule: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: root }).lintText(text, { filePath: join(root, path) });
  return result!.messages.filter((m) => m.ruleId === rule).map((m) => m.message);
}

const SQL = [
  "import type { Db } from '../db';",
  'export function planted(db: Db, t: string): unknown {',
  "  db.exec('BEGIN IMMEDIATE');",
  '  db.exec(`DELETE FROM subsets WHERE name = ${JSON.stringify(t)}`);',
  "  /x/.exec(t); // a regular expression's exec is not SQL",
  "  return db.prepare('SELECT 1').get();",
  '}',
].join('\n');

describe('SQL lives in main/engine/db/', () => {
  it('refuses prepared statements and SQL exec calls elsewhere in main/, naming where SQL goes', async () => {
    for (const path of ['main/engine/selection/planted.ts', 'main/cli/commands/planted.ts']) {
      const msgs = await messages(path, SQL, 'no-restricted-syntax');
      expect(msgs).toHaveLength(3);
      expect(msgs[0]).toMatch(/SQL lives in main\/engine\/db\//);
    }
  });

  it('allows them in db/', async () => {
    expect(await messages('main/engine/db/planted.ts', SQL.replace("'../db'", "'./open'"), 'no-restricted-syntax')).toEqual([]);
  });
});

describe('functions of at most 120 lines', () => {
  const fn = (n: number) => `export function long(): number {\n  let x = 0;\n${'  x += 1;\n'.repeat(n)}  return x;\n}\n`;
  it('refuses a 121-line function in the engine, the contract and the renderer; blank lines and comments do not count', async () => {
    for (const path of ['main/engine/scoring/planted.ts', 'preload/contract/planted.ts', 'renderer/src/features/planted.tsx']) {
      expect(await messages(path, fn(117), 'max-lines-per-function')).toHaveLength(1);
      expect(await messages(path, fn(116), 'max-lines-per-function')).toEqual([]);
    }
    const padded = fn(116).replace('  let x = 0;\n', `  let x = 0;\n${'\n  // why\n'.repeat(20)}`);
    expect(await messages('main/engine/scoring/planted.ts', padded, 'max-lines-per-function')).toEqual([]);
  });

  it('lets a migration be longer (its schema is one list)', async () => {
    expect(await messages('main/engine/db/migrations/planted.ts', fn(200), 'max-lines-per-function')).toEqual([]);
  });
});
