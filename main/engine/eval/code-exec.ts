/**
 * pass@1 for code records that ship tests: the model's completion and the record's tests run as one Python program in
 * a child process. Running model-written code is dangerous, so it happens only when the user opts in
 * (`--allow-code-execution`) and the child is fenced in as far as a plain process can be without containers:
 *   - `python3 -I` (isolated: no PYTHON* variables, no user site-packages, the script's folder not on sys.path);
 *   - a small wrapper sets resource limits before the program runs: address space (memory), CPU seconds, file size,
 *     no new processes (RLIMIT_NPROC 0, so `os.system`/`subprocess` fail);
 *   - a wall-clock limit here (the child is killed with SIGKILL when it runs past it, e.g. sleeping or blocked);
 *   - os.fork, os.system, subprocess.Popen, os.remove and the like replaced by a function that raises (as HumanEval's
 *     reliability_guard), since RLIMIT_NPROC does not hold for root;
 *   - its own process group, killed whole at the time limit;
 *   - an environment with nothing but PATH and a locale (no proxy settings, no tokens, no HOME);
 *   - a fresh temporary folder as its working directory, removed afterwards.
 * This is not a security boundary against a hostile program (it can still read files the user can read and open
 * sockets): docs/security-reliability.md says so.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WinnowError } from '../util/errors';

export interface CodeLimits {
  /** wall-clock seconds per program */
  timeoutS: number;
  /** address-space limit in MB */
  memoryMb: number;
  /** the Python interpreter */
  python: string;
}

export const DEFAULT_CODE_LIMITS: CodeLimits = { timeoutS: 10, memoryMb: 512, python: '/usr/bin/python3' };

export type CodeStatus = 'passed' | 'failed' | 'timeout' | 'memory_limit';

export interface CodeResult {
  status: CodeStatus;
  passed: boolean;
  /** the last line the program wrote to stderr (the exception), when it did not pass */
  detail: string | null;
}

/** The record's tests as Python source, or null when it ships none (HumanEval: test + entry_point; MBPP: test_list). */
export function recordTests(record: Record<string, unknown>): string | null {
  const setup = typeof record.test_setup_code === 'string' ? record.test_setup_code + '\n' : '';
  const list = Array.isArray(record.test_list) ? record.test_list : Array.isArray(record.tests) ? record.tests : null;
  if (list) {
    if (!list.every((t) => typeof t === 'string')) throw new WinnowError('bad_input', 'field "test_list"/"tests" must be a list of strings (Python statements, e.g. asserts)');
    return list.length ? setup + (list as string[]).join('\n') + '\n' : null;
  }
  const test = typeof record.test === 'string' ? record.test : typeof record.tests === 'string' ? record.tests : null;
  if (test === null || !test.trim()) return null;
  // HumanEval's test defines check(candidate); the entry point is the function the completion must define
  const entry = typeof record.entry_point === 'string' ? record.entry_point : null;
  return setup + test + '\n' + (entry ? `\ncheck(${entry})\n` : '');
}

/**
 * The program a completion stands for: the code inside its first ```python (or bare ```) fence when it has one, else
 * the completion as written. A HumanEval-style record's `prompt` (a signature and docstring the model continues) is
 * put in front when the completion does not itself define the entry point.
 */
export function completionProgram(record: Record<string, unknown>, completion: string): string {
  const fence = /```(?:python|py)?[^\n]*\n([\s\S]*?)(?:```|$)/.exec(completion);
  const code = fence ? fence[1]! : completion;
  const entry = typeof record.entry_point === 'string' ? record.entry_point : null;
  if (typeof record.prompt === 'string' && entry && !new RegExp(`\\bdef\\s+${entry.replace(/\W/g, '')}\\s*\\(`).test(code)) return record.prompt + code;
  return code;
}

/**
 * Sets the limits, takes away the functions that start processes or change files outside Python's own writes (as
 * HumanEval's execution.py `reliability_guard` does: RLIMIT_NPROC means nothing to root, and a guard is a second
 * fence), then runs program.py from the working folder as __main__. argv: memory bytes, CPU seconds.
 */
const WRAPPER = `
import resource, sys, os, shutil, subprocess
mem, cpu = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_FSIZE, (10 * 1024 * 1024, 10 * 1024 * 1024))
resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
def _refused(*a, **k):
    raise PermissionError('not allowed in the pass@1 sandbox')
for _n in ('fork', 'forkpty', 'system', 'popen', 'kill', 'killpg', 'putenv', 'remove', 'unlink', 'rmdir', 'removedirs',
           'rename', 'renames', 'replace', 'truncate', 'chmod', 'chown', 'fchmod', 'fchown', 'lchown', 'chroot', 'setuid',
           'execv', 'execve', 'execvp', 'execvpe', 'execl', 'execle', 'execlp', 'execlpe', 'spawnv', 'spawnve', 'spawnvp',
           'spawnvpe', 'posix_spawn', 'posix_spawnp'):
    if hasattr(os, _n):
        setattr(os, _n, _refused)
shutil.rmtree = shutil.move = shutil.chown = _refused
subprocess.Popen = _refused
with open('program.py', encoding='utf-8') as f:
    src = f.read()
del f
exec(compile(src, 'program.py', 'exec'), {'__name__': '__main__'})
`;

/** Run `program` + `tests` under the limits; passed means the program exited with status 0. */
export async function runCodeTests(program: string, tests: string, limits: CodeLimits = DEFAULT_CODE_LIMITS): Promise<CodeResult> {
  if (!fs.existsSync(limits.python)) throw new WinnowError('not_found', `pass@1 runs code with ${limits.python}, which is not there (give another Python with --python)`);
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-pass1-'));
  try {
    fs.writeFileSync(path.join(cwd, 'program.py'), program + '\n\n' + tests);
    return await new Promise<CodeResult>((resolve, reject) => {
      const child = spawn(limits.python, ['-I', '-c', WRAPPER, String(limits.memoryMb * 1024 * 1024), String(Math.max(1, Math.ceil(limits.timeoutS)))], {
        cwd, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdio: ['ignore', 'ignore', 'pipe'],
        // its own process group, so the time limit ends whatever it managed to start as well
        detached: true,
      });
      const killAll = (): void => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL'); // the group is gone already
        }
      };
      let stderr = '';
      let timedOut = false;
      child.stderr.on('data', (d: Buffer) => {
        if (stderr.length < 20_000) stderr += d.toString('utf8');
      });
      const timer = setTimeout(() => {
        timedOut = true;
        killAll();
      }, limits.timeoutS * 1000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new WinnowError('io_error', `could not start ${limits.python}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        // whatever the program left running in its group goes with it
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // none left: the usual case
        }
        const lines = stderr.trim().split('\n').filter(Boolean);
        const last = lines.length ? lines[lines.length - 1]! : null;
        // RLIMIT_CPU ends the child with SIGXCPU (or SIGKILL past the hard limit): that is the time limit too
        if (timedOut || signal === 'SIGXCPU' || signal === 'SIGKILL') resolve({ status: 'timeout', passed: false, detail: `ran past ${limits.timeoutS} s` });
        else if (/\bMemoryError\b/.test(stderr)) resolve({ status: 'memory_limit', passed: false, detail: `MemoryError (limit ${limits.memoryMb} MB)` });
        else if (code === 0) resolve({ status: 'passed', passed: true, detail: null });
        else resolve({ status: 'failed', passed: false, detail: last ?? `exit status ${code ?? signal}` });
      });
    });
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}
