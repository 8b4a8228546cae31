import { describe, expect, it } from 'vitest';
import { ApiInputs, isApiName, parseInput } from '../../../preload/contract';
import { answer } from '../../../main/engine/api/wire';

describe('the contract validates inputs at the boundary', () => {
  it('knows its calls and nothing else', () => {
    expect(isApiName('examples.query')).toBe(true);
    expect(isApiName('constructor')).toBe(false);
    expect(isApiName('__proto__')).toBe(false);
    expect(Object.keys(ApiInputs).length).toBeGreaterThan(20);
  });

  it('fills defaults and names the bad field', () => {
    const ok = parseInput('examples.query', {});
    expect(ok).toEqual({ ok: true, value: { filters: [], offset: 0, limit: 100 } });
    const bad = parseInput('examples.query', { limit: 5000 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe('bad_input');
      expect(bad.error.message).toContain('"limit"');
    }
    const nested = parseInput('train.start', { modelId: 1, subsetId: null, layers: 'last:1', steps: 0 });
    expect(nested.ok).toBe(false);
    if (!nested.ok) expect(nested.error.message).toContain('"steps"');
  });

  it('refuses signal names that could reach SQL', () => {
    const r = parseInput('examples.query', { sort: { column: 'mean_loss"; DROP TABLE examples; --', dir: 'asc' } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('sort.column');
  });

  it('validates subset rules by kind', () => {
    expect(parseInput('subsets.create', { name: 'a', rule: { kind: 'top', signal: 'mean_loss', percent: 150 } }).ok).toBe(false);
    expect(parseInput('subsets.create', { name: 'a', rule: { kind: 'nope' } }).ok).toBe(false);
    const r = parseInput('subsets.create', { name: 'a', rule: { kind: 'random', count: 3 } });
    expect(r.ok && r.value.rule).toEqual({ kind: 'random', count: 3, seed: 0 });
  });
});

describe('the wire answers every message with a value', () => {
  const handler = { call: async (name: string) => ({ ok: true as const, value: name }) };
  it('ignores what is not a call and refuses unknown names as values', async () => {
    expect(await answer(handler, 'not json')).toBeNull();
    expect(await answer(handler, { t: 'call' })).toBeNull();
    const unknown = await answer(handler, JSON.stringify({ t: 'call', id: 7, name: 'fs.readFile', input: {} }));
    expect(unknown).toEqual({ t: 'result', id: 7, result: { ok: false, error: { code: 'bad_input', message: 'unknown call "fs.readFile"' } } });
    expect(await answer(handler, { t: 'call', id: 1, name: 'jobs.list', input: {} })).toEqual({ t: 'result', id: 1, result: { ok: true, value: 'jobs.list' } });
  });
});
