/**
 * Models in the Hugging Face hub cache, as `huggingface_hub` lays them out (offline: nothing is downloaded):
 *
 *   <cache>/models--org--name/refs/main            a text file holding the commit hash of the revision
 *   <cache>/models--org--name/snapshots/<hash>/…   the files of that commit, each a link into blobs/
 *   <cache>/models--org--name/blobs/<sha>          the contents
 *
 * `org/name[@revision]` names one: the revision is a ref (branch or tag, default `main`) or a commit hash.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CachedModelInfo } from '../../../preload/contract';
import { WinnowError } from '../util/errors';
import { SUPPORTED_MODEL_TYPES } from './config';

/** The hub cache: HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface', 'hub');
}

const HUB_ID = /^([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/;

/** `org/name[@revision]` split, or null when the text is not shaped like a hub id. */
export function parseHubId(spec: string): { repo: string; revision: string; explicit: boolean } | null {
  const m = HUB_ID.exec(spec.trim());
  if (!m || m[1].includes('..') || m[2].includes('..')) return null;
  return { repo: `${m[1]}/${m[2]}`, revision: m[3] ?? 'main', explicit: m[3] !== undefined };
}

const repoFolder = (kind: 'models' | 'datasets', repo: string) => `${kind}--${repo.replace('/', '--')}`;

/** The snapshot folder of a cached repo at a revision (a ref or a commit hash), every missing piece named. */
export function resolveSnapshot(cache: string, kind: 'models' | 'datasets', repo: string, revision: string): { dir: string; commit: string } {
  const root = join(cache, repoFolder(kind, repo));
  if (!existsSync(root)) {
    throw new WinnowError('not_found', `${repo} is not in the Hugging Face hub cache (${root} does not exist); download it with ` +
      `\`huggingface-cli download ${repo}\`${kind === 'datasets' ? ' --repo-type dataset' : ''} or give a folder path`);
  }
  const refs = listRefs(root);
  let commit: string | undefined = refs.get(revision);
  if (commit === undefined && /^[0-9a-f]{7,40}$/.test(revision)) {
    const snaps = listDirs(join(root, 'snapshots')).filter((h) => h.startsWith(revision));
    if (snaps.length === 1) commit = snaps[0];
  }
  if (commit === undefined) {
    const have = [...refs.keys()].map((r) => `"${r}"`).join(', ');
    throw new WinnowError('not_found', `${repo}: revision "${revision}" is not in the hub cache (${join(root, 'refs', revision)} is missing; ` +
      `cached refs: ${have || 'none'}; cached snapshots: ${listDirs(join(root, 'snapshots')).join(', ') || 'none'})`);
  }
  const dir = join(root, 'snapshots', commit);
  if (!existsSync(dir)) {
    throw new WinnowError('not_found', `${repo}@${revision}: refs/${revision} points at commit ${commit}, but ${dir} is missing`);
  }
  return { dir, commit };
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** refs/<name> → commit hash (refs may nest: refs/pr/1). */
function listRefs(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, prefix: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(dir, e.name), `${prefix}${e.name}/`);
      else {
        const hash = readFileSync(join(dir, e.name), 'utf8').trim();
        if (hash) out.set(`${prefix}${e.name}`, hash);
      }
    }
  };
  walk(join(root, 'refs'), '');
  return out;
}

/** A link in a snapshot whose blob is gone: named with where it points. */
function brokenLink(path: string): string | null {
  try {
    if (lstatSync(path).isSymbolicLink() && !existsSync(path)) return path;
  } catch {
    return null;
  }
  return null;
}

/**
 * The files a model needs in a snapshot: config.json, tokenizer.json, and model.safetensors or the index with each
 * shard it lists. A file absent or linked to a missing blob is named.
 */
export function checkSnapshotFiles(repo: string, revision: string, dir: string): void {
  const missing = (f: string) => {
    const p = join(dir, f);
    if (existsSync(p)) return false;
    return true;
  };
  const say = (f: string) => {
    const p = join(dir, f);
    const broken = brokenLink(p);
    return broken ? `${f} (its link points at a blob that is missing from blobs/)` : f;
  };
  const lacking: string[] = [];
  for (const f of ['config.json', 'tokenizer.json']) if (missing(f)) lacking.push(say(f));
  const index = 'model.safetensors.index.json';
  if (!missing(index)) {
    let map: Record<string, string> = {};
    try {
      map = (JSON.parse(readFileSync(join(dir, index), 'utf8')) as { weight_map?: Record<string, string> }).weight_map ?? {};
    } catch (err) {
      throw new WinnowError('parse_error', `${repo}@${revision}: ${join(dir, index)} is not valid JSON (${(err as Error).message})`);
    }
    for (const shard of new Set(Object.values(map))) if (missing(shard)) lacking.push(say(shard));
  } else if (missing('model.safetensors')) lacking.push(`${say('model.safetensors')} (or ${index} and its shards)`);
  if (lacking.length) {
    throw new WinnowError('not_found', `${repo}@${revision}: the cached snapshot ${dir} lacks ${lacking.join(', ')}; ` +
      `download them with \`huggingface-cli download ${repo} --revision ${revision}\``);
  }
}

/**
 * What `--model` or the Add model field names: an existing path is a folder as before (save_pretrained); otherwise
 * `org/name[@revision]` resolves from the hub cache. `name` is what the model is listed as.
 */
