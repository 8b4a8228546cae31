/**
 * The CPU half of an import: a data file's records detected, mapped and reduced to what the examples table stores
 * (the record's JSON text and the character count), in batches. No database here, so it runs
 * the same in the importing thread or in a worker (parse-worker.ts) while the importing thread writes.
 */
import { basename } from 'node:path';
import { WinnowError } from '../util/errors';
import { formatFromPath, positionName, readRecordBatches, type FileFormat, type RecordItem } from './readers';
import { detectFormat, toMessages, type Mapping } from './formats';
import { expandedList, expandRecord } from './fields';
import { treeRecords } from './trees';
import { charCount } from './normalize';

export interface ParseOptions {
  format?: FileFormat;
  /** record mapping; detected from the first records by default */
  mapping?: Mapping;
  textMode?: 'block' | 'line';
  /**
   * plain JSONL read in pieces (by several workers): the lines starting in [start, end). Lines are numbered within
   * the piece; where a reason names one, it is marked (see markLine) for the reader of all pieces to renumber.
   */
  range?: { start: number; end: number };
}

/** A line number inside a piece of a file, in a message: `fixLines` makes it the file's line number. */
const markLine = (n: number) => `\u0001${n}\u0002`;

/** Message text with marked piece line numbers turned into file line numbers (`offset` lines come before the piece). */
export function fixLines(text: string, offset: number): string {
  return text.includes('\u0001') ? text.replace(/\u0001(\d+)\u0002/g, (_, n: string) => String(Number(n) + offset)) : text;
}

/**
 * Rows in file order: each row's record JSON as UTF-8 in one buffer (row i is bytes ends[i-1]..ends[i]; one buffer
 * crosses between threads without a copy and binds to SQLite without re-encoding), its source line and character
 * count. `bad` are the records that are malformed (reason as the reader gives it) or do not fit the mapping (reason
 * naming file, line and field).
 */
export interface ParsedBatch {
  lines: number[];
  raw: Uint8Array;
  ends: number[];
  nChars: number[];
  bad: Array<{ line: number; reason: string; raw: string | null }>;
}

/** A batch's rows as strings (tests, small callers). */
export function batchRaws(b: ParsedBatch): string[] {
  const buf = Buffer.from(b.raw.buffer, b.raw.byteOffset, b.raw.byteLength);
  return b.ends.map((end, i) => buf.toString('utf8', i ? b.ends[i - 1] : 0, end));
}

export interface ParsedSource {
  mapping: Mapping;
  /** e.g. `question_answer` */
  recordFormat: string;
  batches: AsyncGenerator<ParsedBatch>;
  /** lines read, blank ones included (known once `batches` has ended) */
  lineCount(): number;
}

const DETECT_SAMPLE = 200;
/** rows per batch: big enough that per-batch costs (an await, a message between threads) vanish */
const BATCH_ROWS = 4000;

