// `npm run bench:gpu -- <command>`: the GPU benchmark (bench/README-gpu.md).
//   pack      build .cache/gpu-pack/: Node (xz), dawn.node (xz), the engine + bench as one bundle, Debian's Vulkan
//             loader, the PyTorch script and run.sh: everything a GPU machine with no Node and no network needs
//   --smoke   pack, then run the pack's run.sh here on SwiftShader with tiny shapes (and PyTorch on CPU where it is
//             importable); writes bench/results/gpu-swiftshader-smoke.json
//   merge DIR join a run's folder (webgpu-*.json, torch-*.json) into DIR/gpu-<date>.json and print the table
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinModules } from 'node:module';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const PACK = path.join(root, '.cache', 'gpu-pack');
const STAGE = path.join(root, '.cache', 'gpu-pack-stage'); // decompressed inputs, kept between packs
const MAX_PACK_BYTES = 60 * 2 ** 20;

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts }).toString();
}

/** xz-compress `src` to `dst` unless `dst` is newer than `src` (xz of the 99 MB node takes a minute or two). */
function xzOnce(src, dst) {
  if (fs.existsSync(dst) && fs.statSync(dst).mtimeMs >= fs.statSync(src).mtimeMs) return;
  console.log(`xz ${path.relative(root, src) || src} …`);
  const tmp = `${dst}.tmp`;
  fs.writeFileSync(tmp, execFileSync('xz', ['-c', '-6', '-T2', src], { maxBuffer: 200 * 2 ** 20 }));
  fs.renameSync(tmp, dst);
}

/** libvulkan.so.1 out of Debian's libvulkan1 .deb (apt-get download; no install). */
function vulkanLoader() {
  const dir = path.join(STAGE, 'libvulkan1');
  const done = path.join(dir, 'libvulkan.so.1');
  if (fs.existsSync(done)) return done;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  sh('apt-get', ['download', 'libvulkan1'], { cwd: dir });
  const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download libvulkan1 gave no .deb');
  sh('dpkg-deb', ['-x', deb, 'x'], { cwd: dir });
  const found = sh('find', ['x', '-name', 'libvulkan.so.1*', '-type', 'f'], { cwd: dir }).trim().split('\n')[0];
  if (!found) throw new Error('no libvulkan.so.1 in the libvulkan1 package');
  fs.copyFileSync(path.join(dir, found), done);
  fs.writeFileSync(path.join(dir, 'version.txt'), deb + '\n');
  return done;
}

// Packages that must be one instance for the engine and the bench (tfjs-core's kernel registry and backends): left
// out of the bundle and shipped as a small node_modules (their CommonJS node builds, as the engine itself loads them
// with require/import at run time), with what those require.
const SHARED = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-webgl',
  '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-layers',
  '@tensorflow/tfjs-converter',
  '@tensorflow/tfjs-data',
  'webgpu',
];
// what the CommonJS builds above require (checked by `pack`: each bare require in them must be here or in SHARED)
const SMALL_DEPS = ['seedrandom', 'long', 'node-fetch', 'whatwg-url', 'tr46', 'webidl-conversions', 'string_decoder', 'safe-buffer'];

