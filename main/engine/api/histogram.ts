/**
 * Column histograms for the Examples table (`examples.histogram`). They live in the store (db/histogram.ts), next to
 * the table query whose scope they mirror, where they can be answered from a column's index. The service's version
 * lets other calls run between its statements (the table asks for one per column as it opens).
 */
export { columnHistogramYielding as columnHistogram, type HistogramQuery, type HistogramResult } from '../db/histogram';
