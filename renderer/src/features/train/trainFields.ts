/** The Train form's state as typed, what the URL pre-fills, and the train.start / train.estimate inputs it becomes. */
import type { ApiInput, ParamMaskInfo } from '../../../../preload/contract';
import { tokenPolicyInput, type TokenPolicyState } from '../../components/TokenPolicyFields';
import { LORA_TARGET_OPTIONS, loraTargets, type LoraTargetMode } from './lora';

export const num = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

/**
 * `#/train?layers=SPEC&model=ID[&paramMask=ID][&lora=TARGETS]` (from the Layers screen) pre-fills the form once, then
 * leaves the URL clean; `lora` turns LoRA on with those targets (a preset, or module names with commas).
 */
export function takeHashParams(): { layers: string | null; model: number | null; paramMask: number | null; lora: string | null } {
  const q = window.location.hash.split('?')[1];
  if (!q) return { layers: null, model: null, paramMask: null, lora: null };
  const params = new URLSearchParams(q);
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}#/train`);
  const id = (k: string) => {
    const n = Number(params.get(k));
    return Number.isInteger(n) && n > 0 ? n : null;
  };
  return { layers: params.get('layers'), model: id('model'), paramMask: id('paramMask'), lora: params.get('lora') };
}

/** Every field but the token policy (useTokenPolicy's); numbers stay text (as typed) until the form is sent. */
export interface TrainFields {
  modelId: number | null;
  subsetId: number | null;
  layerMode: 'last' | 'custom';
  lastN: string;
  layersText: string;
  steps: string;
  batchSize: string;
  lr: string;
  optimizer: 'adamw' | 'sgd';
  schedule: 'constant' | 'linear' | 'cosine';
  warmup: string;
  maxTokens: string;
  paramMaskId: number | null;
  gradAccum: string;
  weightDecay: string;
  clipNorm: string;
  dft: boolean;
  recordTrajectories: boolean;
  uds: boolean;
  udsKeep: string;
  evalEvery: string;
  evalPercent: string;
  checkpointEvery: string;
  seed: string;
  loraOn: boolean;
  loraRank: string;
  loraAlpha: string;
  loraDropout: string;
  loraRslora: boolean;
  loraTargetMode: LoraTargetMode;
  loraNames: string;
}

export type SetTrainFields = (patch: Partial<TrainFields>) => void;

/** The defaults, with what the URL gave. */
export function initialTrainFields(given: ReturnType<typeof takeHashParams>): TrainFields {
  const givenTargets: LoraTargetMode =
    given.lora === null || given.lora === '' ? '' : LORA_TARGET_OPTIONS.some(([v]) => v === given.lora && v !== 'names') ? (given.lora as LoraTargetMode) : 'names';
  return {
    modelId: given.model,
    subsetId: null,
    layerMode: given.layers ? 'custom' : 'last',
    lastN: '2',
    layersText: given.layers ?? 'all',
    steps: '50',
    batchSize: '4',
    lr: '0.001',
    optimizer: 'adamw',
    schedule: 'cosine',
    warmup: '0',
    maxTokens: '256',
    paramMaskId: given.paramMask,
    gradAccum: '1',
    weightDecay: '0',
    clipNorm: '1',
    dft: false,
    recordTrajectories: false,
    uds: false,
    udsKeep: '50',
    evalEvery: '10',
    evalPercent: '5',
    checkpointEvery: '20',
    seed: '0',
    loraOn: given.lora !== null,
    loraRank: '8',
    loraAlpha: '16',
    loraDropout: '0',
    loraRslora: false,
    loraTargetMode: givenTargets,
    loraNames: givenTargets === 'names' ? given.lora! : 'q_proj,v_proj',
  };
}

/** The lora block, or null with LoRA off; the blocks that carry adapters are the layer choice's (its tensors' blocks). */
export function loraOf(f: TrainFields) {
  const targets = loraTargets(f.loraTargetMode, f.loraNames);
  return f.loraOn ? { r: num(f.loraRank), alpha: num(f.loraAlpha), dropout: num(f.loraDropout), rslora: f.loraRslora, ...(targets ? { targets } : {}) } : null;
}
export type LoraBlock = ReturnType<typeof loraOf>;

export function loraIsValid(lora: LoraBlock): boolean {
  return !lora || (Number.isInteger(lora.r) && lora.r > 0 && lora.alpha > 0 && lora.dropout >= 0 && lora.dropout < 1);
}

/** What the run trains: the parameter mask (its scope replaces the layer choice) or the layer spec, and the LoRA block. */
export interface TrainTarget {
  modelId: number;
  layers: string;
  paramMask: ParamMaskInfo | null;
  lora: LoraBlock;
}

/** The train.estimate input, or null while a number it needs is not a whole number above 0 (or LoRA's are bad). */
export function estimateInput(f: TrainFields, t: TrainTarget | null): ApiInput<'train.estimate'> | null {
  const bs = num(f.batchSize);
  const mt = num(f.maxTokens);
  const ga = num(f.gradAccum);
  if (!t || !t.layers || !(Number.isInteger(bs) && bs > 0 && Number.isInteger(mt) && mt > 0 && Number.isInteger(ga) && ga > 0) || !loraIsValid(t.lora)) return null;
  return { modelId: t.modelId, layers: t.layers, batchSize: bs, maxTokens: mt, gradAccum: ga, ...(t.paramMask ? { paramMaskId: t.paramMask.id } : {}), ...(t.lora ? { lora: t.lora } : {}) };
}

export function trainStartInput(f: TrainFields, t: TrainTarget, datasetId: number | null, tokens: TokenPolicyState): ApiInput<'train.start'> {
  return {
    modelId: t.modelId,
    subsetId: f.subsetId,
    datasetId: datasetId ?? undefined,
    layers: t.layers,
    ...(t.paramMask ? { paramMaskId: t.paramMask.id } : {}),
    ...(t.lora ? { lora: t.lora } : {}),
    steps: num(f.steps),
    batchSize: num(f.batchSize),
    gradAccum: num(f.gradAccum),
    lr: num(f.lr),
    weightDecay: num(f.weightDecay),
    // empty = no clipping
    clipNorm: f.clipNorm.trim() === '' ? null : num(f.clipNorm),
    dftWeight: f.dft,
    recordTrajectories: f.recordTrajectories,
    // UDS: the best share of each micro-batch trains (buffer and λ at UDS's defaults)
    ...(f.uds ? { uds: { keep: num(f.udsKeep) / 100, bufferSize: 1024, lambda: 2.5e-3 } } : {}),
    evalEvery: num(f.evalEvery),
    evalFraction: num(f.evalPercent) / 100,
    checkpointEvery: num(f.checkpointEvery),
    seed: num(f.seed),
    optimizer: f.optimizer,
    schedule: f.schedule,
    warmupSteps: num(f.warmup),
    maxTokens: num(f.maxTokens),
    ...tokenPolicyInput(tokens),
  };
}
