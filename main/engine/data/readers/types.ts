export type FileFormat = 'jsonl' | 'json' | 'csv' | 'tsv' | 'txt';

export interface RecordItem {
  /** 1-based line where the record starts (for JSON files: the 1-based item index) */
  line: number;
  record?: unknown;
  /** why this line is not a record (the record is then absent) */
  error?: string;
  /** raw text of a malformed line, kept for import_skips */
  raw?: string;
}

export interface ReadOptions {
  format?: FileFormat;
  /** .txt files: one example per blank-line-separated block (default) or per line */
  textMode?: 'block' | 'line';
}
