/**
 * The engine's layers point only down (docs/architecture.md, Layers). Two guards keep it so: the lint rule in
 * eslint.config.js (no-restricted-imports, one block per folder) and scripts/import-graph.mjs, which also finds import
 * circles. Each is shown failing on a planted upward import before it is trusted to pass on the real tree.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { importGraph, LAYERS } from '../../../scripts/import-graph.mjs';

const root = resolve(__dirname, '..', '..', '..');

/** Lint messages of no-restricted-imports for `text` as if it were the file at `path` (from the repository root). */
async function restricted(path: string, text: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: root }).lintText(text, { filePath: join(root, path) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('engine layering', () => {
  it('the lint rule refuses an upward import and names the two layers', async () => {
    const msgs = await restricted('main/engine/db/planted.ts', [
      "import { getModel } from '../api/models-registry';",
      "import { toMessages } from '../data/formats';",
      "import { WinnowError } from '../util/errors';",
      'export const x = [getModel, toMessages, WinnowError];',
    ].join('\n'));
    expect(msgs).toHaveLength(2);
    expect(msgs[0]).toMatch(/db\/ is below api\//);
    expect(msgs[1]).toMatch(/db\/ is below data\//);
  });

  it('reads a relative import by the depth of the file that makes it', async () => {
    // from data/readers/, "../../scoring" is scoring/, while "../types" stays inside data/
    expect(await restricted('main/engine/data/readers/planted.ts', "export { runScoreJob } from '../../scoring/run';\nexport type { FileFormat } from '../types';\n"))
      .toEqual([expect.stringMatching(/data\/ is below scoring\//)]);
    // db/migrations/ importing "../models" is db/models.ts, not models/
    expect(await restricted('main/engine/db/migrations/planted.ts', "export { modelPath } from '../models';\n")).toEqual([]);
    // a job function may not reach the runner above it, nor the engine's root files
    expect(await restricted('main/engine/scoring/passes/planted.ts', "import type { JobKind } from '../../jobs/types';\nimport { createEngine } from '../../create';\nexport const x = [createEngine] as unknown as JobKind;\n"))
      .toEqual([expect.stringMatching(/scoring\/ is below jobs\//), expect.stringMatching(/below the engine's root files/)]);
  });

  it('the graph script finds a planted upward import and a planted circle', () => {
    const tree = mkdtempSync(join(tmpdir(), 'winnow-layering-'));
    const put = (path: string, text: string) => {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    };
    put('main/engine/db/a.ts', "import { b } from './b';\nexport const a = () => b;\n");
    put('main/engine/db/b.ts', "import type { a } from './a';\nexport const b = 1 as unknown as typeof a;\n");
    put('main/engine/data/c.ts', "export const c = () => import('../api/d');\n");
    put('main/engine/api/d.ts', 'export const d = 1;\n');
    // two folders of one rank that import each other through different files: no file circle, a folder circle
    put('main/engine/scoring/e.ts', "export { f } from '../training/f';\n");
    put('main/engine/training/f.ts', 'export const f = 1;\n');
    put('main/engine/training/g.ts', "export { e } from '../scoring/e';\n");
    const g = importGraph(tree);
    expect(g.cycles).toEqual([['main/engine/db/a.ts', 'main/engine/db/b.ts']]);
    expect(g.upward).toEqual([{ from: 'main/engine/data/c.ts', to: 'main/engine/api/d.ts', message: 'data/ is below api/' }]);
    expect(g.folderCycles).toEqual([['scoring', 'training']]);
  });

  it('the real engine has no upward import and no import circle, and every folder has a layer', async () => {
    const g = importGraph(root);
    expect(g.files.length).toBeGreaterThan(100);
    expect(g.upward).toEqual([]);
    expect(g.cycles).toEqual([]);
    expect(g.folderCycles).toEqual([]);
    const folders = new Set(g.files.map((f) => f.split('/')).filter((p) => p.length > 3).map((p) => p[2]!));
    expect([...folders].filter((f) => !LAYERS.flat().includes(f))).toEqual([]);
    // the lint rule agrees on the same files
    const results = await new ESLint({ cwd: root }).lintFiles(['main/engine']);
    expect(results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}: ${m.message}`))).toEqual([]);
  });
});
