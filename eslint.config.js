// Lint rules that keep the house in order (ARCHITECTURE.md): the engine runs without Electron or a DOM, the renderer
// runs without Node. Everything else is typescript-eslint's recommended set.
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

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
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'main/engine runs without Electron (CLI, browser mode, tests).' }] }],
      'no-restricted-globals': ['error',
        { name: 'window', message: 'no DOM in main/engine' },
        { name: 'document', message: 'no DOM in main/engine' },
        { name: 'navigator', message: 'no DOM in main/engine' },
        { name: 'localStorage', message: 'no DOM in main/engine' }],
    },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'warn',
      'no-restricted-imports': ['error', {
        paths: ['electron', ...NODE_BUILTINS.flatMap((m) => [m, `node:${m}`])].map((name) => ({ name, message: 'the renderer runs without Node: talk to the engine through the contract' })),
        patterns: [{ group: ['**/main/**', 'better-sqlite3', '@tensorflow/*'], message: 'the renderer imports only the contract (preload/contract.ts)' }],
      }],
    },
  },
);
