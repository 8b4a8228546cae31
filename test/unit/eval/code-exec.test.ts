/**
 * pass@1's sandbox with hand-made code records (HumanEval's test + entry_point, MBPP's test_list): a correct solution
 * passes, a wrong one fails, an endless loop is stopped at the time limit, a memory hog at the memory limit, the child
 * sees no proxy settings and runs in a temporary folder that is gone afterwards; `winnow eval --metric pass_at_1`
 * refuses without --allow-code-execution and, with it, runs the tiny model's completions through the same sandbox.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionProgram, recordTests, runCodeTests, DEFAULT_CODE_LIMITS } from '../../../main/engine/eval/code-exec';
import { runEvalCommand } from '../../../main/cli/commands/eval';
import { initBackend } from '../../../main/engine/compute/backend';
import { STORIES, tmpDir } from '../models/tiny';

const HUMANEVAL = {
  prompt: 'def add(a, b):\n    """Return a + b."""\n',
  entry_point: 'add',
  test: 'def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-4, 4) == 0\n',
};
const MBPP = { text: 'Write a function to square a number.', test_list: ['assert square(3) == 9', 'assert square(-2) == 4'] };
const limits = { ...DEFAULT_CODE_LIMITS, timeoutS: 2, memoryMb: 256 };

async function run(record: Record<string, unknown>, completion: string) {
  return runCodeTests(completionProgram(record, completion), recordTests(record)!, limits);
}

let tmp: string;
beforeAll(() => {
  tmp = tmpDir('pass1');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('pass@1 sandbox', () => {
  it('reads HumanEval and MBPP tests, and builds the program a completion stands for', () => {
    expect(recordTests(HUMANEVAL)).toBe(HUMANEVAL.test + '\n\ncheck(add)\n');
    expect(recordTests(MBPP)).toBe('assert square(3) == 9\nassert square(-2) == 4\n');
    expect(recordTests({ text: 'no tests' })).toBeNull();
    expect(() => recordTests({ test_list: [1, 2] })).toThrow(/"test_list"\/"tests" must be a list of strings/);
    // HumanEval: the model continues the prompt's signature, so the prompt goes in front
    expect(completionProgram(HUMANEVAL, '    return a + b\n')).toBe(HUMANEVAL.prompt + '    return a + b\n');
    // a chat answer in a fence, defining the function itself
    expect(completionProgram(MBPP, 'Here:\n```python\ndef square(x):\n    return x * x\n```\nDone.')).toBe('def square(x):\n    return x * x\n');
  });

  it('a correct solution passes and a wrong one fails with the assertion', async () => {
    expect(await run(HUMANEVAL, '    return a + b\n')).toEqual({ status: 'passed', passed: true, detail: null });
    const wrong = await run(HUMANEVAL, '    return a - b\n');
    expect(wrong).toMatchObject({ status: 'failed', passed: false, detail: 'AssertionError' });
    expect(await run(MBPP, 'def square(x):\n    return x * x\n')).toMatchObject({ passed: true });
    expect(await run(MBPP, 'def square(x):\n    return x + x\n')).toMatchObject({ status: 'failed', passed: false });
    expect(await run(MBPP, 'def square(x) return\n')).toMatchObject({ status: 'failed', detail: expect.stringMatching(/SyntaxError/) });
  });

  it('an endless loop is stopped at the time limit, a memory hog at the memory limit', async () => {
    expect(await run(MBPP, 'def square(x):\n    while True:\n        pass\n')).toMatchObject({ status: 'timeout', passed: false });
    // sleeping uses no CPU: the wall-clock limit stops it
    expect(await run(MBPP, 'import time\ndef square(x):\n    time.sleep(60)\n')).toMatchObject({ status: 'timeout', passed: false });
    expect(await run(MBPP, 'def square(x):\n    a = []\n    while True:\n        a.append(bytearray(10 ** 7))\n')).toMatchObject({ status: 'memory_limit', passed: false });
  });

  it('the child has no proxy settings, cannot start processes, and runs in a temporary folder removed afterwards', async () => {
    const saved = process.env.HTTPS_PROXY;
    process.env.HTTPS_PROXY = 'http://proxy.invalid:3128';
    try {
      const probe = [
        'import os, json',
        `open(${JSON.stringify(path.join(tmp, 'probe.json'))}, "w").write(json.dumps({"env": sorted(os.environ), "cwd": os.getcwd()}))`,
        'try:',
        '    os.fork()',
        '    forked = True',
        'except PermissionError:',
        '    forked = False',
        'assert not forked',
        'import subprocess',
        'try:',
        '    subprocess.run(["true"])',
        '    ran = True',
        'except PermissionError:',
        '    ran = False',
        'assert not ran',
        'def square(x):\n    return x * x',
      ].join('\n');
      expect(await run(MBPP, probe)).toMatchObject({ passed: true });
      const seen = JSON.parse(fs.readFileSync(path.join(tmp, 'probe.json'), 'utf8')) as { env: string[]; cwd: string };
      expect(seen.env.filter((k) => !['LC_CTYPE'].includes(k))).toEqual(['LANG', 'PATH']);
      expect(seen.cwd).toMatch(/winnow-pass1-/);
      expect(fs.existsSync(seen.cwd)).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.HTTPS_PROXY;
      else process.env.HTTPS_PROXY = saved;
    }
  });
});

describe('winnow eval --metric pass_at_1', () => {
  const data = (): string => {
    const f = path.join(tmp, 'code.jsonl');
    fs.writeFileSync(f, [
      { messages: [{ role: 'user', content: 'Write square(x).' }, { role: 'assistant', content: 'def square(x):\n    return x * x' }], test_list: MBPP.test_list },
      { messages: [{ role: 'user', content: 'Write add(a, b).' }, { role: 'assistant', content: 'def add(a, b):\n    return a + b' }], test: HUMANEVAL.test, entry_point: 'add' },
    ].map((r) => JSON.stringify(r)).join('\n') + '\n');
    return f;
  };

  it('refuses without --allow-code-execution and writes nothing', async () => {
    const out = path.join(tmp, 'refused.json');
    await expect(runEvalCommand({ model: STORIES, data: data(), out, metric: 'pass_at_1', flags: { maxNewTokens: 4 }, quiet: true }))
      .rejects.toThrow(/runs only when you allow it with --allow-code-execution/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('with it, runs each completion with its record\'s tests (the story model writes no working code: 0 of 2)', async () => {
    await initBackend();
    const out = path.join(tmp, 'pass1.json');
    const r = await runEvalCommand({
      model: STORIES, data: data(), out, metric: 'pass_at_1', flags: { maxNewTokens: 8 }, quiet: true, allowCodeExecution: true, codeLimits: { timeoutS: 5 },
    });
    expect(r).toMatchObject({ metric: 'pass_at_1', pass_at_1: 0, n: 2, limits: { timeout_s: 5, memory_mb: 512 } });
    const rows = (JSON.parse(fs.readFileSync(out, 'utf8')) as { rows: Array<Record<string, unknown>> }).rows;
    expect(rows.map((x) => x.index)).toEqual([0, 1]);
    for (const row of rows) {
      expect(row).toMatchObject({ passed: false, status: 'failed' });
      expect(typeof row.completion).toBe('string');
      expect(row.detail).toMatch(/Error/);
    }
  });
});
