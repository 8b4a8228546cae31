#!/usr/bin/env node
// The engine's import graph, read from the source text: which file imports which, the import circles, and the
// imports that point up the layer ladder (docs/architecture.md). No TypeScript compiler is needed: every relative
// import in main/engine is a plain `import … from './x'`, `export … from './x'` or `import('./x')`, and type-only
// imports count too, because a circle of types is still a circle a reader has to walk.
//
//   node scripts/import-graph.mjs            prints the circles (between files and between folders) and the upward
//                                            imports; exits 1 if there are any
//   node scripts/import-graph.mjs --json     the same as JSON ({ files, edges, cycles, upward, folderCycles })
//   node scripts/import-graph.mjs --root D   the tree under D instead of this checkout (the layering test plants one)
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Layers from the bottom up. A file may import its own folder, a folder of the same rank, or any lower rank. */
export const LAYERS = [
  ['util'],
  ['db'],
  ['data', 'models', 'compute'],
  ['scoring', 'training', 'selection', 'export', 'eval'],
  ['jobs'],
  ['api'],
];

/** The rank of an engine folder; files at the engine's root (create.ts, host.ts) sit above api. */
export function rankOf(folder) {
  if (folder === '') return LAYERS.length;
  const i = LAYERS.findIndex((names) => names.includes(folder));
  if (i < 0) throw new Error(`main/engine/${folder}: a folder with no layer; add it to LAYERS in scripts/import-graph.mjs and to eslint.config.js`);
  return i;
}

const IMPORT_RES = [
  /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /^\s*import\s+['"]([^'"]+)['"]/gm,
];

function listTs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function resolveImport(fromFile, spec) {
  const base = resolve(dirname(fromFile), spec.replace(/\.js$/, ''));
  for (const c of [base + '.ts', base + '.tsx', join(base, 'index.ts')]) if (existsSync(c)) return c;
  return null;
}

/** The folder under main/engine a path lies in ('' for the engine root, null outside the engine). */
function engineFolder(engineDir, file) {
  const rel = relative(engineDir, file);
  if (rel.startsWith('..')) return null;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : '';
}

export function importGraph(root) {
  const engineDir = join(root, 'main', 'engine');
  const files = listTs(engineDir);
  const edges = new Map();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const to = new Set();
    for (const re of IMPORT_RES) {
      for (const m of text.matchAll(re)) {
        if (!m[1].startsWith('.')) continue;
        const target = resolveImport(f, m[1]);
        if (target && engineFolder(engineDir, target) !== null) to.add(target);
      }
    }
    edges.set(f, [...to].sort());
  }
  const rel = (p) => relative(root, p).split(sep).join('/');
  const upward = [];
  for (const [from, tos] of edges) {
    const ff = engineFolder(engineDir, from);
    for (const to of tos) {
      const tf = engineFolder(engineDir, to);
      if (tf !== ff && rankOf(tf) > rankOf(ff)) upward.push({ from: rel(from), to: rel(to), message: `${ff}/ is below ${tf}/` });
    }
  }
  // folders of one rank may import each other, but not in a circle (a → b → a through different files), which the
  // file graph does not show
  const folderEdges = new Map();
  for (const [from, tos] of edges) {
    const ff = engineFolder(engineDir, from);
    for (const to of tos) {
      const tf = engineFolder(engineDir, to);
      if (ff === '' || tf === '' || tf === ff) continue;
      if (!folderEdges.has(ff)) folderEdges.set(ff, []);
      if (!folderEdges.get(ff).includes(tf)) folderEdges.get(ff).push(tf);
    }
  }
  return {
    files: files.map(rel).sort(),
    edges: [...edges].map(([f, t]) => ({ from: rel(f), to: t.map(rel) })),
    cycles: findCycles(edges).map((c) => c.map(rel)),
    upward,
    folderCycles: findCycles(folderEdges),
  };
}

/** Circles as strongly connected components of more than one file (Tarjan), each listed in a stable order. */
function findCycles(edges) {
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set(), out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--root');
  const root = at > 0 ? resolve(process.argv[at + 1]) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const g = importGraph(root);
  if (process.argv.includes('--json')) console.log(JSON.stringify(g, null, 2));
  else {
    console.log(`${g.files.length} files under main/engine`);
    console.log(`${g.cycles.length} import circle(s)`);
    for (const c of g.cycles) console.log(`  circle: ${c.join(' , ')}`);
    console.log(`${g.upward.length} upward import(s)`);
    for (const u of g.upward) console.log(`  ${u.from} -> ${u.to}  (${u.message})`);
    console.log(`${g.folderCycles.length} circle(s) between folders`);
    for (const c of g.folderCycles) console.log(`  folders: ${c.join(' , ')}`);
  }
  process.exit(g.cycles.length || g.upward.length || g.folderCycles.length ? 1 : 0);
}
