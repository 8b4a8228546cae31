/**
 * The mapping step's preview: what the first records of a file become (messages or text, and the chat-template
 * rendering when a tokenizer is given) before anything is imported. Reads only the head of the file; no DB.
 */
import { basename } from 'node:path';
import type { ChatMessage, WinnowTokenizer } from '../models/types';
import { WinnowError } from '../util/errors';
import { detectFormat, isTextRecord, toMessages, type Mapping, type RecordFormat } from './formats';
import { expandedList, expandRecord } from './fields';
import { guessMapping, type Certainty } from './guess';
import { conversations, isMessageRow, isNestedTree, policyCounts, treeMessages } from './trees';
import { formatFromPath, positionName, readRecordBatches, type FileFormat, type RecordItem } from './readers';
import { renderExample, type LabelPolicy } from './render';
import type { Db } from '../db/open';
import { getDataset } from '../db/datasets';
import { firstStoredRecords } from '../db/examples';

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
  /** the parts of `rendered` trained on: [start, end) character ranges, in order, not touching */
  trained?: Array<[number, number]>;
  /** why this record cannot be imported (or rendered) as mapped */
  error?: string;
}

/** The character ranges of a render's trained tokens (label mask 1), neighbours merged: what the preview highlights. */
export function trainedRanges(offsets: Int32Array, labelMask: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < labelMask.length; i++) {
    if (labelMask[i] !== 1) continue;
    const start = offsets[2 * i]!;
    const end = offsets[2 * i + 1]!;
    if (end <= start) continue;
    const last = out[out.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
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
  /** how sure the choice of fields is (a known format's names: high; a guess from the contents: medium or low) */
  certainty: Certainty;
  /** why these fields, in words (absent for a mapping the user gave) */
  basis?: string;
  /** a mapping for each record format, from the same fields (the editor's choice when the format is switched) */
  suggested: Partial<Record<RecordFormat, Mapping>>;
  /** a JSON object holding several lists: their names (the mapping's `list` picks one; the first is shown by default) */
  lists?: string[];
  /** message trees: how many conversations each policy makes of the messages read (the whole file when `complete`) */
  trees?: { trees: number; messages: number; top1: number; allPaths: number; complete: boolean };
}

/** message-tree rows read for the preview: enough for whole trees (oasst trees run to a few hundred messages) */
const TREE_SAMPLE = 5000;

const SAMPLE = 200;

export async function previewImport(path: string, opts: PreviewOptions = {}, tok?: WinnowTokenizer): Promise<ImportPreview> {
  const file = basename(path);
  const fileFormat = opts.format ?? formatFromPath(path);
  const unit = positionName(path, fileFormat);
  const sample: RecordItem[] = [];
  const lists: string[] = [];
  const batches = readRecordBatches(path, { format: fileFormat, textMode: opts.textMode, list: opts.mapping?.list, lists });
  let complete = true;
  let limit = SAMPLE;
  try {
    for await (const batch of batches) {
      if (sample.length === 0 && (opts.mapping?.tree || (!opts.mapping && batch.slice(0, 20).some((b) => isMessageRow(b.record))))) limit = TREE_SAMPLE;
      sample.push(...batch.slice(0, limit - sample.length));
      if (sample.length >= limit) {
        complete = false;
        break;
      }
    }
  } finally {
    await batches.return(undefined);
  }
  if (sample.length === 0) throw new WinnowError('bad_input', `${file}: no records found`);
  const treeMapping = opts.mapping?.tree ? opts.mapping
    : !opts.mapping && sample.filter((s) => isMessageRow(s.record) || isNestedTree(s.record)).length * 2 >= sample.length
      ? detectFormat(sample.map((s) => s.record), file).mapping : undefined;
  if (treeMapping?.tree) {
    const msgs = treeMessages(sample);
    const convs = [...sample.filter((s) => !isMessageRow(s.record) && !isNestedTree(s.record)), ...conversations(msgs, treeMapping.tree)];
    if (convs.length === 0) throw new WinnowError('bad_input', `${file}: no conversations in the first ${sample.length} records under these filters`);
    const r = previewSample(convs, { file, unit, fileFormat, mapping: treeMapping, rows: opts.rows, labelPolicy: opts.labelPolicy }, tok);
    const { policy: _, ...filters } = treeMapping.tree;
    r.trees = { ...policyCounts(msgs, filters), complete };
    if (!opts.mapping) {
      r.basis = detectFormat(sample.map((s) => s.record), file).basis;
      r.suggested = { messages: treeMapping };
    }
    return r;
  }
  const r = previewSample(sample, { file, unit, fileFormat, mapping: opts.mapping, rows: opts.rows, labelPolicy: opts.labelPolicy }, tok);
  if (lists.length > 1) {
    const list = opts.mapping?.list ?? lists[0];
    r.lists = lists;
    if (!r.mapping.list) r.mapping = { ...r.mapping, list };
    for (const k of Object.keys(r.suggested) as RecordFormat[]) r.suggested[k] = { ...r.suggested[k]!, list };
  }
  return r;
}

/**
 * The mapping step for a dataset already in the project ("Edit mapping"): its first stored rows (not the source
 * file, which may have moved) under `mapping`, by default the dataset's current one. `line` is the 1-based row.
 */
export function previewDataset(db: Db, datasetId: number, opts: { mapping?: Mapping; rows?: number; labelPolicy?: LabelPolicy } = {}, tok?: WinnowTokenizer): ImportPreview {
  const ds = getDataset(db, datasetId);
  const raws = firstStoredRecords(db, datasetId, SAMPLE);
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
  let certainty: Certainty = 'high';
  let basis: string | undefined;
  if (opts.mapping) {
    mapping = opts.mapping;
    format = opts.mapping.format;
  } else {
    if (records.length === 0) throw new WinnowError('parse_error', `${file} ${unit} ${sample[0].line}: ${sample[0].error}`, { line: sample[0].line });
    try {
      ({ mapping, format, certainty, basis } = detectFormat(records, file));
    } catch (err) {
      // nothing recognisable: the preview still opens, on a guess from the fields' names and contents that the user
      // checks in the mapping step (every row says whether it fits)
      if (!(err instanceof WinnowError) || fields.size === 0) throw err;
      const guess = guessMapping(records);
      if (guess) ({ mapping, certainty, basis } = guess);
      else {
        const text = [...fields].find((f) => records.some((r) => typeof (r as Record<string, unknown> | null)?.[f] === 'string')) ?? [...fields][0];
        mapping = { format: 'text', field: text };
        certainty = 'low';
        basis = `no two fields read as a prompt and a response; "${text}" as plain text`;
      }
      format = mapping.format;
      guessed = true;
      note = err.message;
    }
  }
  const list = expandedList(mapping);

  let accepted = 0;
  const shown = opts.rows ?? 20;
  const rows: PreviewRow[] = [];
  for (const item of sample) {
    let made: unknown[] = [item.record];
    let expandError: string | undefined;
    if (item.error === undefined && list) {
      try {
        made = expandRecord(item.record, list, `${file} ${unit} ${item.line}`);
      } catch (err) {
        if (!(err instanceof WinnowError)) throw err;
        expandError = err.message;
      }
    }
    let fits = item.error === undefined && expandError === undefined;
    for (const record of made) {
      const row: PreviewRow = { line: item.line };
      if (item.error !== undefined || expandError !== undefined) row.error = item.error ?? expandError;
      else {
        try {
          const norm = toMessages(record, mapping, `${file} ${unit} ${item.line}`);
          if (isTextRecord(norm)) row.text = norm.text;
          else row.messages = norm;
          if (tok && rows.length < shown) {
            try {
              const r = renderExample(tok, norm, { labelPolicy: opts.labelPolicy ?? 'assistant' });
              row.rendered = r.text;
              row.nTokens = r.tokenIds.length;
              row.nLabel = r.labelMask.reduce((a, b) => a + b, 0);
              row.trained = trainedRanges(r.offsets, r.labelMask);
            } catch (err) {
              row.error = `cannot render: ${(err as Error).message}`;
            }
          }
        } catch (err) {
          if (!(err instanceof WinnowError)) throw err;
          row.error = err.message;
          fits = false;
        }
      }
      if (rows.length < shown) rows.push(row);
      if (item.error !== undefined || expandError !== undefined) break;
    }
    if (fits) accepted++;
  }
  for (const f of nestedFields(records)) fields.add(f);
  const suggested = suggestions(mapping, records);
  suggested[mapping.format] = mapping;
  return {
    fileFormat, format, confidence: accepted / sample.length, mapping, fields: [...fields], rows, guessed, ...(note ? { note } : {}),
    certainty, ...(basis ? { basis } : {}), suggested,
  };
}

/** Paths into nested records, for the mapping editor: `meta.source`, `instances[*].input`. */
function nestedFields(records: unknown[]): string[] {
  const out = new Set<string>();
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  for (const r of records.slice(0, 50)) {
    if (!isObj(r)) continue;
    for (const [k, v] of Object.entries(r)) {
      if (Array.isArray(v) && v.length && v.every(isObj)) {
        // turn lists (messages) are mapped whole; other lists of records are expanded
        if (v.every((m) => typeof m.role === 'string' || typeof m.from === 'string')) continue;
        for (const item of v) for (const ik of Object.keys(item)) out.add(`${k}[*].${ik}`);
      } else if (isObj(v)) for (const ik of Object.keys(v)) out.add(`${k}.${ik}`);
    }
  }
  return [...out];
}

/** A mapping for each format from the current one's fields (its prompt and response), else from a guess. */
function suggestions(m: Mapping, records: unknown[]): Partial<Record<RecordFormat, Mapping>> {
  const rec = m as unknown as Record<string, string | undefined>;
  let prompt = rec.prompt ?? rec.question ?? rec.instruction;
  let response = rec.completion ?? rec.answer ?? rec.output;
  if (!prompt || !response) {
    const g = guessMapping(records);
    const gr = g?.mapping as unknown as Record<string, string | undefined> | undefined;
    prompt ??= gr?.prompt ?? gr?.question ?? gr?.instruction;
    response ??= gr?.completion ?? gr?.answer ?? gr?.output;
  }
  const out: Partial<Record<RecordFormat, Mapping>> = {};
  if (m.format === 'messages' || m.format === 'sharegpt') {
    out.messages = { format: 'messages', field: m.field };
    out.sharegpt = { format: 'sharegpt', field: m.field };
  }
  const text = m.format === 'text' ? m.field : prompt;
  if (text) out.text = { format: 'text', field: text };
  if (prompt && response) {
    out.prompt_completion = { format: 'prompt_completion', prompt, completion: response };
    out.question_answer = { format: 'question_answer', question: prompt, answer: response };
    out.alpaca = { format: 'alpaca', instruction: prompt, output: response, ...(rec.input ? { input: rec.input } : {}) };
  }
  return out;
}
