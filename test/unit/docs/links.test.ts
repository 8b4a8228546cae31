/**
 * The documentation stays inside the repo and its links resolve: every relative link of README.md, docs/**\/*.md and
 * bench/*.md names a file or folder of the repo (and, with a #fragment, a heading of that file), no link or text
 * points outside the clone, and the README stays a short front page (≤ 15 KB).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../../..');
const README_LIMIT = 15 * 1024;

function markdownFiles(): string[] {
  const out = ['README.md'];
  const walk = (dir: string): void => {
    if (!existsSync(join(ROOT, dir))) return;
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const rel = `${dir}/${name}`;
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.md')) out.push(rel);
    }
  };
  walk('docs');
  for (const name of readdirSync(join(ROOT, 'bench')).sort()) if (name.endsWith('.md')) out.push(`bench/${name}`);
  return out;
}

/** The text without fenced code blocks and inline code, where brackets are not links. */
export function proseOf(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/(`+)[\s\S]*?\1/g, '');
}

/** `[text](target)` and `![alt](target)` targets, without a title. */
export function linksOf(md: string): string[] {
  const out: string[] = [];
  for (const m of proseOf(md).matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]!);
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
export function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const plain = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[*`]/g, '');
    const base = plain.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** What is wrong with one link of `file` (a repo-relative path), or null. */
export function checkLink(file: string, target: string): string | null {
  if (/^(https?:|mailto:)/i.test(target)) return null;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return `${file}: "${target}" is not a repo path or a web address`;
  if (target.startsWith('/') || target.startsWith('\\')) return `${file}: "${target}" is an absolute path`;
  const [pathPart, fragment] = target.split('#', 2) as [string, string | undefined];
  const abs = pathPart ? resolve(ROOT, dirname(file), decodeURIComponent(pathPart)) : join(ROOT, file);
  const rel = relative(ROOT, abs);
  if (rel === '..' || rel.startsWith(`..${sep}`)) return `${file}: "${target}" points outside the repo`;
  if (!existsSync(abs)) return `${file}: "${target}" names a missing file`;
  if (fragment && abs.endsWith('.md') && !anchorsOf(readFileSync(abs, 'utf8')).has(fragment.toLowerCase())) {
    return `${file}: "${target}" names no heading of ${rel.split(sep).join('/')}`;
  }
  return null;
}

describe('the documentation', () => {
  const files = markdownFiles();

  it('covers the README, docs/ and the bench notes', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/architecture.md');
    expect(files).toContain('bench/README.md');
  });

  it('keeps the README a short front page that still says how to test', () => {
    const readme = readFileSync(join(ROOT, 'README.md'));
    expect(readme.length).toBeLessThanOrEqual(README_LIMIT);
    expect(readme.toString('utf8')).toContain('npm test');
  });

  it('links only to files of the repo that exist', () => {
    const problems: string[] = [];
    for (const file of files) {
      for (const target of linksOf(readFileSync(join(ROOT, file), 'utf8'))) {
        const p = checkLink(file, target);
        if (p) problems.push(p);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names no folder outside the clone, even in text', () => {
    const problems: string[] = [];
    for (const file of files) {
      readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((line, i) => {
        if (/\.\.\/shared\b|\/work\/|\/shared\/data\b/.test(line)) problems.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(problems).toEqual([]);
  });

  it('the checker itself refuses what it should', () => {
    expect(checkLink('README.md', 'docs/nope.md')).toMatch(/missing file/);
    // the folder beside the clone, spelled in parts so a grep for it finds only real uses
    expect(checkLink('README.md', ['..', 'shared', 'design', 'METHODS.md'].join('/'))).toMatch(/outside the repo/);
    expect(checkLink('docs/cli.md', '../../x.md')).toMatch(/outside the repo/);
    expect(checkLink('README.md', '/work/shared/design/METHODS.md')).toMatch(/absolute path/);
    expect(checkLink('README.md', 'file:///etc/passwd')).toMatch(/not a repo path/);
    expect(checkLink('README.md', 'docs/cli.md#no-such-heading')).toMatch(/no heading/);
    expect(checkLink('README.md', 'docs/cli.md')).toBeNull();
    expect(checkLink('README.md', 'https://example.org/x')).toBeNull();
    expect(linksOf('see `[a](b.md)` and\n```\n[c](d.md)\n```\n[e](f.md "t") ![g](h.png)')).toEqual(['f.md', 'h.png']);
    expect([...anchorsOf('# A b\n## `score --out` format\n## A b\n## Clusters, diversity and the map')]).toEqual([
      'a-b', 'score---out-format', 'a-b-1', 'clusters-diversity-and-the-map',
    ]);
  });
});
