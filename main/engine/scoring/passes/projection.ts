/**
 * LESS-style random projection of per-example gradients (princeton-nlp/LESS less/data_selection, via trak's
 * Rademacher projector): p = Rᵀ g with R a P×d matrix of independent ±1/√d entries, so E‖p‖² = ‖g‖² and cosines
 * are kept up to O(1/√d) (Johnson–Lindenstrauss). R is never materialised: entry (i, j) is bit i mod 32 of a hash
 * of (seed, j, ⌊i/32⌋), generated chunk by chunk of rows and used for all the gradients of a batch at once.
 * Row i runs over the chosen tensors in the order given (the model's checkpoint order), row-major within a tensor.
 */
/** d on CPU / wasm (LESS uses 8192 on GPU) */
export const DEFAULT_GRAD_DIM = 1024;

/** murmur3's 32-bit finaliser: every input bit flips each output bit with probability ≈ 1/2 */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function columnKey(seed: number, j: number): number {
  return fmix32(Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ fmix32(j));
}

function word(key: number, k: number): number {
  // k < 2³² / 32 rows of 32: any parameter count a model here can have
  return fmix32(key + Math.imul(k + 1, 0x9e3779b9));
}

/** The 32 signs of column j, rows 32k..32k+31: bit b set ⇔ R[32k + b, j] = +1/√d. */
export function signWord(seed: number, j: number, k: number): number {
  return word(columnKey(seed, j), k);
}

/** R[i, j]·√d ∈ {+1, −1}: the definition, one entry at a time (tests build R from it). */
export function rademacherSign(seed: number, i: number, j: number): 1 | -1 {
  return (signWord(seed, j, Math.floor(i / 32)) >>> (i % 32)) & 1 ? 1 : -1;
}

/** parameter rows per chunk: a multiple of 32 (one sign word covers 32 rows of a column) */
const CHUNK_ROWS = 4096;
const WORDS = CHUNK_ROWS / 32;
/** sign words read per pass over the columns */
const BLOCK_WORDS = 4;

/**
 * Project B gradients (each a row of P values, in the same parameter order) to d dimensions, in float64.
 * Four Russians: for every 8 consecutive parameters of an example, a table of the 256 signed sums ±g_1 ±g_2 … ±g_8
 * is built once per chunk; then each column's sum over those 8 rows is one table read indexed by a byte of its sign
 * word. Per example this costs P·(256 + d)/8 additions instead of P·d, and the sign words (P·d/32 hashes) are made
 * once per batch. The result does not depend on how examples are grouped into batches.
 * @returns B vectors of length d
 */
export function projectRows(rows: Float32Array[], d: number, seed: number): Float64Array[] {
  const B = rows.length;
  const out = rows.map(() => new Float64Array(d));
  if (B === 0) return out;
  const P = rows[0]!.length;
  const groups = CHUNK_ROWS / 8;
  const tables = rows.map(() => new Float64Array(groups * 256));
  const words = new Uint32Array(d * WORDS);
  const keys = Uint32Array.from({ length: d }, (_, j) => columnKey(seed, j));
  const x = new Float64Array(8);
  for (let i0 = 0; i0 < P; i0 += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, P - i0);
    const nw = Math.ceil(n / 32);
    const ng = nw * 4; // whole words: rows past n have g = 0 and add nothing
    for (let b = 0; b < B; b++) {
      const row = rows[b]!;
      const T = tables[b]!;
      for (let q = 0; q < ng; q++) {
        let neg = 0;
        for (let r = 0; r < 8; r++) {
          const i = i0 + q * 8 + r;
          x[r] = i < i0 + n ? row[i]! : 0;
          neg -= x[r]!;
        }
        // T[v] = Σ_r (bit r of v ? +x_r : −x_r), each entry from the one without its lowest set bit
        const o = q * 256;
        T[o] = neg;
        for (let v = 1; v < 256; v++) {
          const low = v & -v;
          T[o + v] = T[o + (v ^ low)]! + 2 * x[31 - Math.clz32(low)]!;
        }
      }
    }
    const k0 = i0 / 32;
    for (let j = 0; j < d; j++) {
      const key = keys[j]!;
      for (let k = 0; k < nw; k++) words[j * WORDS + k] = word(key, k0 + k);
    }
    // a few words at a time over every column: the table entries read stay in cache (B × 32 KiB)
    for (let kb = 0; kb < nw; kb += BLOCK_WORDS) {
      const ke = Math.min(nw, kb + BLOCK_WORDS);
      for (let j = 0; j < d; j++) {
        const wj = j * WORDS;
        for (let b = 0; b < B; b++) {
          const T = tables[b]!;
          let acc = 0;
          for (let k = kb, o = kb * 1024; k < ke; k++, o += 1024) {
            const w = words[wj + k]!;
            acc += T[o + (w & 255)]! + T[o + 256 + ((w >>> 8) & 255)]! + T[o + 512 + ((w >>> 16) & 255)]! + T[o + 768 + (w >>> 24)]!;
          }
          out[b]![j] += acc;
        }
      }
    }
  }
  const scale = 1 / Math.sqrt(d);
  for (const o of out) for (let j = 0; j < d; j++) o[j] *= scale;
  return out;
}

export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** cos(a, b); null when either is the zero vector */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  const na = norm(a);
  const nb = norm(b);
  return na > 0 && nb > 0 ? dot / (na * nb) : null;
}
