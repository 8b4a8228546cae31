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
      header = row.fields.map((h, i) => {
        let name = h.trim() || `column_${i + 1}`;
        while (seen.has(name)) name = `${name}_${i + 1}`;
        seen.add(name);
        return name;
      });
      continue;
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

const CSV_BATCH = 1000;

/** readCsvItems in batches (the CSV parser yields per row; batching keeps the caller's awaits per chunk). */
export async function* readCsv(stream: Readable, delimiter: string): AsyncGenerator<RecordItem[]> {
  let out: RecordItem[] = [];
  for await (const item of readCsvItems(stream, delimiter)) {
    out.push(item);
    if (out.length >= CSV_BATCH) { yield out; out = []; }
  }
  if (out.length) yield out;
}
