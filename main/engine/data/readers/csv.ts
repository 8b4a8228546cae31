import type { Readable } from 'node:stream';
import type { RecordItem } from './types';
import { checkNotUtf16 } from './source';

export interface CsvRow {
  /** 1-based line where the row starts */
  line: number;
  fields: string[];
  error?: string;
}

const QUOTE = 34;
const CR = 13;
const LF = 10;

/**
 * Streaming RFC 4180 parser: quoted fields may hold the delimiter, newlines and doubled quotes ("").
 * A quote inside an unquoted field is kept literally (common in the wild); text after a closing quote
 * other than a delimiter or newline makes the row malformed — except in TSV, where quoting is optional and a field
 * like `"Hello" she said` is common: there a quoted part on one line followed by more text is kept as written.
 * Accepts \n, \r\n and lone \r line ends.
 */
export async function* parseCsvRows(stream: Readable, delimiter: string): AsyncGenerator<CsvRow> {
  const delim = delimiter.charCodeAt(0);
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let afterQuote = false; // just saw a quote while in a quoted field: either "" or the closing quote
  let fieldStarted = false; // current field has content or was quoted
  let quoted = false;
  let quoteLine = 0; // line where the current quoted field opened
  const literalQuotes = delimiter === '\t';
  let error: string | undefined;
  let line = 1;
  let rowLine = 1;
  let skipLf = false;
  let first = true;

  const endField = () => { fields.push(field); field = ''; fieldStarted = false; quoted = false; };
  const endRow = (): CsvRow => {
    endField();
    const row: CsvRow = { line: rowLine, fields, error };
    fields = []; error = undefined;
    return row;
  };

  for await (let chunk of stream as AsyncIterable<string>) {
    if (first) { checkNotUtf16(chunk.slice(0, 4)); chunk = chunk.replace(/^\uFEFF/, ''); first = false; }
    let runStart = -1; // start of a run of ordinary characters, appended in one slice
    const flush = (i: number) => { if (runStart >= 0) { field += chunk.slice(runStart, i); runStart = -1; } };
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (skipLf) { skipLf = false; if (c === LF) continue; }
      if (inQuotes) {
        if (afterQuote) {
          afterQuote = false;
          if (c === QUOTE) { field += '"'; continue; }
          inQuotes = false; // the previous quote closed the field; fall through to the unquoted handling
        } else if (c === QUOTE) { flush(i); afterQuote = true; continue; } else {
          if (c === LF || (c === CR)) line++;
          if (c === CR && chunk.charCodeAt(i + 1) === LF) { if (runStart < 0) runStart = i; i++; continue; }
          if (runStart < 0) runStart = i;
          continue;
        }
      }
      if (c === delim) { flush(i); endField(); continue; }
      if (c === LF || c === CR) {
        flush(i);
        if (c === CR) skipLf = true;
        line++;
        yield endRow();
        rowLine = line;
        continue;
      }
      if (c === QUOTE && !fieldStarted) { flush(i); inQuotes = true; quoted = true; quoteLine = line; fieldStarted = true; continue; }
      if (quoted && literalQuotes && line === quoteLine) {
        // the quotes were part of the text: put them back (inside quotes the only change made was "" → ")
        field = `"${field.replace(/"/g, '""')}"`;
        quoted = false;
      }
      if (quoted && error === undefined) error = `text after a closing quote in field ${fields.length + 1}`;
      fieldStarted = true;
      if (runStart < 0) runStart = i;
    }
    flush(chunk.length);
  }
  if (inQuotes && !afterQuote) {
    yield { line: rowLine, fields: [...fields, field], error: `unterminated quoted field starting on line ${rowLine}` };
    return;
  }
  if (fieldStarted || fields.length > 0 || field !== '') yield endRow();
}

