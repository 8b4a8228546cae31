/**
 * Typed arrays <-> SQLite blobs. Stored little-endian in the platform's native layout (every
 * platform Winnow ships on is little-endian). Reading copies, because the Buffer better-sqlite3
 * returns may sit at an offset that is not aligned for the element size.
 */
export function toBlob(arr: Int32Array | Uint8Array | Float32Array): Buffer {
  return Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
}

function copyBytes(buf: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(buf.byteLength);
  new Uint8Array(out).set(buf);
  return out;
}

export function blobToInt32(buf: Uint8Array): Int32Array {
  return new Int32Array(copyBytes(buf));
}

export function blobToFloat32(buf: Uint8Array): Float32Array {
  return new Float32Array(copyBytes(buf));
}

export function blobToUint8(buf: Uint8Array): Uint8Array {
  return new Uint8Array(copyBytes(buf));
}
