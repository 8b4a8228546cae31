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
  range?: import('./lines').LineRange;
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
