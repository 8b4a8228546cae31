export { openProjectDb, type Db } from './open';
export { migrate, appliedVersions } from './migrate';
export { migrations, type Migration } from './migrations';
export * from './blobs';
export * from './datasets';
export * from './renders';
export * from './signals';
export * from './queryExamples';
export { columnHistogram, type HistogramQuery, type HistogramResult } from './histogram';
