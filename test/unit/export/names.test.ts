/** Names from data never leave the export folder: sanitized components, and a resolver that refuses escapes. */
import { describe, expect, it } from 'vitest';
import { join, resolve, sep } from 'node:path';
import { freeName, insideDir, sanitizeFileName } from '../../../main/engine/export/names';

const HOSTILE = ['../../etc/passwd', '/etc/passwd', 'C:\\Windows\\system32', '..', '.', '', 'a\u0000b', 'x'.repeat(5000), 'é'.repeat(300),
  'CON', 'con.txt', 'LPT1', 'nul', 'COM9.parquet', '.hidden', 'a/b/c', 'name\n\r\t', '😀'.repeat(100), ' spaced out ', '..\\..\\evil'];

describe('sanitizeFileName', () => {
  it('yields one safe component for every hostile name', () => {
    for (const h of HOSTILE) {
      const s = sanitizeFileName(h);
      expect(s.length, JSON.stringify(h)).toBeGreaterThan(0);
      expect(s).not.toMatch(/[/\\\0\n\r\t:]/);
      expect(s.startsWith('.')).toBe(false);
      expect(Buffer.byteLength(s)).toBeLessThanOrEqual(120);
      expect(/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i.test(s), s).toBe(false);
      expect(resolve('/out', `${s}.parquet`).startsWith(`/out${sep}`)).toBe(true);
    }
    expect(sanitizeFileName('gsm8k-train.jsonl')).toBe('gsm8k-train.jsonl');
    expect(sanitizeFileName('CON')).toBe('_CON');
    expect(sanitizeFileName('', 'dataset-3')).toBe('dataset-3');
  });
});

describe('insideDir', () => {
  const root = resolve('/tmp/export-root');
  it('resolves plain relative names under the folder', () => {
    expect(insideDir(root, 'subset_parquet/a.parquet')).toBe(join(root, 'subset_parquet', 'a.parquet'));
  });
  it('refuses escapes, absolute paths, NUL and the folder itself', () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a\u0000b', '.', '', 'sub/../..']) expect(() => insideDir(root, bad), bad).toThrow();
  });
});

describe('freeName', () => {
  it('suffixes taken names', () => {
    const taken = new Set(['s', 's (2)']);
    expect(freeName('s', (n) => taken.has(n))).toBe('s (3)');
    expect(freeName('t', (n) => taken.has(n))).toBe('t');
  });
});

describe('symbolic links in export and bundle folders', () => {
  it('are refused, whether the file or a folder on its path is the link', async () => {
    const { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const root = mkdtempSync(join(tmpdir(), 'winnow-links-'));
    const outside = mkdtempSync(join(tmpdir(), 'winnow-outside-'));
    try {
      writeFileSync(join(outside, 'secret.txt'), 'x');
      symlinkSync(join(outside, 'secret.txt'), join(root, 'subset.jsonl'));
      symlinkSync(outside, join(root, 'model'));
      mkdirSync(join(root, 'real'));
      expect(() => insideDir(root, 'subset.jsonl')).toThrow(/symbolic link/);
      expect(() => insideDir(root, 'model/config.json')).toThrow(/linked folder/);
      expect(insideDir(root, 'real/file.json')).toBe(join(root, 'real', 'file.json'));
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
