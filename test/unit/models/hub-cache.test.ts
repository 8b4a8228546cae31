/**
 * Models in the Hugging Face hub cache, laid out as huggingface_hub writes it: `models--org--name/` with `blobs/`
 * (contents, named by hash), `snapshots/<commit>/` (relative links into blobs/) and `refs/<ref>` (the commit hash).
 * Two revisions of one model share the blobs they have in common.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSnapshotFiles, hubCacheDir, listCachedModels, parseHubId, resolveModelSource } from '../../../main/engine/models/hub-cache';
import { readCheckpoint } from '../../../main/engine/models/safetensors';
import { TestProject } from '../scoring/helpers';
import { TINY_QWEN2, tmpDir, writeTinyModel } from './tiny';

const ROOT = path.resolve(__dirname, '../../..');

/** One repo in a hub cache: each revision's files stored once in blobs/ and linked from its snapshot. */
function writeHubRepo(cache: string, kind: 'models' | 'datasets', repo: string, revisions: Array<{ refs: string[]; files: Record<string, Buffer> }>): string[] {
  const root = path.join(cache, `${kind}--${repo.replace('/', '--')}`);
  fs.mkdirSync(path.join(root, 'blobs'), { recursive: true });
  fs.mkdirSync(path.join(root, 'refs'), { recursive: true });
  const commits: string[] = [];
  for (const rev of revisions) {
    const commit = createHash('sha1').update(JSON.stringify(Object.keys(rev.files)) + Object.values(rev.files).map((b) => createHash('sha1').update(b).digest('hex')).join()).digest('hex');
    commits.push(commit);
    for (const [name, body] of Object.entries(rev.files)) {
      const blob = createHash('sha256').update(body).digest('hex');
      const blobPath = path.join(root, 'blobs', blob);
      if (!fs.existsSync(blobPath)) fs.writeFileSync(blobPath, body);
      const link = path.join(root, 'snapshots', commit, name);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(path.relative(path.dirname(link), blobPath), link);
    }
    for (const ref of rev.refs) {
      fs.mkdirSync(path.dirname(path.join(root, 'refs', ref)), { recursive: true });
      fs.writeFileSync(path.join(root, 'refs', ref), commit); // no newline, as huggingface_hub writes it
    }
  }
  return commits;
}

const folderFiles = (dir: string) => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));

let cache: string;
let commits: string[];
let v1Dir: string;
let mainDir: string;
const savedEnv = { HF_HUB_CACHE: process.env.HF_HUB_CACHE, HF_HOME: process.env.HF_HOME };
beforeAll(() => {
  cache = tmpDir('hub');
  v1Dir = writeTinyModel(TINY_QWEN2, 1);
  mainDir = writeTinyModel(TINY_QWEN2, 2);
  commits = writeHubRepo(cache, 'models', 'tiny-org/tiny-qwen', [
    { refs: ['v1'], files: folderFiles(v1Dir) },
    { refs: ['main'], files: folderFiles(mainDir) },
  ]);
  // a model Winnow cannot run, and one whose tokenizer blob was deleted (an interrupted download, a cache clean-up)
  writeHubRepo(cache, 'models', 'bert-org/bert-tiny', [{ refs: ['main'], files: { 'config.json': Buffer.from('{"model_type":"bert","architectures":["BertModel"]}') } }]);
  const broken = writeHubRepo(cache, 'models', 'tiny-org/broken', [{ refs: ['main'], files: folderFiles(v1Dir) }]);
  const tokLink = path.join(cache, 'models--tiny-org--broken', 'snapshots', broken[0], 'tokenizer.json');
  fs.rmSync(path.resolve(path.dirname(tokLink), fs.readlinkSync(tokLink)));
  process.env.HF_HUB_CACHE = cache;
});
afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const d of [cache, v1Dir, mainDir]) fs.rmSync(d, { recursive: true, force: true });
});