/** CSV/TSV with a header row: each row becomes an object keyed by the header. */
export async function* readCsvItems(stream: Readable, delimiter: string): AsyncGenerator<RecordItem> {
  let header: string[] | null = null;
  for await (const row of parseCsvRows(stream, delimiter)) {
    if (row.fields.length === 1 && row.fields[0] === '' && !row.error) continue; // blank line
    if (header === null) {
      if (row.error) { yield { line: row.line, error: `header row: ${row.error}` }; return; }
      const seen = new Set<string>();
      // no header row (GLUE's CoLA, many classification TSVs): a first row holding a number or a sentence is data
      const headerless = row.fields.length > 1 && row.fields.some((h) => /^\s*-?\d+(\.\d+)?\s*$/.test(h) || h.length > 50 || (h.trim().match(/\s+/g) ?? []).length >= 4);
      header = row.fields.map((h, i) => {
        let name = (headerless ? '' : h.trim()) || `column_${i + 1}`;
        while (seen.has(name)) name = `${name}_${i + 1}`;
        seen.add(name);
        return name;
      });
      if (!headerless) continue;
    }
    const raw = row.fields.join(delimiter);
    if (row.error) { yield { line: row.line, error: row.error, raw }; continue; }
    if (row.fields.length !== header.length) {
      yield { line: row.line, error: `expected ${header.length} fields (as in the header), found ${row.fields.length}`, raw };
      continue;
    }
    const rec: Record<string, string> = {};
    header.forEach((h, i) => { rec[h] = row.fields[i]; });
    yield { line: row.line, record: rec };
  }
}

/** The fields a header line splits into with `delim`, quotes respected (a delimiter inside "…" does not split). */
function countFields(header: string, delim: string): number {
  let n = 1;
  let inQuotes = false;
  for (const ch of header) {
    if (ch === '"') inQuotes = !inQuotes;
    else if (ch === delim && !inQuotes) n++;
  }
  return n;
}

/**
 * The delimiter of a .csv file, from its header line: ',' unless ';' or a tab splits the header into more fields
 * (European spreadsheet exports write ';' because ',' is their decimal mark). Ties keep ','.
 */
export function detectCsvDelimiter(headerLine: string): ',' | ';' | '\t' {
  let best: ',' | ';' | '\t' = ',';
  let most = countFields(headerLine, ',');
  for (const d of [';', '\t'] as const) {
    const n = countFields(headerLine, d);
    if (n > most) { best = d; most = n; }
  }
  return best;
}

/** The text up to the first line end outside quotes, or null if the text so far has none. */
function firstLine(text: string): string | null {
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (ch === '\n' || ch === '\r')) return text.slice(0, i);
  }
  return null;
}

/** A .csv stream read with the delimiter its header line uses: the text read to find the header is replayed first. */
async function* readCsvDetected(stream: Readable): AsyncGenerator<RecordItem> {
  const it = (stream as AsyncIterable<string>)[Symbol.asyncIterator]();
  let head = '';
  let line: string | null = null;
  // the header is short; reading on stops at 1 MiB so a file with no line end is not held whole
  while (line === null && head.length < 1 << 20) {
    const next = await it.next();
    if (next.done) break;
    head += next.value;
    line = firstLine(head);
  }
  const delimiter = detectCsvDelimiter(line ?? head);
  async function* replay(): AsyncGenerator<string> {
    if (head) yield head;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  yield* readCsvItems(replay() as unknown as Readable, delimiter);
}

const CSV_BATCH = 1000;

/**
 * readCsvItems in batches (the CSV parser yields per row; batching keeps the caller's awaits per chunk).
 * delimiter 'detect': the header line decides between ',', ';' and tab (see detectCsvDelimiter).
 */
export async function* readCsv(stream: Readable, delimiter: string): AsyncGenerator<RecordItem[]> {
  let out: RecordItem[] = [];
  const items = delimiter === 'detect' ? readCsvDetected(stream) : readCsvItems(stream, delimiter);
  for await (const item of items) {
    out.push(item);
    if (out.length >= CSV_BATCH) { yield out; out = []; }
  }
  if (out.length) yield out;
}