/** Opens the file, reads enough records to detect the mapping (unless given), and streams mapped batches. */
export async function parseFile(path: string, opts: ParseOptions = {}): Promise<ParsedSource> {
  const file = basename(path);
  const format = opts.format ?? formatFromPath(path);
  const unit = positionName(path, format);
  const counted = { lines: 0 };
  const range = opts.range ? { from: Math.max(0, opts.range.start - 1), start: opts.range.start, end: opts.range.end, counted } : undefined;
  const items = readRecordBatches(path, { format, textMode: opts.textMode, range, list: opts.mapping?.list });
  // a piece after the first cannot know its lines' numbers in the file
  const lineName = range && range.start > 0 ? markLine : (n: number) => String(n);
  // detection needs a sample first; its batches are replayed below
  const head: RecordItem[][] = [];
  let nHead = 0;
  let ended = false;
  let mapping: Mapping;
  let recordFormat: string;
  try {
    while (nHead < DETECT_SAMPLE) {
      const next = await items.next();
      if (next.done) { ended = true; break; }
      head.push(next.value);
      nHead += next.value.length;
    }
    const sample = head.flat().slice(0, DETECT_SAMPLE);
    // a piece after the first may hold no line start at all (inside one very long line)
    if (sample.length === 0 && !(range && range.start > 0)) throw new WinnowError('bad_input', `${file}: no records found`);
    if (opts.mapping) {
      mapping = opts.mapping;
      recordFormat = opts.mapping.format;
    } else {
      const records = sample.filter((h) => h.error === undefined).map((h) => h.record);
      if (records.length === 0) throw new WinnowError('parse_error', `${file} ${unit} ${lineName(sample[0].line)}: ${sample[0].error}`, { line: sample[0].line });
      const d = detectFormat(records, file);
      mapping = d.mapping;
      recordFormat = d.format;
    }
  } catch (err) {
    await items.return(undefined); // close the file
    throw err;
  }

  async function* all(): AsyncGenerator<RecordItem[]> {
    yield* head;
    if (!ended) yield* items;
  }
  // message trees: conversations instead of messages (rows of one tree are gathered: see trees.ts)
  const source = mapping.tree ? () => treeRecords(all(), mapping.tree!) : all;

  const list = expandedList(mapping);

  async function* batches(): AsyncGenerator<ParsedBatch> {
    let out = { lines: [] as number[], raws: [] as Uint8Array[], nChars: [] as number[], bad: [] as ParsedBatch['bad'] };
    const pack = (): ParsedBatch => {
      let total = 0;
      for (const r of out.raws) total += r.byteLength;
      // not from Buffer's shared pool: the whole ArrayBuffer is handed to the importing thread
      const raw = new Uint8Array(total);
      const ends: number[] = new Array(out.raws.length);
      let at = 0;
      out.raws.forEach((r, i) => { raw.set(r, at); at += r.byteLength; ends[i] = at; });
      return { lines: out.lines, raw, ends, nChars: out.nChars, bad: out.bad };
    };
    try {
      for await (const chunk of source()) {
        for (const item of chunk) {
          if (item.error !== undefined) {
            out.bad.push({ line: item.line, reason: item.error, raw: item.raw ?? null });
            continue;
          }
          const where = `${file} ${unit} ${lineName(item.line)}`;
          let records: unknown[];
          try {
            records = list ? expandRecord(item.record, list, where) : [item.record];
          } catch (err) {
            if (!(err instanceof WinnowError)) throw err;
            out.bad.push({ line: item.line, reason: err.message, raw: item.raw ?? JSON.stringify(item.record) });
            continue;
          }
          for (const record of records) {
            let norm;
            try {
              norm = toMessages(record, mapping, where);
            } catch (err) {
              if (!(err instanceof WinnowError)) throw err;
              out.bad.push({ line: item.line, reason: err.message, raw: item.raw ?? JSON.stringify(item.record) });
              continue;
            }
            out.lines.push(item.line);
            // the stored row is the record's own JSON: the messages follow from it and the mapping (never stored twice);
            // the bytes as read unless decoding replaced invalid UTF-8 (then the text as decoded); an expanded row is
            // the parent holding its one item
            const raw = records.length > 1 || record !== item.record ? JSON.stringify(record) : item.raw ?? JSON.stringify(item.record);
            out.raws.push(item.rawBytes && records.length === 1 && record === item.record && !raw.includes('\uFFFD') ? item.rawBytes : Buffer.from(raw, 'utf8'));
            out.nChars.push(charCount(norm));
          }
        }
        if (out.lines.length + out.bad.length >= BATCH_ROWS) {
          yield pack();
          out = { lines: [], raws: [], nChars: [], bad: [] };
        }
      }
      if (out.lines.length + out.bad.length > 0) yield pack();
    } finally {
      await items.return(undefined);
    }
  }

  return { mapping, recordFormat, batches: batches(), lineCount: () => counted.lines };
}
