// Lint rules that keep the house in order (ARCHITECTURE.md): the engine runs without Electron or a DOM, the renderer
// runs without Node, and inside the engine imports point only down the layers. Everything else is typescript-eslint's
// recommended set.
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import { LAYERS } from './scripts/import-graph.mjs';

const ELECTRON = { name: 'electron', message: 'main/engine runs without Electron (CLI, browser mode, tests).' };

/**
 * Layers inside the engine point only down (docs/architecture.md, "Layers"): a file may import its own folder, a
 * folder of the same rank, or a lower one, never a higher one (nor the engine's root files, create.ts and host.ts).
 * The ranks are LAYERS in scripts/import-graph.mjs, which also finds import circles. Which folder a relative import
 * lands in depends on how deep the importing file is, so there is one block per folder and depth: in
 * main/engine/db/x.ts "../data/y" is data/, in main/engine/db/migrations/x.ts it is db/data/.
 */
function layerBlocks() {
  const blocks = [];
  LAYERS.forEach((names, rank) => {
    const above = LAYERS.slice(rank + 1).flat();
    for (const folder of names) {
      for (let depth = 1; depth <= 4; depth++) {
        const up = '\\.\\./'.repeat(depth);
        blocks.push({
          files: [`main/engine/${folder}/${'*/'.repeat(depth - 1)}*.ts`],
          rules: {
            'no-restricted-imports': ['error', {
              paths: [ELECTRON],
              patterns: [
                ...above.map((higher) => ({
                  regex: `^${up}${higher}(/|$)`,
                  message: `${folder}/ is below ${higher}/: an engine layer imports only its own rank or lower (docs/architecture.md, Layers); move what ${folder}/ needs from ${higher}/ down`,
                })),
                { regex: `^${up}(create|host)$`, message: `${folder}/ is below the engine's root files (create.ts, host.ts) (docs/architecture.md, Layers)` },
              ],
            }],
          },
        });
      }
    }
  });
  return blocks;
}

const NODE_BUILTINS = ['fs', 'path', 'os', 'child_process', 'worker_threads', 'crypto', 'http', 'net', 'url', 'util', 'zlib', 'stream', 'readline', 'events', 'buffer'];

export default tseslint.config(
  { ignores: ['.tmp*', 'out/**', 'node_modules/**', 'dist/**', 'test-results/**', '.cache/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['main/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [ELECTRON] }],
      'no-restricted-globals': ['error',
        { name: 'window', message: 'no DOM in main/engine' },
        { name: 'document', message: 'no DOM in main/engine' },
        { name: 'navigator', message: 'no DOM in main/engine' },
        { name: 'localStorage', message: 'no DOM in main/engine' }],
    },
  },
  ...layerBlocks(),
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'warn',
      'no-restricted-imports': ['error', {
        paths: ['electron', ...NODE_BUILTINS.flatMap((m) => [m, `node:${m}`])].map((name) => ({ name, message: 'the renderer runs without Node: talk to the engine through the contract' })),
        patterns: [{ group: ['**/main/**', 'better-sqlite3', '@tensorflow/*'], message: 'the renderer imports only the contract (preload/contract)' }],
      }],
    },
  },
  {
    // SQL lives in main/engine/db/ only, in repositories per table family (docs/architecture.md, "SQL in one place")
    files: ['main/**/*.ts'],
    ignores: ['main/engine/db/**'],
    rules: {
      'no-restricted-syntax': ['error', ...[
        "CallExpression[callee.property.name='prepare']",
        "CallExpression[callee.property.name='exec'] > Literal[value=/^\\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WITH)\\b/i]",
        "CallExpression[callee.property.name='exec'] > TemplateLiteral > TemplateElement:first-child[value.raw=/^\\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WITH)\\b/i]",
      ].map((selector) => ({
        selector,
        message: 'SQL lives in main/engine/db/: add a function to the table family\'s repository there and call it (docs/contributing.md)',
      }))],
    },
  },
  {
    // functions stay short enough to read at once (issue 17); a migration's schema is one list and may be longer
    files: ['main/**/*.ts', 'preload/**/*.ts', 'renderer/**/*.ts', 'renderer/**/*.tsx'],
    ignores: ['main/engine/db/migrations/**'],
    rules: { 'max-lines-per-function': ['error', { max: 120, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
);
