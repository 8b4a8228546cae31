/** The Score form's state as typed, what the ticked signals need, and the scoring.start input it becomes. */
import { type ApiInput, type RowScope, SIGNALS } from '../../../../preload/contract';
import { LAYER_GRADIENT, NEEDS_HISTORY, NEEDS_REFERENCE, PER_EXAMPLE_GRADIENT } from '../../components/signals';

/** Everything but the signals; numbers stay text (as typed) until Score is pressed. */
export interface ScoreForm {
  modelId: number | null;
  refModelId: number | null;
  historyModelId: number | null;
  fimLoss: 'sum' | 'mean';
  batchSize: string;
  maxTokens: string;
  gradLayers: string;
  // empty: the engine's default, 1024 for grad_sim_base and LESS's 8192 for grad_sim
  gradDim: string;
  targetSubsetId: number | null;
  lessRunId: string;
  gamma: string;
  // which rows: all of the dataset, a subset's, or a seeded random sample
  rowsKind: RowScope['kind'];
  rowsSubsetId: number | null;
  sampleN: string;
  sampleSeed: string;
}

export type SetScoreForm = (patch: Partial<ScoreForm>) => void;

export function initialScoreForm(modelId: number | null): ScoreForm {
  return {
    modelId,
    refModelId: null,
    historyModelId: null,
    fimLoss: 'sum',
    batchSize: '8',
    maxTokens: '512',
    gradLayers: 'all',
    gradDim: '',
    targetSubsetId: null,
    lessRunId: '',
    gamma: '0.5',
    rowsKind: 'all',
    rowsSubsetId: null,
    sampleN: '500',
    sampleSeed: '0',
  };
}

/** Which extra inputs the ticked signals need. */
export function signalNeeds(signals: ReadonlySet<string>) {
  const any = (group: ReadonlySet<string>) => [...signals].some((s) => group.has(s));
  // grad_sim (LESS) and grad_sim_base both compare with a target set; LESS also reads a LoRA warm-up run
  const wantLess = signals.has('grad_sim');
  return {
    needsRef: any(NEEDS_REFERENCE),
    needsHistory: any(NEEDS_HISTORY),
    layerGrad: any(LAYER_GRADIENT),
    perExampleGrad: any(PER_EXAMPLE_GRADIENT),
    wantLess,
    wantSim: wantLess || signals.has('grad_sim_base'),
    wantSs: signals.has('sstoken'),
  };
}
export type SignalNeeds = ReturnType<typeof signalNeeds>;

/** The rows to score: undefined for all of them (and for a subset not yet chosen, which the Score button waits for). */
export function rowScope(f: ScoreForm): RowScope | undefined {
  return f.rowsKind === 'subset' && f.rowsSubsetId !== null
    ? { kind: 'subset', subsetId: f.rowsSubsetId }
    : f.rowsKind === 'sample'
      ? { kind: 'sample', n: Number(f.sampleN), seed: Number(f.sampleSeed) }
      : undefined;
}

/** The scoring.start input: each option only where a ticked signal uses it. */
export function scoreInput(f: ScoreForm, modelId: number, datasetId: number | null, signals: ReadonlySet<string>): ApiInput<'scoring.start'> {
  const { needsRef, needsHistory, perExampleGrad, wantLess, wantSim, wantSs } = signalNeeds(signals);
  const gradLayers = f.gradLayers.trim();
  return {
    modelId,
    datasetId: datasetId ?? undefined,
    signals: SIGNALS.filter((s) => signals.has(s)),
    refModelId: needsRef && f.refModelId !== null ? f.refModelId : undefined,
    historyModelId: needsHistory && f.historyModelId !== null ? f.historyModelId : undefined,
    fimLoss: f.fimLoss,
    batchSize: Number(f.batchSize),
    maxTokens: Number(f.maxTokens),
    gradLayers: perExampleGrad && gradLayers && gradLayers !== 'all' ? gradLayers : undefined,
    gradDim: wantSim && f.gradDim.trim() ? Number(f.gradDim) : undefined,
    targetSubsetId: wantSim && f.targetSubsetId !== null ? f.targetSubsetId : undefined,
    lessRunId: wantLess && f.lessRunId.trim() ? Number(f.lessRunId) : undefined,
    sstokenGamma: wantSs ? Number(f.gamma) : undefined,
    rows: rowScope(f),
  };
}

/** Rows from a subset wait until the subset is chosen. */
export function rowsReady(f: ScoreForm): boolean {
  return f.rowsKind !== 'subset' || f.rowsSubsetId !== null;
}
