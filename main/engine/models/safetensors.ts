/**
 * safetensors read/write (https://github.com/huggingface/safetensors, "Format" section):
 * u64 little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`,
 * then the data buffer; offsets are relative to the start of the data buffer.
 * Every float dtype we accept is widened to float32 on read, because TF.js computes in float32.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WinnowError } from '../util/errors';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
export type WriteDtype = SafetensorsDtype;

export interface StoredTensor {
  /** dtype as stored in the file (data is always float32) */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};
/** a header bigger than this is not a real checkpoint (the reference implementation caps it at 100 MB) */
const MAX_HEADER_BYTES = 100_000_000;

function bad(file: string, msg: string, details?: Record<string, unknown>): WinnowError {
  return new WinnowError('parse_error', `${path.basename(file)}: ${msg}`, { file, ...details });
}

/** Read and validate the header only (cheap: used to list tensors and check shapes without loading data). */
export function readSafetensorsHeader(file: string): {
  entries: Map<string, HeaderEntry>;
  metadata: Record<string, string>;
  dataStart: number;
  fileSize: number;
} {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new WinnowError('not_found', `${file}: cannot open safetensors file (${(err as Error).message})`, { file });
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) throw bad(file, `file is ${fileSize} bytes, too short for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > fileSize) {
      throw bad(file, `header length ${headerLen} is not possible for a file of ${fileSize} bytes`);
    }
    const headerBuf = Buffer.alloc(headerLen);
    fs.readSync(fd, headerBuf, 0, headerLen, 8);
    let json: unknown;
    try {
      json = JSON.parse(headerBuf.toString('utf8'));
    } catch (err) {
      throw bad(file, `header is not valid JSON (${(err as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(file, 'header is not a JSON object');
    const dataStart = 8 + headerLen;
    const dataLen = fileSize - dataStart;
    const entries = new Map<string, HeaderEntry>();
    let metadata: Record<string, string> = {};
    // JSON.parse silently keeps the last of duplicate keys, so detect duplicates on the raw text.
    const rawKeys = [...headerBuf.toString('utf8').matchAll(/"((?:[^"\\]|\\.)*)"\s*:\s*\{\s*"(?:dtype|shape|data_offsets)"/g)]
      .map((m) => JSON.parse(`"${m[1]}"`) as string);
    const seen = new Set<string>();
    for (const k of rawKeys) {
      if (seen.has(k)) throw bad(file, `tensor "${k}" appears twice in the header`, { tensor: k });
      seen.add(k);
    }
    for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof v !== 'object' || v === null) throw bad(file, '__metadata__ must be an object of strings');
        metadata = v as Record<string, string>;
        continue;
      }
      const e = v as Partial<HeaderEntry> | null;
      if (!e || typeof e !== 'object') throw bad(file, `tensor "${name}": header entry is not an object`, { tensor: name });
      if (typeof e.dtype !== 'string' || !(e.dtype in BYTES)) {
        throw bad(file, `tensor "${name}": unknown dtype ${JSON.stringify(e.dtype)}`, { tensor: name });
      }
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw bad(file, `tensor "${name}": shape must be a list of non-negative integers`, { tensor: name });
      }
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[0] > off[1]) {
        throw bad(file, `tensor "${name}": data_offsets must be [begin, end] with 0 <= begin <= end`, { tensor: name });
      }
      if (off[1] > dataLen) {
        throw bad(file, `tensor "${name}": data_offsets [${off[0]}, ${off[1]}] run past the end of the data (${dataLen} bytes)`, {
          tensor: name,
        });
      }
      const expected = e.shape.reduce((a, b) => a * b, 1) * BYTES[e.dtype];
      if (expected !== off[1] - off[0]) {
        throw bad(
          file,
          `tensor "${name}": shape [${e.shape.join(', ')}] x ${e.dtype} needs ${expected} bytes but data_offsets span ${off[1] - off[0]}`,
          { tensor: name },
        );
      }
      entries.set(name, { dtype: e.dtype, shape: e.shape, data_offsets: [off[0], off[1]] });
    }
    const sorted = [...entries.entries()].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
    for (let i = 1; i < sorted.length; i++) {
      const [pn, p] = sorted[i - 1];
      const [cn, c] = sorted[i];
      if (c.data_offsets[0] < p.data_offsets[1]) {
        throw bad(file, `tensors "${pn}" and "${cn}" overlap in the data buffer`, { tensor: cn });
      }
    }
    return { entries, metadata, dataStart, fileSize };
  } finally {
    fs.closeSync(fd);
  }
}

