export type FileFormat = 'jsonl' | 'json' | 'csv' | 'tsv' | 'txt' | 'parquet' | 'arrow';

export interface RecordItem {
  /** 1-based line where the record starts (for JSON files: the 1-based item index) */
  line: number;
  record?: unknown;
  /** why this line is not a record (the record is then absent) */
  error?: string;
  /** the record's source text when the reader has it (JSONL lines, malformed lines), kept as raw_json / in import_skips */
  raw?: string;
  /** `raw` as UTF-8 bytes, when the reader read it as bytes (JSONL): stored as they are, with no re-encoding */
  rawBytes?: Uint8Array;
}

export interface ReadOptions {
  format?: FileFormat;
  /** plain (not gzipped) JSONL only: the lines that start in a byte range, numbered within it */
  range?: LineRange;
  /** a JSON object holding several lists (`{"train": [...], "test": [...]}`): the one to read */
  list?: string;
  /**
   * with no `list`: the names of the lists such an object holds are pushed here, and the first is read (a preview);
   * without this, several lists are an error naming them
   */
  lists?: string[];
  /** .txt files: one example per blank-line-separated block (default) or per line */
  textMode?: 'block' | 'line';
}

/** Part of a file: the lines that start at a byte offset in [start, end) (for reading one file in pieces). */
export interface LineRange {
  /** file offset of the stream's first byte: start − 1 (to see whether a line starts at `start`), or 0 */
  from: number;
  start: number;
  end: number;
  /** lines of the range, blank ones included, once the stream is read */
  counted?: { lines: number };
}
