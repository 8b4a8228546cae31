/** The bundle's file names, format and version, and the hashing its manifest uses (export/run.ts, export/bundle.ts). */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TRAIN_HF_FILES } from './train-hf';

export const WINNOW_VERSION = '0.1.0';
export const BUNDLE_FORMAT = 'winnow-bundle/1';

export const EXPORT_FILES = {
  subset: 'subset.jsonl',
  subsetMessages: 'subset.messages.jsonl',
  subsetMessagesParquet: 'subset.messages.parquet',
  /** one per source dataset: original rows keep their own columns */
  subsetRawParquetDir: 'subset_parquet',
  tokenMasks: 'token_masks.jsonl',
  tokenSpans: 'token_masks.spans.jsonl',
  layerMask: 'layer_mask.json',
  layerForms: 'layer_mask.forms.json',
  weights: 'model',
  scores: 'scores.csv',
  scoresParquet: 'scores.parquet',
  tokenScores: 'token_scores.jsonl',
  trl: 'train_trl.py',
  hf: TRAIN_HF_FILES.script,
  hfConfig: TRAIN_HF_FILES.config,
  accelerateFsdp: TRAIN_HF_FILES.fsdp,
  accelerateDeepspeed: TRAIN_HF_FILES.deepspeed,
  dsZero2: TRAIN_HF_FILES.zero2,
  axolotl: 'axolotl.yaml',
  llamafactory: 'llamafactory.yaml',
  llamafactoryData: 'dataset_info.json',
  readme: 'README.md',
  manifest: 'manifest.json',
} as const;

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}