function decode(file: string, name: string, dtype: string, buf: Buffer): Float32Array {
  const n = buf.byteLength / BYTES[dtype];
  // Copy into an aligned buffer: Buffer slices may start at any byte offset.
  const aligned = new Uint8Array(buf.byteLength);
  aligned.set(buf);
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer, 0, n);
    case 'F16':
      return f16ToF32(new Uint16Array(aligned.buffer, 0, n));
    case 'BF16':
      return bf16ToF32(new Uint16Array(aligned.buffer, 0, n));
    default:
      throw new WinnowError(
        'unsupported',
        `${path.basename(file)}: tensor "${name}" has dtype ${dtype}; Winnow loads only F32, F16 and BF16 weights`,
        { file, tensor: name, dtype },
      );
  }
}

/**
 * Read a whole .safetensors file. `only` restricts which tensors are decoded (others are still validated);
 * `onRaw` sees each tensor's stored bytes (used to hash a checkpoint while loading it).
 */
export function readSafetensors(
  file: string,
  only?: (name: string) => boolean,
  onRaw?: (name: string, bytes: Buffer) => void,
): SafetensorsFile {
  const { entries, metadata, dataStart } = readSafetensorsHeader(file);
  const tensors = new Map<string, StoredTensor>();
  const fd = fs.openSync(file, 'r');
  try {
    for (const [name, e] of entries) {
      if (only && !only(name)) continue;
      const [b, end] = e.data_offsets;
      const buf = Buffer.alloc(end - b);
      if (buf.byteLength > 0) fs.readSync(fd, buf, 0, buf.byteLength, dataStart + b);
      onRaw?.(name, buf);
      tensors.set(name, { dtype: e.dtype as SafetensorsDtype, shape: e.shape, data: decode(file, name, e.dtype, buf) });
    }
  } finally {
    fs.closeSync(fd);
  }
  return { tensors, metadata };
}

function encode(data: Float32Array, dtype: WriteDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const h = dtype === 'F16' ? f32ToF16(data) : f32ToBf16(data);
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

/** Write tensors (in the given order) to `file` atomically: a temp file in the same folder, then rename. */
export function writeSafetensors(
  file: string,
  tensors: TensorToWrite[],
  dtype: WriteDtype = 'F32',
  metadata?: Record<string, string>,
): void {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new WinnowError('bad_input', `${path.basename(file)}: tensor "${t.name}" given twice`);
    names.add(t.name);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new WinnowError(
        'bad_input',
        `${path.basename(file)}: tensor "${t.name}" has shape [${t.shape.join(', ')}] but ${t.data.length} values`,
      );
    }
    const blob = encode(t.data, dtype);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + blob.byteLength] };
    blobs.push(blob);
    offset += blob.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBuf.byteLength));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, lenBuf);
    fs.writeSync(fd, headerBuf);
    for (const b of blobs) fs.writeSync(fd, b);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw new WinnowError('io_error', `${file}: write failed (${(err as Error).message})`, { file });
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** The weight files of an HF folder: `model.safetensors`, or the shards listed in `model.safetensors.index.json`. */
export function checkpointFiles(dir: string): { files: string[]; weightMap: Map<string, string> | null } {
  const single = path.join(dir, SINGLE_FILE);
  const index = path.join(dir, INDEX_FILE);
  if (fs.existsSync(index)) {
    let parsed: { weight_map?: Record<string, string> };
    try {
      parsed = JSON.parse(fs.readFileSync(index, 'utf8'));
    } catch (err) {
      throw new WinnowError('parse_error', `${index}: not valid JSON (${(err as Error).message})`, { file: index });
    }
    if (!parsed.weight_map || typeof parsed.weight_map !== 'object') {
      throw new WinnowError('parse_error', `${index}: field "weight_map" is missing`, { file: index });
    }
    const weightMap = new Map(Object.entries(parsed.weight_map));
    const files = [...new Set(weightMap.values())].map((f) => path.join(dir, f));
    for (const f of files) {
      if (!fs.existsSync(f)) throw new WinnowError('not_found', `${index}: shard ${path.basename(f)} is missing`, { file: f });
    }
    return { files, weightMap };
  }
  if (fs.existsSync(single)) return { files: [single], weightMap: null };
  throw new WinnowError('not_found', `${dir}: no ${SINGLE_FILE} or ${INDEX_FILE} (only safetensors checkpoints are supported)`, {
    dir,
  });
}