describe('Hugging Face hub cache: models', () => {
  it('finds the cache as huggingface_hub does: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' })).toBe('/a');
    expect(hubCacheDir({ HF_HOME: '/b' })).toBe(path.join('/b', 'hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(path.join('/x', 'huggingface', 'hub'));
    expect(hubCacheDir({})).toMatch(/\.cache[/\\]huggingface[/\\]hub$/);
    expect(parseHubId('Qwen/Qwen2.5-0.5B-Instruct@v1.0')).toEqual({ repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'v1.0', explicit: true });
    expect(parseHubId('/abs/path')).toBeNull();
    expect(parseHubId('a/b/c')).toBeNull();
  });

  it('resolves org/name to the snapshot refs/main names, @ref and @commit to theirs, through the links into blobs/', () => {
    const main = resolveModelSource('tiny-org/tiny-qwen');
    expect(main.dir).toBe(path.join(cache, 'models--tiny-org--tiny-qwen', 'snapshots', commits[1]));
    expect(main.name).toBe('tiny-org/tiny-qwen');
    expect(fs.lstatSync(path.join(main.dir, 'model.safetensors')).isSymbolicLink()).toBe(true);
    const v1 = resolveModelSource('tiny-org/tiny-qwen@v1');
    expect(v1).toMatchObject({ name: 'tiny-org/tiny-qwen@v1', hub: { commit: commits[0], revision: 'v1' } });
    expect(resolveModelSource(`tiny-org/tiny-qwen@${commits[0].slice(0, 10)}`).dir).toBe(v1.dir);
    // the two revisions' weights are what was written for each
    const a = readCheckpoint(v1.dir).tensors;
    const b = readCheckpoint(main.dir).tensors;
    const ref = readCheckpoint(v1Dir).tensors;
    const name = [...a.keys()][0];
    expect([...a.get(name)!.data]).toEqual([...ref.get(name)!.data]);
    expect([...b.get(name)!.data]).not.toEqual([...a.get(name)!.data]);
    // only the weights differ: config and tokenizer files are one blob each
    const blobs = fs.readdirSync(path.join(cache, 'models--tiny-org--tiny-qwen', 'blobs'));
    expect(blobs).toHaveLength(Object.keys(folderFiles(v1Dir)).length + 1);
  });

  it('names a missing repo, a missing revision (with the cached refs) and a snapshot file whose blob is gone', () => {
    expect(() => resolveModelSource('nobody/nothing')).toThrow(/nobody\/nothing is not in the Hugging Face hub cache .*models--nobody--nothing does not exist/);
    expect(() => resolveModelSource('tiny-org/tiny-qwen@v9')).toThrow(/tiny-org\/tiny-qwen: revision "v9" is not in the hub cache .*refs[/\\]v9 is missing; cached refs: "main", "v1"/);
    expect(() => resolveModelSource('tiny-org/broken')).toThrow(/tiny-org\/broken@main: the cached snapshot .* lacks tokenizer\.json \(its link points at a blob that is missing from blobs\/\)/);
    const dir = resolveModelSource('tiny-org/tiny-qwen@v1').dir;
    const other = tmpDir('snap');
    for (const f of fs.readdirSync(dir)) if (f !== 'model.safetensors') fs.copyFileSync(path.join(dir, f), path.join(other, f));
    expect(() => checkSnapshotFiles('x/y', 'main', other)).toThrow(/x\/y@main: .* lacks model\.safetensors \(or model\.safetensors\.index\.json and its shards\)/);
    fs.rmSync(other, { recursive: true, force: true });
  });

  it('lists every cached model with its size and architecture, marking the ones Winnow runs', () => {
    const list = listCachedModels(cache);
    expect(list.map((m) => `${m.repo}@${m.refs.join(',')}`).sort()).toEqual(['bert-org/bert-tiny@main', 'tiny-org/broken@main', 'tiny-org/tiny-qwen@main', 'tiny-org/tiny-qwen@v1']);
    const v1 = list.find((m) => m.refs.includes('v1'))!;
    const sum = Object.values(folderFiles(v1Dir)).reduce((s, b) => s + b.length, 0);
    expect(v1).toMatchObject({ repo: 'tiny-org/tiny-qwen', commit: commits[0], architecture: 'qwen2', className: 'Qwen2ForCausalLM', runnable: true, bytes: sum });
    expect(list.find((m) => m.repo === 'bert-org/bert-tiny')).toMatchObject({ runnable: false, architecture: 'bert', reason: expect.stringContaining('model_type "bert" is not one Winnow runs') });
    expect(list.find((m) => m.repo === 'tiny-org/broken')).toMatchObject({ runnable: false, reason: expect.stringContaining('tokenizer.json') });
    expect(listCachedModels(path.join(cache, 'nowhere'))).toEqual([]);
  });

  it('models.add takes a hub id (and still a save_pretrained folder); models.listCached lists the cache', async () => {
    const p = new TestProject('hub');
    try {
      const m = await p.call('models.add', { path: 'tiny-org/tiny-qwen@v1' });
      expect(m).toMatchObject({ name: 'tiny-org/tiny-qwen@v1', architecture: 'qwen2', numLayers: 2 });
      expect(m.path).toBe(resolveModelSource('tiny-org/tiny-qwen@v1').dir);
      expect(m.params).toBeGreaterThan(0);
      const folder = await p.call('models.add', { path: mainDir });
      expect(folder.path).toBe(mainDir);
      const r = await p.service.call('models.add', { path: 'tiny-org/tiny-qwen@nope' });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error.message).toMatch(/revision "nope"/);
      const cached = await p.call('models.listCached', {});
      expect(cached.filter((c) => c.runnable).map((c) => c.repo)).toEqual(['tiny-org/tiny-qwen', 'tiny-org/tiny-qwen']);
    } finally {
      p.service.close();
      fs.rmSync(p.home, { recursive: true, force: true });
    }
  });

  it('winnow score --model org/name@rev scores from the cache, offline', () => {
    const tmp = tmpDir('hub-cli');
    const data = path.join(tmp, 'd.jsonl');
    fs.writeFileSync(data, `${JSON.stringify({ question: 'Hi?', answer: 'Hello.' })}\n`);
    const out = path.join(tmp, 'o.jsonl');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'main/cli/index.ts'), 'score', '--model', 'tiny-org/tiny-qwen@v1',
      '--data', data, '--signals', 'mean_loss', '--out', out, '--json'], {
      cwd: ROOT, encoding: 'utf8', timeout: 120_000,
      env: { ...process.env, WINNOW_HOME: path.join(tmp, 'home'), HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const line = JSON.parse(fs.readFileSync(out, 'utf8').trim()) as { example: { mean_loss: number } };
    expect(Number.isFinite(line.example.mean_loss)).toBe(true);
    const missing = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'main/cli/index.ts'), 'score', '--model', 'tiny-org/tiny-qwen@v7',
      '--data', data, '--signals', 'mean_loss', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, WINNOW_HOME: path.join(tmp, 'home'), HF_HUB_CACHE: cache } });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('revision "v7" is not in the hub cache');
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 150_000);
});