async function bundle(out) {
  const esbuild = await import('esbuild');
  const exact = new RegExp(`^(${SHARED.map((n) => n.replace(/[/.-]/g, (c) => `\\${c}`)).join('|')})$`);
  await esbuild.build({
    entryPoints: [path.join(root, 'bench', 'gpu-run.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // the bench calls the model code directly; the project database is never opened
    external: ['better-sqlite3', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'electron'],
    plugins: [{ name: 'shared-packages', setup: (b) => b.onResolve({ filter: exact }, (a) => ({ path: a.path, external: true })) }],
    logLevel: 'warning',
    // wasm-threads.ts's createRequire(import.meta.url) runs only for WINNOW_WASM_THREADS > 1, never in this bench
    logOverride: { 'empty-import-meta': 'silent' },
    legalComments: 'none',
  });
}

/** node_modules for the pack: each SHARED package's package.json and main file, the SMALL_DEPS whole. */
function nodeModules(dst) {
  const nm = path.join(root, 'node_modules');
  for (const name of SHARED) {
    const src = path.join(nm, name);
    const pj = JSON.parse(fs.readFileSync(path.join(src, 'package.json'), 'utf8'));
    fs.mkdirSync(path.join(dst, name), { recursive: true });
    fs.copyFileSync(path.join(src, 'package.json'), path.join(dst, name, 'package.json'));
    const main = pj.main ?? 'index.js';
    fs.mkdirSync(path.dirname(path.join(dst, name, main)), { recursive: true });
    fs.copyFileSync(path.join(src, main), path.join(dst, name, main));
    const reqs = [...fs.readFileSync(path.join(src, main), 'utf8').matchAll(/require\(['"]([^'"./][^'"]*)['"]\)/g)].map((m) => m[1]);
    for (const r of reqs) {
      const pkg = r.startsWith('@') ? r.split('/').slice(0, 2).join('/') : r.split('/')[0];
      // (seedrandom's bundled `require('xor4096')` is guarded and never reached under Node)
      if (!SHARED.includes(pkg) && !SMALL_DEPS.includes(pkg) && !isBuiltin(pkg) && fs.existsSync(path.join(nm, pkg))) {
        throw new Error(`${name}/${main} requires ${r}, which the pack does not carry`);
      }
    }
  }
  fs.mkdirSync(path.join(dst, 'webgpu', 'dist', 'linux-x64'), { recursive: true });
  fs.copyFileSync(path.join(nm, 'webgpu', 'dist', 'linux-x64', 'dawn.node'), path.join(dst, 'webgpu', 'dist', 'linux-x64', 'dawn.node'));
  for (const name of SMALL_DEPS) fs.cpSync(path.join(nm, name), path.join(dst, name), { recursive: true, dereference: true });
}

function isBuiltin(n) {
  return builtinModules.includes(n) || n.startsWith('node:');
}

async function pack() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('pack builds the linux-x64 pack; run it on linux-x64');
  fs.mkdirSync(STAGE, { recursive: true });
  fs.rmSync(PACK, { recursive: true, force: true });
  fs.mkdirSync(path.join(PACK, 'lib'), { recursive: true });
  fs.mkdirSync(path.join(PACK, 'tokenizer'), { recursive: true });

  // Node: this machine's official linux-x64 build (glibc + libstdc++ only)
  const node = process.execPath;
  xzOnce(node, path.join(STAGE, 'node.xz'));
  fs.copyFileSync(path.join(STAGE, 'node.xz'), path.join(PACK, 'node.xz'));
  const loader = vulkanLoader();
  fs.copyFileSync(loader, path.join(PACK, 'lib', 'libvulkan.so.1'));

  // app/: the bundle (engine + bench) and its node_modules (dawn.node included), as one app.tar.xz
  const app = path.join(STAGE, 'app');
  fs.rmSync(app, { recursive: true, force: true });
  fs.mkdirSync(app, { recursive: true });
  await bundle(path.join(app, 'bench.cjs'));
  nodeModules(path.join(app, 'node_modules'));
  console.log('xz app …');
  sh('tar', ['-cJf', path.join(PACK, 'app.tar.xz'), '-C', app, '.'], { env: { ...process.env, XZ_OPT: '-6 -T2' } });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    fs.copyFileSync(path.join(root, 'resources', 'models', 'stories260K', f), path.join(PACK, 'tokenizer', f));
  }
  fs.copyFileSync(path.join(root, 'bench', 'gpu_torch.py'), path.join(PACK, 'gpu_torch.py'));
  fs.copyFileSync(path.join(root, 'bench', 'gpu-run.sh'), path.join(PACK, 'run.sh'));
  fs.chmodSync(path.join(PACK, 'run.sh'), 0o755);

  let commit = 'unknown';
  let dirty = false;
  try {
    commit = sh('git', ['rev-parse', 'HEAD'], { cwd: root }).trim();
    dirty = sh('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root }).trim() !== '';
  } catch {
    /* not a git checkout */
  }
  const files = {};
  let total = 0;
  for (const f of sh('find', ['.', '-type', 'f'], { cwd: PACK }).trim().split('\n')) {
    const n = fs.statSync(path.join(PACK, f)).size;
    files[f.slice(2)] = n;
    total += n;
  }
  const manifest = {
    built: new Date().toISOString(),
    commit,
    dirty,
    node: process.version,
    webgpu: JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'webgpu', 'package.json'), 'utf8')).version,
    tfjs: JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '@tensorflow', 'tfjs-core', 'package.json'), 'utf8')).version,
    vulkanLoader: fs.readFileSync(path.join(STAGE, 'libvulkan1', 'version.txt'), 'utf8').trim(),
    files,
    totalBytes: total,
  };
  fs.writeFileSync(path.join(PACK, 'MANIFEST.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`pack: ${path.relative(root, PACK)}/ ${(total / 2 ** 20).toFixed(1)} MiB (${Object.keys(files).length} files), commit ${commit.slice(0, 10)}${dirty ? ' + uncommitted changes' : ''}`);
  if (total > MAX_PACK_BYTES) throw new Error(`pack is ${(total / 2 ** 20).toFixed(1)} MiB, over the ${MAX_PACK_BYTES / 2 ** 20} MiB that travels`);
}

async function smoke() {
  await pack();
  const icd = process.env.WINNOW_SMOKE_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!fs.existsSync(icd)) throw new Error(`no SwiftShader ICD at ${icd} (Debian's chromium package ships it; or set WINNOW_SMOKE_ICD)`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-gpu-smoke-'));
  // only the ICD is given: the loader comes from the pack, as on the GPU machine
  const env = { ...process.env, SMOKE: '1', OUT: out, VK_ICD_FILENAMES: icd, WORK: path.join(os.tmpdir(), 'winnow-gpu-smoke-work') };
  delete env.LD_LIBRARY_PATH;
  delete env.VK_DRIVER_FILES;
  const r = spawnSync('bash', [path.join(PACK, 'run.sh')], { env, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`run.sh exited ${r.status}; its files are in ${out}`);
  const merged = fs.readdirSync(out).find((f) => /^gpu-\d{4}-\d\d-\d\d.*\.json$/.test(f));
  if (!merged) throw new Error(`run.sh wrote no gpu-<date>.json in ${out}`);
  const dst = path.join(root, 'bench', 'results', 'gpu-swiftshader-smoke.json');
  fs.copyFileSync(path.join(out, merged), dst);
  console.log(`smoke: ${path.relative(root, dst)} (run folder ${out})`);
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === 'pack') await pack();
  else if (cmd === '--smoke' || cmd === 'smoke') await smoke();
  else if (cmd === 'merge') {
    const dir = rest[0];
    if (!dir) throw new Error('merge DIR');
    const date = new Date().toISOString().slice(0, 10);
    const r = spawnSync('npx', ['tsx', path.join(root, 'bench', 'gpu-run.ts'), 'merge', '--in', dir, '--out', path.join(dir, `gpu-${date}.json`), '--table', path.join(dir, 'table.txt')], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  } else {
    console.log('usage: npm run bench:gpu -- pack | --smoke | merge DIR   (bench/README-gpu.md)');
    process.exit(cmd ? 1 : 0);
  }
} catch (e) {
  console.error(`bench:gpu: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