/** Read every tensor of a (possibly sharded) checkpoint folder. Names are unique across shards. */
export function readCheckpoint(
  dir: string,
  only?: (name: string) => boolean,
  onRaw?: (name: string, bytes: Buffer) => void,
): SafetensorsFile & { files: string[]; fileOf: Map<string, string> } {
  const { files, weightMap } = checkpointFiles(dir);
  const tensors = new Map<string, StoredTensor>();
  const fileOf = new Map<string, string>(); // tensor name → the file it was read from (for messages)
  let metadata: Record<string, string> = {};
  for (const f of files) {
    const part = readSafetensors(f, only, onRaw);
    if (files.length === 1 || !Object.keys(metadata).length) metadata = part.metadata;
    for (const [name, t] of part.tensors) {
      if (tensors.has(name)) {
        throw new WinnowError('parse_error', `${path.basename(f)}: tensor "${name}" also appears in another shard`, { file: f });
      }
      if (weightMap && weightMap.get(name) !== path.basename(f)) {
        throw new WinnowError('parse_error', `${INDEX_FILE}: tensor "${name}" is in ${path.basename(f)} but the index says ${weightMap.get(name)}`);
      }
      tensors.set(name, t);
      fileOf.set(name, f);
    }
  }
  return { tensors, metadata, files, fileOf };
}

/**
 * Write a checkpoint folder: one `model.safetensors`, or shards + `model.safetensors.index.json` when the
 * tensors exceed `maxShardBytes` (HF's naming: model-00001-of-00003.safetensors).
 */
export function writeCheckpoint(
  dir: string,
  tensors: TensorToWrite[],
  dtype: WriteDtype = 'F32',
  opts: { maxShardBytes?: number; metadata?: Record<string, string> } = {},
): string[] {
  const bytesPer = dtype === 'F32' ? 4 : 2;
  const max = opts.maxShardBytes ?? 5e9;
  const shards: TensorToWrite[][] = [[]];
  let cur = 0;
  for (const t of tensors) {
    const b = t.data.length * bytesPer;
    if (cur > 0 && cur + b > max) {
      shards.push([]);
      cur = 0;
    }
    shards[shards.length - 1].push(t);
    cur += b;
  }
  const metadata = { format: 'pt', ...opts.metadata };
  fs.mkdirSync(dir, { recursive: true });
  if (shards.length === 1) {
    writeSafetensors(path.join(dir, SINGLE_FILE), tensors, dtype, metadata);
    fs.rmSync(path.join(dir, INDEX_FILE), { force: true });
    return [SINGLE_FILE];
  }
  const n = shards.length;
  const names: string[] = [];
  const weightMap: Record<string, string> = {};
  let total = 0;
  shards.forEach((s, i) => {
    const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    writeSafetensors(path.join(dir, name), s, dtype, metadata);
    for (const t of s) {
      weightMap[t.name] = name;
      total += t.data.length * bytesPer;
    }
    names.push(name);
  });
  const tmp = path.join(dir, `${INDEX_FILE}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  fs.renameSync(tmp, path.join(dir, INDEX_FILE));
  fs.rmSync(path.join(dir, SINGLE_FILE), { force: true });
  return names;
}
