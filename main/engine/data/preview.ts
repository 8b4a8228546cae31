/**
 * The mapping step's preview: what the first records of a file become (messages or text, and the chat-template
 * rendering when a tokenizer is given) before anything is imported. Reads only the head of the file; no DB.
 */
import { basename } from 'node:path';
import type { ChatMessage, WinnowTokenizer } from '../models/types';
import { WinnowError } from '../util/errors';
import { detectFormat, isTextRecord, toMessages, type Mapping, type RecordFormat } from './formats';
import { formatFromPath, positionName, readRecordBatches, type FileFormat, type RecordItem } from './readers';
import { renderExample, type LabelPolicy } from './render';
import type { Db } from '../db/open';
import { getDataset } from '../db/datasets';

export interface PreviewOptions {
  /** file format; from the extension by default */
  format?: FileFormat;
  /** record mapping; detected from the first records by default */
  mapping?: Mapping;
  textMode?: 'block' | 'line';
  /** rows shown (default 20) */
  rows?: number;
  labelPolicy?: LabelPolicy;
}

export interface PreviewRow {
  /** line (or JSON item / Parquet row) number in the file */
  line: number;
  messages?: ChatMessage[];
  text?: string;
  /** the text the model sees: the chat template's output, or the text itself */
  rendered?: string;
  nTokens?: number;
  /** tokens the model learns from under the label policy */
  nLabel?: number;
  /** why this record cannot be imported (or rendered) as mapped */
  error?: string;
}

export interface ImportPreview {
  fileFormat: FileFormat;
  format: RecordFormat;
  /** share of the sampled records (up to 200) the mapping accepts */
  confidence: number;
  mapping: Mapping;
  /** fields seen in the sampled records, for building a mapping by hand */
  fields: string[];
  rows: PreviewRow[];
  /** no known format was recognised: `mapping` is a first guess from the field names, to be checked */
  guessed: boolean;
  /** with `guessed`: what detection said */
  note?: string;
}

const SAMPLE = 200;

export async function previewImport(path: string, opts: PreviewOptions = {}, tok?: WinnowTokenizer): Promise<ImportPreview> {
  const file = basename(path);
  const fileFormat = opts.format ?? formatFromPath(path);
  const unit = positionName(path, fileFormat);
  const sample: RecordItem[] = [];
  const batches = readRecordBatches(path, { format: fileFormat, textMode: opts.textMode });
  try {
    for await (const batch of batches) {
      sample.push(...batch.slice(0, SAMPLE - sample.length));
      if (sample.length >= SAMPLE) break;
    }
  } finally {
    await batches.return(undefined);
  }
  if (sample.length === 0) throw new WinnowError('bad_input', `${file}: no records found`);
  return previewSample(sample, { file, unit, fileFormat, mapping: opts.mapping, rows: opts.rows, labelPolicy: opts.labelPolicy }, tok);
}

/**
 * The mapping step for a dataset already in the project ("Edit mapping"): its first stored rows (not the source
 * file, which may have moved) under `mapping`, by default the dataset's current one. `line` is the 1-based row.
 */
export function previewDataset(db: Db, datasetId: number, opts: { mapping?: Mapping; rows?: number; labelPolicy?: LabelPolicy } = {}, tok?: WinnowTokenizer): ImportPreview {
  const ds = getDataset(db, datasetId);
  const raws = db.prepare('SELECT row_index AS rowIndex, raw_json AS raw FROM examples WHERE dataset_id = ? ORDER BY row_index LIMIT ?')
    .all(datasetId, SAMPLE) as Array<{ rowIndex: number; raw: string }>;
  if (raws.length === 0) throw new WinnowError('bad_input', `dataset "${ds.name}" has no rows`);
  const sample: RecordItem[] = raws.map((r) => ({ line: r.rowIndex + 1, record: JSON.parse(r.raw) }));
  const fileFormat = (ds.format.includes(':') ? ds.format.slice(0, ds.format.indexOf(':')) : ds.format) as FileFormat;
  return previewSample(sample, { file: ds.name, unit: 'row', fileFormat, mapping: opts.mapping ?? (ds.mapping as Mapping), rows: opts.rows, labelPolicy: opts.labelPolicy }, tok);
}

function previewSample(
  sample: RecordItem[],
  opts: { file: string; unit: string; fileFormat: FileFormat; mapping?: Mapping; rows?: number; labelPolicy?: LabelPolicy },
  tok?: WinnowTokenizer,
): ImportPreview {
  const { file, unit, fileFormat } = opts;
  const records = sample.filter((s) => s.error === undefined).map((s) => s.record);
  const fields = new Set<string>();
  for (const r of records.slice(0, 50)) {
    if (r !== null && typeof r === 'object' && !Array.isArray(r)) Object.keys(r).forEach((k) => fields.add(k));
  }

  let mapping: Mapping;
  let format: RecordFormat;
  let guessed = false;
  let note: string | undefined;
  if (opts.mapping) {
    mapping = opts.mapping;
    format = opts.mapping.format;
  } else {
    if (records.length === 0) throw new WinnowError('parse_error', `${file} ${unit} ${sample[0].line}: ${sample[0].error}`, { line: sample[0].line });
    try {
      ({ mapping, format } = detectFormat(records, file));
    } catch (err) {
      // nothing recognisable: the preview still opens, on a first guess the user corrects in the mapping step
      // (every row then says why it does not fit, and confidence is 0)
      if (!(err instanceof WinnowError) || fields.size === 0) throw err;
      // ids and numbers make poor guesses: fields holding text come first, and a field named like text is taken as text
      const text = [...fields].filter((f) => records.some((r) => typeof (r as Record<string, unknown> | null)?.[f] === 'string'));
      const [a, b] = text.length ? text : [...fields];
      const named = text.find((f) => /^(text|content|document)$/i.test(f));
      mapping = named ? { format: 'text', field: named }
        : b !== undefined ? { format: 'question_answer', question: a!, answer: b } : { format: 'text', field: a! };
      format = mapping.format;
      guessed = true;
      note = err.message;
    }
  }

  let accepted = 0;
  const shown = opts.rows ?? 20;
  const rows: PreviewRow[] = [];
  for (const item of sample) {
    const row: PreviewRow = { line: item.line };
    if (item.error !== undefined) row.error = item.error;
    else {
      try {
        const norm = toMessages(item.record, mapping, `${file} ${unit} ${item.line}`);
        accepted++;
        if (isTextRecord(norm)) row.text = norm.text;
        else row.messages = norm;
        if (tok && rows.length < shown) {
          try {
            const r = renderExample(tok, norm, { labelPolicy: opts.labelPolicy ?? 'assistant' });
            row.rendered = r.text;
            row.nTokens = r.tokenIds.length;
            row.nLabel = r.labelMask.reduce((a, b) => a + b, 0);
          } catch (err) {
            row.error = `cannot render: ${(err as Error).message}`;
          }
        }
      } catch (err) {
        if (!(err instanceof WinnowError)) throw err;
        row.error = err.message;
      }
    }
    if (rows.length < shown) rows.push(row);
  }
  return { fileFormat, format, confidence: accepted / sample.length, mapping, fields: [...fields], rows, guessed, ...(note ? { note } : {}) };
}
