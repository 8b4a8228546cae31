/**
 * A bundle's README.md names only files the bundle has, whatever parts were asked for; the trainer configs
 * (train_trl.py, axolotl.yaml, llamafactory.yaml, dataset_info.json) come with the files they read (token_masks.jsonl,
 * subset.messages.jsonl), so asking for configs alone gives a bundle that trains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { initBackend } from '../../../main/engine/compute/backend';
import { exportParts } from '../../../main/engine/export/run';
import type { ExportRequest } from '../../../preload/contract';
import { serviceCalls } from '../../support/engine';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');
let home = '';
let service: EngineService;
let modelId = 0;
let subsetId = 0;
let layerMaskId = 0;

const { call, finished } = serviceCalls(() => service);

/** Names in backticks that look like a bundle file (a name with a known extension, or a path inside the bundle). */
/** what the bundle's trainers write when they run (named as their outputs), not files of the bundle */
const TRAINER_OUTPUTS = new Set(['hf-out/', 'winnow_delta.json']);

function namedFiles(readme: string): string[] {
  const names = [...readme.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!);
  return [...new Set(names.filter((n) => /^[\w.-]+(\/[\w.-]+)*\/?$/.test(n) && /(\.(jsonl|json|py|yaml|yml|parquet|csv|md|safetensors)|\/)$/.test(n)))];
}

beforeAll(async () => {
  await initBackend();
  home = mkdtempSync(join(tmpdir(), 'winnow-readme-files-'));
  service = new EngineService({ projectsDir: join(home, 'projects'), mode: 'browser', executor: new InProcessExecutor() });
  service.open('readme');
  modelId = (await call('project.open', {})).models[0]!.id;
  const data = join(home, 'rows.jsonl');
  writeFileSync(data, readFileSync(FIXTURE, 'utf8').trim().split('\n').slice(0, 8).join('\n') + '\n');
  const { jobId } = await call('datasets.import', { path: data });
  const datasetId = Number((await finished(jobId)).stats.datasetId);
  subsetId = (await call('subsets.create', { name: 'rows', rule: { kind: 'all' }, datasetId })).id;
  layerMaskId = (await call('layerMasks.save', { name: 'last one', modelId, layers: 'last:1' })).id;
}, 300_000);

afterAll(() => {
  service?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("the bundle's README names only what the bundle has", () => {
  const combos: Array<ExportRequest['what']> = [
    ['configs'], ['token_masks'], ['subset'], ['scores'], ['layer_mask'], ['layer_mask', 'configs'], ['token_masks', 'layer_mask'],
    ['subset', 'token_masks', 'layer_mask', 'scores', 'configs'],
  ];
  for (const what of combos) {
    it(what.join(' + '), async () => {
      const outDir = join(home, 'out', what.join('-'));
      const { jobId } = await call('export.start', { outDir, subsetId, modelId, layerMaskId: what.includes('layer_mask') ? layerMaskId : undefined, what });
      await finished(jobId);
      const readme = readFileSync(join(outDir, 'README.md'), 'utf8');
      const named = namedFiles(readme);
      expect(named).toContain('manifest.json');
      for (const f of named) if (!TRAINER_OUTPUTS.has(f)) expect(existsSync(join(outDir, f)), `README.md names ${f}`).toBe(true);
      const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as { files: Record<string, string>; request: ExportRequest };
      for (const f of Object.keys(manifest.files)) if (f !== 'README.md' && f !== 'manifest.json' && !f.startsWith('subset_parquet/')) expect(named, `README.md lists ${f}`).toContain(f);
      if (what.includes('configs')) {
        for (const f of ['train_trl.py', 'axolotl.yaml', 'llamafactory.yaml', 'dataset_info.json', 'token_masks.jsonl', 'subset.messages.jsonl']) {
          expect(existsSync(join(outDir, f)), f).toBe(true);
          expect(readme).toContain(`\`${f}\``);
        }
        expect(manifest.request.what).toEqual(expect.arrayContaining(['subset', 'token_masks', 'configs']));
      } else {
        for (const f of ['train_trl.py', 'axolotl.yaml', 'llamafactory.yaml']) expect(readme, f).not.toContain(f);
      }
    }, 120_000);
  }

  it('configs bring the files they read; other parts are left as asked', () => {
    expect(exportParts(['configs'])).toEqual(['token_masks', 'subset', 'configs']);
    expect(exportParts(['scores', 'configs', 'subset'])).toEqual(['token_masks', 'scores', 'configs', 'subset']);
    expect(exportParts(['scores'])).toEqual(['scores']);
  });
});
