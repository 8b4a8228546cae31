/**
 * The one API contract between the renderer and the engine host.
 *
 * Every call is `name → (input) → Result<output>`; every push is an `EngineEvent`. The engine service implements the
 * calls (main/engine/api), main registers IPC handlers for them, the preload bridge and the browser-mode WebSocket
 * client both satisfy `WinnowApi`, and the renderer talks only through it. Inputs are validated here with zod at the
 * boundary; errors travel as values, never as thrown strings.
 *
 * The calls are declared per API domain, one file each in this folder (datasets.ts: `datasets.*`, training.ts:
 * `train.*`, …): its value types, its input schemas (`<Domain>Inputs`) and its outputs (`<Domain>Outputs`), with the
 * params schema of each job kind it starts (jobs.ts gathers them in `JobParamsSchemas`). This file composes them into
 * `ApiInputs`, `ApiOutputs` and `WinnowApi`, and re-exports everything: import the contract from this index only.
 *
 * The contract is imported by Node code and by the renderer, so it must import nothing but zod.
 */
import type { z } from 'zod';
import type { Result } from './common';
import type { EngineEvent } from './events';
import { DatasetsInputs, type DatasetsOutputs } from './datasets';
import { EvalInputs, type EvalOutputs } from './eval';
import { ExamplesInputs, type ExamplesOutputs } from './examples';
import { ExportInputs, type ExportOutputs } from './export';
import { HousekeepingInputs, type HousekeepingOutputs } from './housekeeping';
import { JobsInputs, type JobsOutputs } from './jobs';
import { LayersInputs, type LayersOutputs } from './layers';
import { MapInputs, type MapOutputs } from './map';
import { MasksInputs, type MasksOutputs } from './masks';
import { ModelsInputs, type ModelsOutputs } from './models';
import { ProjectInputs, type ProjectOutputs } from './project';
import { ScoringInputs, type ScoringOutputs } from './scoring';
import { SubsetsInputs, type SubsetsOutputs } from './subsets';
import { TrainingInputs, type TrainingOutputs } from './training';

export * from './common';
export * from './signals';
export * from './project';
export * from './datasets';
export * from './models';
export * from './examples';
export * from './map';
export * from './scoring';
export * from './subsets';
export * from './layers';
export * from './masks';
export * from './training';
export * from './eval';
export * from './export';
export * from './jobs';
export * from './housekeeping';
export * from './events';

/** Every call: its input schema. The output type lives in `ApiOutputs`. */
export const ApiInputs = {
  ...ProjectInputs,
  ...DatasetsInputs,
  ...ModelsInputs,
  ...ExamplesInputs,
  ...MapInputs,
  ...ScoringInputs,
  ...SubsetsInputs,
  ...LayersInputs,
  ...MasksInputs,
  ...TrainingInputs,
  ...EvalInputs,
  ...ExportInputs,
  ...JobsInputs,
  ...HousekeepingInputs,
} as const;

export type ApiName = keyof typeof ApiInputs;
export type ApiInput<N extends ApiName> = z.input<(typeof ApiInputs)[N]>;
export type ApiParsedInput<N extends ApiName> = z.output<(typeof ApiInputs)[N]>;

/** Every call: its output. */
export interface ApiOutputs
  extends ProjectOutputs,
    DatasetsOutputs,
    ModelsOutputs,
    ExamplesOutputs,
    MapOutputs,
    ScoringOutputs,
    SubsetsOutputs,
    LayersOutputs,
    MasksOutputs,
    TrainingOutputs,
    EvalOutputs,
    ExportOutputs,
    JobsOutputs,
    HousekeepingOutputs {}

// ---------- the API object every transport provides ----------

export type WinnowApi = {
  call<N extends ApiName>(name: N, input: ApiInput<N>): Promise<Result<ApiOutputs[N]>>;
  /** subscribe to pushed events; returns an unsubscribe function */
  onEvent(listener: (event: EngineEvent) => void): () => void;
  /** native file dialog (Electron only; browser mode imports by path or upload) */
  pickFile?(): Promise<string | null>;
};

export function isApiName(name: unknown): name is ApiName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(ApiInputs, name);
}

/** Validate a call's input at a boundary. Returns the parsed input, or an error value naming the field. */
export function parseInput<N extends ApiName>(name: N, input: unknown): Result<ApiParsedInput<N>> {
  const schema = ApiInputs[name];
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return { ok: true, value: parsed.data as ApiParsedInput<N> };
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length ? issue.path.join('.') : '(input)';
  return { ok: false, error: { code: 'bad_input', message: `${name}: field "${field}": ${issue?.message ?? 'invalid'}` } };
}
