/**
 * Examples: the table of rows with their signals, one row's tokens and render, histograms of a column.
 */
import { z } from 'zod';
import { id, signalName } from './common';

export interface ExampleRow {
  id: number;
  datasetId: number;
  rowIndex: number;
  preview: string;
  nTokens: number | null;
  /** trainable tokens: the hand-edited mask's when the row has one (`edited`), else the template's */
  nLabel: number | null;
  /** the row has a hand-edited label mask on the render shown */
  edited?: boolean;
  signals: Record<string, number | null>;
}

export interface TokenView {
  id: number;
  text: string;
  start: number;
  end: number;
  role: 'system' | 'user' | 'assistant' | 'template';
  label: boolean;
}

/** The render (tokens) a view stands on: its render key (see db/renders.ts) and the score runs whose values are shown. */
export interface RenderInfo {
  renderKeyId: number;
  tokenizerId: string;
  templateHash: string;
  labelPolicy: string;
  /** null: no limit */
  maxTokens: number | null;
  /** version of Winnow's render code that made it */
  renderer: number;
  /** one line for people */
  description: string;
  /** the score runs whose token values are shown (empty: none scored this render) */
  scoreRunIds: number[];
}

export interface ExampleDetail {
  id: number;
  rowIndex: number;
  raw: unknown;
  messages: Array<{ role: string; content: string }> | null;
  renderedText: string;
  tokenizerId: string;
  /** the render the tokens, the label mask and the token values below stand on */
  render: RenderInfo;
  tokens: TokenView[];
  truncated: boolean;
  renderError: string | null;
  /** signal → one value per token (null where the position has no prediction, e.g. the first token) */
  tokenSignals: Record<string, Array<number | null>>;
  signals: Record<string, number | null>;
}

const QueryFilterSchema = z.object({
  column: signalName,
  min: z.number().optional(),
  max: z.number().optional(),
});

/** examples.query, examples.get, examples.histogram: each call's input schema (composed into ApiInputs, index.ts). */
export const ExamplesInputs = {
  'examples.query': z.object({
    datasetId: id.optional(),
    subsetId: id.optional(),
    sort: z.object({ column: signalName, dir: z.enum(['asc', 'desc']) }).optional(),
    filters: z.array(QueryFilterSchema).max(32).default([]),
    text: z.string().max(500).optional(),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(100),
  }),
  'examples.get': z.object({ exampleId: id, modelId: id.optional() }),
  'examples.histogram': z.object({
    datasetId: id.optional(),
    subsetId: id.optional(),
    column: signalName,
    bins: z.number().int().min(1).max(1000).default(30),
    filters: z.array(QueryFilterSchema).max(32).default([]),
    text: z.string().max(500).optional(),
  }),
} as const;

/** examples.query, examples.get, examples.histogram: each call's output. */
export interface ExamplesOutputs {
  /** textPending: with a text filter, rows in scope not yet in the search index (it is built after an import) */
  'examples.query': { total: number; rows: ExampleRow[]; columns: string[]; textPending?: number };
  'examples.get': ExampleDetail;
  'examples.histogram': { min: number | null; max: number | null; counts: number[]; total: number; nulls: number };
}
