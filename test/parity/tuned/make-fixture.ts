/**
 * Writes test/fixtures/parity/tuned/ from Winnow's deterministic training (tuned.ts):
 *   base/   config.json, model.safetensors — the random base model
 *   full/   config.json, model.safetensors — the tuned model as Winnow saves it
 *   delta/  config.json, model.safetensors (changed tensors only), winnow_delta.json (base: "../base")
 *   inputs.json, train.json (the settings and backend it was made with)
 * Then run `/usr/bin/python3 test/parity/tuned/ref_tuned.py` for PyTorch's logits (expected.safetensors).
 * Usage: npx tsx test/parity/tuned/make-fixture.ts [cpu|wasm]
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../../../main/engine/compute/backend';
import { BASE_SEED, FIXTURE, INPUTS, ROWS, TRAIN, TUNED_CONFIG, trainTuned } from './tuned';

async function main(): Promise<void> {
  const backend = await initBackend((process.argv[2] as BackendName | undefined) ?? 'wasm');
  const run = await trainTuned();
  try {
    rmSync(FIXTURE, { recursive: true, force: true });
    const copy = (from: string, sub: string, files: string[]) => {
      mkdirSync(join(FIXTURE, sub), { recursive: true });
      for (const f of files) copyFileSync(join(from, f), join(FIXTURE, sub, f));
    };
    copy(run.base, 'base', ['config.json', 'model.safetensors']);
    copy(run.full, 'full', ['config.json', 'model.safetensors']);
    copy(run.delta, 'delta', ['config.json', 'model.safetensors']);
    // the committed delta names its base relative to itself, so the fixture folder can move
    const manifest = JSON.parse(readFileSync(join(run.delta, 'winnow_delta.json'), 'utf8')) as { base: { path: string } };
    manifest.base.path = '../base';
    writeFileSync(join(FIXTURE, 'delta', 'winnow_delta.json'), JSON.stringify(manifest, null, 2) + '\n');
    writeFileSync(join(FIXTURE, 'inputs.json'), JSON.stringify(INPUTS) + '\n');
    writeFileSync(join(FIXTURE, 'train.json'), JSON.stringify({ config: TUNED_CONFIG, baseSeed: BASE_SEED, rows: ROWS, train: TRAIN, backend: backend.name }, null, 2) + '\n');
    process.stdout.write(`wrote ${FIXTURE} (trained on ${backend.name}); changed tensors: ${(manifest as unknown as { tensors: string[] }).tensors.join(', ')}\n`);
  } finally {
    run.cleanup();
  }
}

void main();
