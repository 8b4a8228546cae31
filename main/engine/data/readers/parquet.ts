import { basename } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, type Compressors, type FileMetaData, type SchemaTree } from 'hyparquet';
import { compressors as jsCompressors } from 'hyparquet-compressors';
import { WinnowError } from '../../util/errors';
import type { RecordItem } from './types';

// hyparquet decodes snappy itself; gzip and brotli come from node's zlib; zstd (Polars' and DuckDB's default) and lz4
// from hyparquet-compressors (pure JS: Node 20 has no zstd)
const compressors: Compressors = {
  ZSTD: jsCompressors.ZSTD,
  LZ4: jsCompressors.LZ4,
  LZ4_RAW: jsCompressors.LZ4_RAW,
  GZIP: (input) => gunzipSync(input),
  BROTLI: (input) => brotliDecompressSync(input),
};

/**
 * Parquet values as JSON-safe record values: int64 as a number when exact, else a string; bytes as base64; a float
 * JSON cannot hold (NaN, ±Infinity) as its text, and a timestamp out of Date's range as null. The record is stored as
 * JSON and its messages are derived again from that JSON, so a value JSON would change (NaN becomes null) must not
 * reach the mapping: the stored row would no longer map the way it was imported.
 */
function plain(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v === undefined) return null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

/** The schema's leaf columns as dotted paths (what each row group must hold one chunk of). */
function leafPaths(name: string, metadata: FileMetaData): string[] {
  let tree: SchemaTree;
  try {
    tree = parquetSchema(metadata);
  } catch (err) {
    throw new WinnowError('parse_error', `${name}: not a valid Parquet file (its schema cannot be read: ${(err as Error).message})`);
  }
  const out: string[] = [];
  const walk = (node: SchemaTree): void => {
    if (node.children.length) node.children.forEach(walk);
    else out.push(node.path.join('.'));
  };
  walk(tree);
  return out;
}

/**
 * A row group holds exactly one chunk per schema column. A damaged footer can name a column twice (the reader would
 * keep one and drop the other column's values without a word) or leave one out (its values would be made up as
 * missing), so both are refused as damage.
 */
function checkChunks(at: string, leaves: string[], chunks: string[]): void {
  const seen = new Set<string>();
  for (const path of chunks) {
    if (seen.has(path)) throw new WinnowError('parse_error', `${at}: the file is damaged: its footer lists column "${path}" twice`);
    seen.add(path);
  }
  const missing = leaves.filter((l) => !seen.has(l));
  const extra = chunks.filter((c) => !leaves.includes(c));
  if (missing.length || extra.length) {
    const parts = [missing.length ? `no data for column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}` : '',
      extra.length ? `data for column${extra.length > 1 ? 's' : ''} ${extra.map((m) => `"${m}"`).join(', ')} that the schema lacks` : ''].filter(Boolean);
    throw new WinnowError('parse_error', `${at}: the file is damaged: its footer lists ${parts.join(' and ')}`);
  }
}

/**
 * A Parquet file, one row group at a time (memory follows the largest row group, not the file). Nested columns
 * come through as plain arrays and objects, so a `messages` list<struct<role, content>> column maps like JSONL.
 * `line` is the 1-based row number.
 */
export async function* readParquet(path: string): AsyncGenerator<RecordItem[]> {
  const name = basename(path);
  const file = await asyncBufferFromFile(path); // ENOENT surfaces as the usual not_found
  // the reader only looks at the footer: a file whose head is damaged would import as if whole
  const head = file.byteLength >= 4 ? Buffer.from(await file.slice(0, 4)).toString('latin1') : '';
  if (head !== 'PAR1') {
    throw new WinnowError('parse_error', `${name}: not a valid Parquet file (damaged or not Parquet: it ${file.byteLength < 4 ? `has only ${file.byteLength} bytes` : 'does not start with "PAR1"'})`);
  }
  let metadata;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new WinnowError('parse_error', `${name}: not a valid Parquet file (${(err as Error).message})`);
  }
  const leaves = leafPaths(name, metadata);
  let start = 0;
  for (const [g, rg] of metadata.row_groups.entries()) {
    const n = Number(rg.num_rows);
    checkChunks(`${name}: row group ${g + 1} (rows ${start + 1}-${start + n})`, leaves, rg.columns.map((c) => (c.meta_data?.path_in_schema ?? []).join('.')));
    // a column holds a value (or a null) per row at least: fewer means a damaged footer, and the reader would make up
    // the missing rows (a field "missing" in rows the file never had)
    for (const col of rg.columns) {
      const values = col.meta_data ? Number(col.meta_data.num_values) : n;
      if (values < n) {
        throw new WinnowError('parse_error', `${name}: row group ${g + 1} (rows ${start + 1}-${start + n}): the file is damaged: its footer lists ` +
          `${n} rows, but column "${(col.meta_data?.path_in_schema ?? []).join('.')}" holds ${values} values`);
      }
    }
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: start + n, compressors });
    } catch (err) {
      const msg = (err as Error).message;
      const at = `${name}: row group ${g + 1} (rows ${start + 1}-${start + n})`;
      if (/compression codec/i.test(msg)) throw new WinnowError('parse_error', `${at}: ${msg} (Winnow reads uncompressed, snappy, gzip, brotli, zstd and lz4 Parquet)`);
      // the footer was read, so what fails here is the row group's pages: damage, or a page kind the reader lacks
      throw new WinnowError('parse_error', `${at}: cannot be read — the file is damaged or uses a Parquet feature Winnow does not read (${msg})`);
    }
    yield rows.map((r, i) => ({ line: start + i + 1, record: plain(r) }));
    start += n;
  }
}
