/**
 * The backend chosen in the app (app.setBackend), through the engine service with its real compute worker: the worker
 * restarts on the chosen backend and app.info follows; webgpu on the software adapter (SwiftShader from Chromium's
 * folder) starts when chosen, where that is the only adapter; a backend that does not start leaves the previous one
 * and says why; a switch under a running job is refused; the choice is saved in WINNOW_HOME/settings.json and read
 * back by the next engine on the same home; and "automatic" goes back to the fastest backend found.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../../main/engine/create';
import { readBackendSetting, writeBackendSetting } from '../../../main/engine/api/backend-setting';
import type { AppInfo } from '../../../preload/contract';
import { serviceCalls } from '../../support/engine';

const home = mkdtempSync(join(tmpdir(), 'winnow-backend-setting-'));
const settingsFile = join(home, 'settings.json');
let engine: Engine | null = null;

afterAll(async () => {
  await engine?.close();
  rmSync(home, { recursive: true, force: true });
});

const { call } = serviceCalls(() => engine!.service);

const saved = (): unknown => (existsSync(settingsFile) ? JSON.parse(readFileSync(settingsFile, 'utf8')).backend : undefined);
const entry = (info: AppInfo, name: string) => info.backendChoice!.backends.find((b) => b.name === name)!;

describe('app.setBackend', () => {
  it('restarts the compute worker on the chosen backend, keeps the choice across engines, refuses a switch under a job', async () => {
    delete process.env.WINNOW_BACKEND;
    engine = await createEngine({ mode: 'browser', home });
    const first = await call('app.info', {});
    expect(first.backend).not.toBeNull();
    expect(first.backendChoice).toMatchObject({ prefer: null, envForced: null });
    expect(first.backendChoice!.backends.map((b) => b.name)).toEqual(['webgpu', 'tensorflow', 'wasm', 'cpu']);
    expect(entry(first, first.backend!.name).state).toBe('running');
    expect(first.backend!.reason).toMatch(/^best available/);

    // only a software adapter here (SwiftShader): not used by itself, offered, and it starts when chosen
    if (entry(first, 'webgpu').state === 'software') {
      const gpu = await call('app.setBackend', { prefer: 'webgpu' });
      expect(gpu.backend!.name).toBe('webgpu');
      expect(gpu.backend!.adapter!.software).toBe(true);
      expect(gpu.backend!.reason).toMatch(/^requested \(/);
      expect(entry(gpu, 'webgpu')).toMatchObject({ state: 'running', software: true });
      expect(saved()).toBe('webgpu');
    }

    // a backend that cannot start here: the previous one runs again, and the error says why
    const before = await call('app.info', {});
    if (entry(before, 'tensorflow').state === 'unavailable') {
      const r = await engine.service.call('app.setBackend', { prefer: 'tensorflow' });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatchObject({ code: 'unsupported', message: expect.stringMatching(new RegExp(`^tensorflow did not start: .*not installed.*; still on ${before.backend!.name}$`)) });
      const after = await call('app.info', {});
      expect(after.backend).toMatchObject({ name: before.backend!.name, reason: before.backend!.reason });
      expect(after.backendChoice!.prefer).toBe(before.backendChoice!.prefer);
      expect(saved()).toBe(before.backendChoice!.prefer ?? undefined);
    }

    const wasm = await call('app.setBackend', { prefer: 'wasm' });
    expect(wasm.backend).toMatchObject({ name: 'wasm', reason: expect.stringMatching(/^requested; /) });
    expect(wasm.backendChoice!.prefer).toBe('wasm');
    expect((await call('app.info', {})).backend).toEqual(wasm.backend);
    expect(saved()).toBe('wasm');

    // a job running: refused, nothing changes (the import runs in the worker; the switch is asked before its answer)
    await call('project.open', { name: 'switch' });
    const data = join(home, 'short.jsonl');
    writeFileSync(data, JSON.stringify({ question: 'What is 4 plus 5?', answer: 'Nine.' }) + '\n');
    await call('datasets.import', { path: data });
    const refused = await engine.service.call('app.setBackend', { prefer: 'cpu' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'conflict', message: expect.stringMatching(/^an import job is (running|queued): the backend cannot be switched under it; wait for it to finish \(or cancel it\), then switch$/) } });
    await engine.service.whenIdle();
    expect((await call('jobs.list', {}))[0]!.status).toBe('done');
    expect((await call('app.info', {})).backend).toEqual(wasm.backend);
    expect(saved()).toBe('wasm');

    // a new engine on the same home starts on the saved choice
    await engine.close();
    engine = await createEngine({ mode: 'browser', home });
    const again = await call('app.info', {});
    expect(again.backendChoice!.prefer).toBe('wasm');
    expect(again.backend).toMatchObject({ name: 'wasm', reason: expect.stringMatching(/^requested; /) });

    // back to automatic: the fastest backend found, saved as null
    const auto = await call('app.setBackend', { prefer: null });
    expect(auto.backendChoice!.prefer).toBeNull();
    expect(auto.backend!.name).toBe(first.backend!.name);
    expect(auto.backend!.reason).toMatch(/^best available/);
    expect(saved()).toBeNull();
  }, 300_000);

  it('is refused while WINNOW_BACKEND is set, which wins', async () => {
    process.env.WINNOW_BACKEND = 'cpu';
    try {
      const info = await call('app.info', {});
      expect(info.backendChoice!.envForced).toBe('cpu');
      const r = await engine!.service.call('app.setBackend', { prefer: 'wasm' });
      expect(r).toMatchObject({ ok: false, error: { code: 'conflict', message: expect.stringMatching(/^WINNOW_BACKEND=cpu is set and wins over the app's choice/) } });
      expect(saved()).toBeNull();
    } finally {
      delete process.env.WINNOW_BACKEND;
    }
  });

  it('reads a settings file it cannot use as automatic, naming the file and the field, and keeps its other fields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'winnow-settings-'));
    try {
      const file = join(dir, 'settings.json');
      writeFileSync(file, '{"backend": "metal", "theme": "dark"}');
      expect(readBackendSetting(dir)).toEqual({ prefer: null, problem: `${file}: field "backend" is "metal", not one of webgpu, tensorflow, wasm, cpu or null; the backend is chosen automatically` });
      writeBackendSetting(dir, 'cpu');
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ backend: 'cpu', theme: 'dark' });
      expect(readBackendSetting(dir)).toEqual({ prefer: 'cpu' });
      writeFileSync(file, '{"backend": ');
      expect(readBackendSetting(dir)).toMatchObject({ prefer: null, problem: expect.stringMatching(new RegExp(`^${file.replace(/[.]/g, '\\.')} is not valid JSON \\(`)) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
