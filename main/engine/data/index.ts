export * from './readers';
export * from './formats';
export * from './normalize';
export * from './render';
export { importDataset, type ImportOptions, type ImportResult } from './import';
export { renderDataset, type RenderDatasetOptions, type RenderDatasetResult } from './renderDataset';