export function resolveModelSource(spec: string, cache = hubCacheDir()): { dir: string; name?: string; hub?: { repo: string; revision: string; commit: string } } {
  if (existsSync(spec)) return { dir: spec };
  const id = parseHubId(spec);
  if (!id) return { dir: spec }; // not a hub id: the folder check reports the missing path
  const { dir, commit } = resolveSnapshot(cache, 'models', id.repo, id.revision);
  checkSnapshotFiles(id.repo, id.revision, dir);
  return { dir, name: id.explicit ? `${id.repo}@${id.revision}` : id.repo, hub: { repo: id.repo, revision: id.revision, commit } };
}

/** A model snapshot in the hub cache (the contract's CachedModelInfo, which documents each field). */
export type CachedModel = CachedModelInfo;

/** Every model snapshot in the hub cache, newest refs first per repo; nothing is opened beyond config.json. */
export function listCachedModels(cache = hubCacheDir()): CachedModel[] {
  const out: CachedModel[] = [];
  let entries: string[];
  try {
    entries = readdirSync(cache).filter((e) => e.startsWith('models--')).sort();
  } catch {
    return [];
  }
  for (const folder of entries) {
    const repo = folder.slice('models--'.length).replace('--', '/');
    const root = join(cache, folder);
    const refs = listRefs(root);
    for (const commit of listDirs(join(root, 'snapshots'))) {
      const dir = join(root, 'snapshots', commit);
      const names = [...refs].filter(([, c]) => c === commit).map(([r]) => r);
      let architecture: string | null = null;
      let className: string | null = null;
      let reason: string | undefined;
      try {
        const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { model_type?: unknown; architectures?: unknown };
        architecture = typeof raw.model_type === 'string' ? raw.model_type : null;
        className = Array.isArray(raw.architectures) && typeof raw.architectures[0] === 'string' ? raw.architectures[0] : null;
      } catch (err) {
        reason = existsSync(join(dir, 'config.json')) ? `config.json: ${(err as Error).message}` : 'no config.json';
      }
      if (!reason && !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(architecture ?? '')) {
        reason = `model_type "${architecture ?? 'none'}" is not one Winnow runs (${SUPPORTED_MODEL_TYPES.join(', ')})`;
      }
      if (!reason) {
        try {
          checkSnapshotFiles(repo, names[0] ?? commit, dir);
        } catch (err) {
          reason = (err as Error).message;
        }
      }
      out.push({ repo, refs: names, commit, dir, bytes: snapshotBytes(dir), architecture, className, runnable: !reason, ...(reason ? { reason } : {}) });
    }
  }
  return out;
}

/** Sum of the sizes of the files a snapshot holds, following links, each blob once. */
function snapshotBytes(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      try {
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else {
          const real = realpathSync(p);
          if (!seen.has(real)) {
            seen.add(real);
            total += st.size;
          }
        }
      } catch {
        // a broken link: counts nothing (runnable says what is missing)
      }
    }
  };
  walk(dir);
  return total;
}

export interface CachedDataset {
  /** `org/name` */
  repo: string;
  refs: string[];
  commit: string;
  dir: string;
  /** the snapshot's data files (Parquet, JSONL, JSON, CSV, TSV, optionally gzipped; Arrow) by split, paths inside the snapshot */
  splits: Record<string, string[]>;
}

const DATA_FILE = /\.(parquet|jsonl|ndjson|json|csv|tsv|arrow)(\.gz)?$/i;
const SPLIT = /(?:^|[/_.-])(train|test|validation|valid|dev|eval|evaluation)(?=[/_.-]|$)/i;

/** The split a hub dataset file belongs to, by the hub's naming conventions (`data/train-00000-of-00001.parquet`). */
export function splitOf(rel: string): string {
  const m = SPLIT.exec(rel.replace(/\\/g, '/'));
  return m ? m[1].toLowerCase() : 'train';
}

/** Every dataset snapshot in the hub cache with its data files by split (a file a broken link leaves out is skipped). */
export function listCachedDatasets(cache = hubCacheDir()): CachedDataset[] {
  const out: CachedDataset[] = [];
  let entries: string[];
  try {
    entries = readdirSync(cache).filter((e) => e.startsWith('datasets--')).sort();
  } catch {
    return [];
  }
  for (const folder of entries) {
    const repo = folder.slice('datasets--'.length).replace('--', '/');
    const root = join(cache, folder);
    const refs = listRefs(root);
    for (const commit of listDirs(join(root, 'snapshots'))) {
      const dir = join(root, 'snapshots', commit);
      const splits: Record<string, string[]> = {};
      const walk = (d: string, rel: string) => {
        let list;
        try {
          list = readdirSync(d, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of list.sort((a, b) => a.name.localeCompare(b.name))) {
          const p = join(d, e.name);
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walk(p, r);
          else if (DATA_FILE.test(e.name) && existsSync(p) && !/^(dataset_info|state|dataset_dict|dataset_infos)\.json$/.test(e.name)) {
            (splits[splitOf(r)] ??= []).push(r);
          }
        }
      };
      walk(dir, '');
      out.push({ repo, refs: [...refs].filter(([, c]) => c === commit).map(([r]) => r), commit, dir, splits });
    }
  }
  return out;
}
