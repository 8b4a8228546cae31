/**
 * Datasets: importing a file, mapping its records to messages, previewing and re-mapping a stored dataset.
 */
import { z } from 'zod';
import { id } from './common';

export interface DatasetInfo {
  id: number;
  name: string;
  sourcePath: string;
  format: string;
  rowCount: number;
  renderErrors: number;
  skipped: number;
}

const field = z.string().min(1).max(200);
/**
 * How a record's fields map to messages. Fields are the record's own keys or paths (`meta.text`, `instances[0].input`,
 * `instances[*].input`: one row per item; `$`: the record itself). `list`: which list of a JSON object holding several.
 * `labels`: a classification label verbaliser (label value → completion text). No `completion`: prompt-only rows.
 */
const list = {
  list: field.optional(),
  /** OpenAssistant message trees made into conversations: the best-ranked path per tree, or every path to a leaf */
  tree: z.object({
    policy: z.enum(['top1', 'all_paths']),
    lang: z.array(z.string().max(20)).max(100).optional(),
    deleted: z.boolean().optional(),
    synthetic: z.boolean().optional(),
    minReviews: z.number().int().min(0).optional(),
  }).optional(),
};
export const MappingSchema = z.discriminatedUnion('format', [
  z.object({ format: z.literal('messages'), field, ...list }),
  z.object({ format: z.literal('sharegpt'), field, ...list }),
  z.object({ format: z.literal('alpaca'), instruction: field, input: field.optional(), output: field, system: field.optional(), ...list }),
  z.object({
    format: z.literal('prompt_completion'), prompt: field, completion: field.optional(), system: field.optional(),
    labels: z.record(z.string().max(200), z.string().max(10_000)).optional(), ...list,
  }),
  z.object({ format: z.literal('question_answer'), question: field, answer: field, ...list }),
  z.object({ format: z.literal('text'), field, ...list }),
]);
export type DatasetMapping = z.infer<typeof MappingSchema>;

export interface DatasetPreview {
  fileFormat: string;
  format: DatasetMapping['format'];
  /** share of the sampled records the mapping accepts */
  confidence: number;
  mapping: DatasetMapping;
  /** fields seen in the sampled records */
  fields: string[];
  /** trained: the [start, end) character ranges of `rendered` the model learns from (the label mask) */
  rows: Array<{ line: number; rendered?: string; nTokens?: number; nLabel?: number; trained?: Array<[number, number]>; error?: string }>;
  /** no known format was recognised; `mapping` is a guess from the field names */
  guessed: boolean;
  /** with `guessed`: why detection recognised nothing (e.g. an OpenAssistant message tree), for the user to read */
  note?: string;
  /** how sure the choice of fields is: a known format's names (high), a guess from names and contents (medium, low) */
  certainty: 'high' | 'medium' | 'low';
  /** why these fields, in words */
  basis?: string;
  /** a mapping for each record format from the same fields: what the editor switches to */
  suggested: Partial<Record<DatasetMapping['format'], DatasetMapping>>;
  /** a JSON object holding several lists: their names (the mapping's `list` picks one) */
  lists?: string[];
  /** message trees: conversations each policy makes of the messages read (all of the file when `complete`) */
  trees?: { trees: number; messages: number; top1: number; allPaths: number; complete: boolean };
  /** previewing a new mapping for a stored dataset: what re-mapping it would invalidate */
  impact?: RemapImpact;
}

/** What re-mapping a stored dataset invalidates (`datasets.remap`; shown before confirming). */
export interface RemapImpact {
  rows: number;
  /** renders (token ids, label masks) deleted; the job renders again with the active model */
  renders: number;
  /** examples whose scores are deleted */
  scoredExamples: number;
  /** score runs that read the dataset: their values for it and their layer scores are deleted, the runs marked stale */
  scoreRuns: Array<{ id: number; signals: string[] }>;
  /** hand-edited token masks deleted */
  tokenMasks: number;
  /** subsets holding its rows: kept, marked stale */
  subsets: Array<{ id: number; name: string }>;
}

/** import / remap jobs: a file to import, a stored dataset to re-map, or only the search index to finish */
export const ImportJobParamsSchema = z.object({
  path: z.string().min(1).optional(),
  name: z.string().optional(),
  /** jsonl, json, csv, tsv, txt, parquet or arrow (data/readers FileFormat); absent: from the file's extension */
  format: z.string().optional(),
  mapping: MappingSchema.optional(),
  textMode: z.enum(['block', 'line']).optional(),
  skipMalformed: z.boolean().optional(),
  /** re-map this stored dataset with `mapping` instead of importing a file */
  remap: z.object({ datasetId: id, mapping: MappingSchema }).optional(),
  /** only finish the search index of datasets that are behind */
  textIndexOnly: z.boolean().optional(),
});

/** datasets.*: each call's input schema (composed into ApiInputs, index.ts). */
export const DatasetsInputs = {
  'datasets.import': z.object({
    path: z.string().min(1),
    /** how records map to messages; detected from the first records when absent */
    mapping: MappingSchema.optional(),
    textMode: z.enum(['block', 'line']).optional(),
    name: z.string().max(200).optional(),
    format: z.string().optional(),
    skipMalformed: z.boolean().default(false),
  }),
  /** a file before import (`path`), or a stored dataset under a new mapping (`datasetId`, from its stored rows) */
  'datasets.preview': z.object({
    path: z.string().min(1).optional(),
    datasetId: id.optional(),
    mapping: MappingSchema.optional(),
    textMode: z.enum(['block', 'line']).optional(),
  }),
  /** a file sent by the browser, saved under its own name; `stage`: saved only, for datasets.preview and datasets.import */
  'datasets.upload': z.object({
    fileName: z.string().min(1).max(255),
    content: z.string().max(256 * 1024 * 1024),
    skipMalformed: z.boolean().default(false),
    stage: z.boolean().default(false),
  }),
  /** change a stored dataset's mapping: a job re-maps every row, deletes what depended on the old messages, renders again */
  'datasets.remap': z.object({ datasetId: id, mapping: MappingSchema }),
  'datasets.renderErrors': z.object({ datasetId: id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(100) }),
  /** the records an import skipped as malformed (skip malformed lines): file line (JSON item, Parquet row) and why */
  'datasets.importSkips': z.object({ datasetId: id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(100) }),
  /** every dataset snapshot in the Hugging Face hub cache, its data files by split (import one with datasets.import) */
  'datasets.listCached': z.object({}),
} as const;

/** datasets.*: each call's output. */
export interface DatasetsOutputs {
  'datasets.import': { jobId: string };
  'datasets.preview': DatasetPreview;
  /** jobId: null when staged; path: where the file was saved (its name kept), for the preview and the import */
  'datasets.upload': { jobId: string | null; path: string; name: string };
  'datasets.remap': { jobId: string; impact: RemapImpact };
  'datasets.renderErrors': { total: number; rows: Array<{ rowIndex: number; reason: string }> };
  'datasets.importSkips': { total: number; rows: Array<{ line: number; reason: string }> };
  'datasets.listCached': Array<{ repo: string; refs: string[]; commit: string; dir: string; splits: Record<string, string[]> }>;
}
