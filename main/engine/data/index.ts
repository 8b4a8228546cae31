export * from './readers';
export * from './formats';
export * from './normalize';
export * from './render';
export { importDataset, type ImportOptions, type ImportResult } from './import';
export { renderDataset, type RenderDatasetOptions, type RenderDatasetResult } from './renderDataset';
export { previewImport, type ImportPreview, type PreviewOptions, type PreviewRow } from './preview';
export { computeDuplicates, minhash, wordHashes, NUM_PERM, type DuplicateOptions, type DuplicateResult } from './duplicates';
