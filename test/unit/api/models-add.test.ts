/**
 * Adding a model by a file inside its folder (model.safetensors, config.json, tokenizer.json) registers the folder,
 * through the API the UI and the CLI use (`models.add`); a path that does not exist, or a file whose folder is not a
 * model folder, is refused with a message naming the path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { modelFolderOf } from '../../../main/engine/api/models-registry';
import { STORIES } from '../models/tiny';
import type { ModelInfo, Result } from '../../../preload/contract';

const add = async (path: string) => (await service.call('models.add', { path })) as Result<ModelInfo>;

let home = '';
let service: EngineService;
let model = '';

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'winnow-models-add-'));
  service = new EngineService({ projectsDir: join(home, 'projects'), mode: 'browser', executor: new InProcessExecutor() });
  service.open('models');
  model = join(home, 'my model');
  cpSync(STORIES, model, { recursive: true });
});

afterAll(() => {
  service?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('models.add', () => {
  it('given model.safetensors, config.json or tokenizer.json, adds the folder (once)', async () => {
    const ids = new Set<number>();
    for (const file of ['model.safetensors', 'config.json', 'tokenizer.json']) {
      const r = await add(join(model, file));
      expect(r.ok, file).toBe(true);
      if (!r.ok) continue;
      expect(r.value.path).toBe(model);
      expect(r.value.name).toBe('my model');
      expect(r.value.numLayers).toBe(5);
      ids.add(r.value.id);
    }
    const byFolder = await add(model);
    expect(byFolder.ok && byFolder.value.id).toBe([...ids][0]);
    expect(ids.size).toBe(1);
  });

  it('a path that does not exist is refused naming it', async () => {
    const missing = join(home, 'nowhere', 'model.safetensors');
    const r = await add(missing);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('not_found');
      expect(r.error.message).toContain(missing);
    }
  });

  it("a file whose folder is no model folder is refused naming that folder's config.json", async () => {
    const dir = join(home, 'not a model');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    const r = await add(join(dir, 'notes.txt'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain(join(dir, 'config.json'));
  });

  it('modelFolderOf: a folder stays itself, a file gives its folder', () => {
    expect(modelFolderOf(model)).toBe(model);
    expect(modelFolderOf(join(model, 'model.safetensors'))).toBe(model);
    expect(modelFolderOf(join(model, '.', 'config.json'))).toBe(model);
  });
});
