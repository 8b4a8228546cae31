export * from './types';
export { loadModel, disposeModel, saveModel, type LoadedModel, type LoadModelOptions, type SaveModelOptions } from './model';
export { embed, runBlocks, finalNorm, lmHead, headWeight, forward, forwardWithHidden, greedyGenerate, type Weights } from './forward';
export { listTensors, classifyTensor } from './tensors';
export { readModelConfig } from './config';
