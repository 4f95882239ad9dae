/**
 * Residual coding of a float tensor chunk against the same chunk of a base checkpoint.
 *
 * 1. ULP map: each element's bits (u16 for BF16/F16, u32 for F32) become an order-preserving
 *    signed integer v (sign ? -magnitude - 1 : magnitude; a bijection on bit patterns, so ±0,
 *    subnormals, ±inf and NaN payloads all round-trip). The residual v_next - pred is taken modulo
 *    2^16 / 2^32 (so it is a bijection too) and zigzag-mapped to an unsigned z.
 *    pred = v_base, or with an older base `prev`: v_base + round(beta/256 · (v_base - v_prev)).
 * 2. Hybrid-uint tokens (JPEG XL style): z < 16 is its own token; otherwise with n = floor(log2 z)
 *    the token is 4n + the 2 bits below the leading one, and the n - 2 lower bits go raw to a
 *    separate bit stream. 64 tokens for 16-bit dtypes, 128 for F32. With a low-rank model the sign
 *    (z's lowest bit) is predictable, so a large z keeps it in the token: with y = z >> 1 and
 *    n = floor(log2 y), the token is 16 + 2 · (4(n - 3) + the 2 bits below y's leading one) + (z & 1),
 *    and n - 2 lower bits of y go raw (twice as many tokens; ft_step10 → 20: ratio 5.09 → 5.25).
 * 3. Context: the base element's exponent (and, with `prev`, a bucket of v_base - v_prev: how far
 *    and which way this weight moved last time; measured on the fine-tune chain: ratio 5.0 → 5.3
 *    with a fitted beta; and, with a low-rank sign model (./lowrank.ts, given `rowLength`), its
 *    confidence bucket, the residual being negated where the model predicts a negative sign: 4.58 →
 *    5.09 with one base). The encoder partitions the contexts that
 *    occur into contiguous ranges, chosen by dynamic programming to minimize the estimated coded
 *    size including each range's frequency table; each range gets a table and tokens are coded with
 *    static rANS (./rans.ts).
 * 4. A Fletcher-style checksum of the z values (complemented where negated) detects corruption of
 *    the raw bits or of the low-rank model, which rANS's own final-state check cannot see.
 *
 * Stream: mode byte (0 stored: `next` verbatim, used when coding would not shrink it; 1 coded),
 * dtype/flags byte (0x10: prev, 0x20: low-rank model), varint element count, [varint beta],
 * [varint row length], u32 checksum, varint side-info bytes, varint raw words, side info ([the
 * low-rank model,] context ranges and rANS tables, bit-packed), padding to an even offset, raw bit
 * words (u16 LE), rANS stream.
 */
import { BUCKETS, fitLowRank, FLIP_SHIFT, lowRankContexts, lowRankShape, readLowRank, writeLowRank, type LowRank } from './lowrank.js';
import { align16, kernels, wasmMemory } from './simd-planes.js';
import { trend32, ulp16, ulp32 } from './ulp-bits.js';
import { BitReader, BitWriter } from './bits.js';
import { LITTLE_ENDIAN, swap16, words16 as wordsOf } from './bytes.js';
import { buildModel, estimateTableBits, ransDecode, ransEncode, readModel, writeModel } from './rans.js';

export type ResidualDtype = 'BF16' | 'F16' | 'F32';

export interface ResidualOptions {
  /** A second, older base: predicts from the trend base - prev. Same length as base. */
  prev?: Uint8Array;
  /** Numerator over 256 of the trend weight, an integer in [0, 256] (see fitBeta); default 0. */
  beta?: number;
  /** Elements per row of the tensor when the chunk is whole rows: allows a low-rank sign model (encoder only). */
  rowLength?: number;
}

const MODE_STORED = 0;
const MODE_CODED = 1;
const FLAG_PREV = 0x10;
const FLAG_LOWRANK = 0x20;

/**
 * Trend buckets per exponent when `prev` is given, from d = v_base - v_prev: zigzag(d) for
 * -7 ≤ d < 7 (0..13), 14 for larger rises, 15 for larger falls.
 */
const TREND_BUCKETS = 16;
const TREND_BITS = 4;
/**
 * The DP considers context ranges spanning at most this many occurring contexts; half as many when
 * more than DP_MANY occur (with prev: measured 0.03% larger output, half the DP time).
 */
const DP_WINDOW = 32;
const DP_MANY = 96;
/** Estimated cost in bits of one more range boundary in the side information. */
const RANGE_BITS = 8;
const MAX_RANGES = 255;
/** Elements per call (keeps raw-bit offsets in int32 range); chunks are far smaller. */
const MAX_ELEMENTS = 1 << 26;
/** Elements sampled (evenly spaced) by fitBeta. */
const BETA_SAMPLES = 4096;

interface DtypeInfo {
  code: number;
  /** Bytes per element. */
  size: number;
  expShift: number;
  expMask: number;
  /** Number of exponent values (context keys without prev). */
  exps: number;
  alphabet: number;
}

const INFO: Record<ResidualDtype, DtypeInfo> = {
  BF16: { code: 1, size: 2, expShift: 7, expMask: 0xff, exps: 256, alphabet: 64 },
  F16: { code: 2, size: 2, expShift: 10, expMask: 0x1f, exps: 32, alphabet: 64 },
  F32: { code: 3, size: 4, expShift: 23, expMask: 0xff, exps: 256, alphabet: 128 },
};

function infoOf(dtype: ResidualDtype): DtypeInfo {
  const info = INFO[dtype];
  if (!info) throw new Error(`residual: unsupported dtype ${String(dtype)}`);
  return info;
}

// Scratch buffers reused across calls (everything here is synchronous).
let tokenBuf = new Uint8Array(0);
let keyBuf = new Uint16Array(0);
let rawBuf = new Uint16Array(0);
let histBuf = new Int32Array(0);
/** Per element with a low-rank model: its context value (lowrank.ts). */
let lowBuf = new Uint8Array(0);
/** The encoder's zigzagged residuals (16-bit) and their signs (for fitting a low-rank model). */
let zBuf = new Uint16Array(0);
let signBuf = new Int8Array(0);

function scratch(n: number, rawWords: number): void {
  if (tokenBuf.length < n) {
    tokenBuf = new Uint8Array(n);
    keyBuf = new Uint16Array(n);
    lowBuf = new Uint8Array(n);
    zBuf = new Uint16Array(n);
    signBuf = new Int8Array(n);
  }
  // Spare words: the encoder stores one word ahead, the decoder reads up to two past the end.
  if (rawBuf.length < rawWords + 4) rawBuf = new Uint16Array(rawWords + 4);
}

/**
 * The histogram (keys × tokens) is kept all zero between calls: the encoder clears only the rows
 * it used, so small chunks do not pay for clearing a large key space. After an exception midway
 * the whole buffer is cleared on the next call.
 */
let histDirty = false;
function zeroHist(size: number): Int32Array {
  if (histBuf.length < size) {
    histBuf = new Int32Array(size);
    histDirty = false;
  }
  if (histDirty) histBuf.fill(0);
  histDirty = true;
  return histBuf.subarray(0, size);
}

function releaseHist(hist: Int32Array, present: number[], alphabet: number): void {
  for (const key of present) hist.fill(0, key * alphabet, (key + 1) * alphabet);
  histDirty = false;
}

/** Keys that occur, ascending: rows of the histogram in [keyMin, keyMax] with a nonzero count. */
function presentKeys(hist: Int32Array, keyMin: number, keyMax: number, alphabet: number): number[] {
  const present: number[] = [];
  for (let key = keyMin; key <= keyMax; key++) {
    const row = key * alphabet;
    for (let s = 0; s < alphabet; s++) {
      if (hist[row + s] !== 0) {
        present.push(key);
        break;
      }
    }
  }
  return present;
}

/** Element views of little-endian element bytes: a view when possible, else an aligned copy. */
function view16(bytes: Uint8Array): Uint16Array {
  return wordsOf(bytes);
}

/** The bytes of the first `count` words (a view). */
function bytesOf(words: Uint16Array, count = words.length): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, 2 * count);
}

function view32(bytes: Uint8Array): Int32Array {
  const count = bytes.length >>> 2;
  if (LITTLE_ENDIAN && (bytes.byteOffset & 3) === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Int32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
  return out;
}

function checkBeta(beta: number | undefined, hasPrev: boolean): number {
  if (beta === undefined) return 0;
  if (!Number.isInteger(beta) || beta < 0 || beta > 256) throw new Error(`residual: beta must be an integer in [0, 256], got ${beta}`);
  if (!hasPrev && beta !== 0) throw new Error('residual: beta needs a prev base');
  return beta;
}

/** Context keys: the base exponent, × the trend bucket with prev, × the confidence bucket with a low-rank model. */
function keyCountOf(info: DtypeInfo, hasPrev: boolean, hasLowRank: boolean): number {
  return info.exps * (hasPrev ? TREND_BUCKETS : 1) * (hasLowRank ? BUCKETS : 1);
}

/** Tokens: with a low-rank model, large ones carry the sign (the residual's lowest bit) too. */
function alphabetOf(info: DtypeInfo, hasLowRank: boolean): number {
  return hasLowRank ? 2 * info.alphabet : info.alphabet;
}

/**
 * The trend bucket of d = v_base - v_prev given zd = zigzag(d) as an int32 bit pattern (see
 * TREND_BUCKETS); branch-free.
 */
function trendBucket(zd: number, d: number): number {
  const far = ((13 - zd) | zd) >> 31;
  return (zd & ~far) | ((14 - (d >> 31)) & far);
}

// ---------------------------------------------------------------------------------------------
// Pass 1 of the encoder: tokens, context keys, histogram, raw bits, checksum.

interface Pass1 {
  rawWords: number;
  checksum: number;
  /** Smallest and largest context key that occurred. */
  keyMin: number;
  keyMax: number;
}

/** The residuals of 16-bit elements (zigzagged, see residual16 in planes.wat) into zBuf. */
function residuals16(base: Uint16Array, next: Uint16Array, prev: Uint16Array | null, beta: number): Uint16Array {
  const n = next.length;
  const staged = stage16(base, prev, next, null, 0);
  kernels.residual16(0, staged.prevAt, staged.nextAt, n, prev ? beta : 0);
  zBuf.set(new Uint16Array(staged.memory.buffer, staged.nextAt, n));
  return zBuf.subarray(0, n);
}

/** The signs (-1, 0, 1) of zigzagged 16-bit residuals into signBuf. */
function signs16(z: Uint16Array): Int8Array {
  const n = z.length;
  const outAt = align16(2 * n) + 16;
  const memory = wasmMemory(outAt + n + 16);
  memory.set(bytesOf(z), 0);
  kernels.signs16(0, n, outAt);
  signBuf.set(new Int8Array(memory.buffer, outAt, n));
  return signBuf.subarray(0, n);
}

/** Repeats the last of `n` u16 elements at `at` up to a multiple of 8 (tokens16's SIMD steps). */
function padToStep(memory: Uint8Array, at: number, n: number): void {
  if (n === 0) return;
  for (let i = n; i % 8 !== 0; i++) memory.copyWithin(at + 2 * i, at + 2 * (n - 1), at + 2 * n);
}

/**
 * Where the 16-bit kernels keep a chunk of n elements in wasm memory: the base from 0, then the
 * older base, the new values (or their residuals), the keys, the low-rank context values, then
 * `more` bytes. Base, prev and next are copied in and padded to whole SIMD steps (see padToStep),
 * the context values too (zeros without a model).
 */
function stage16(base: Uint16Array, prev: Uint16Array | null, next: Uint16Array | null, low: Uint8Array | null, more: number) {
  const n = base.length;
  const span = align16(2 * n) + 16;
  const [prevAt, nextAt, keysAt, lowAt] = [span, 2 * span, 3 * span, 4 * span];
  const moreAt = lowAt + align16(n) + 16;
  const memory = wasmMemory(moreAt + more);
  memory.set(bytesOf(base), 0);
  if (prev) memory.set(bytesOf(prev), prevAt);
  if (next) memory.set(bytesOf(next), nextAt);
  for (const at of [0, ...(prev ? [prevAt] : []), ...(next ? [nextAt] : [])]) padToStep(memory, at, n);
  if (low) memory.set(low.subarray(0, n), lowAt);
  memory.fill(0, low ? lowAt + n : lowAt, moreAt);
  return { memory, prevAt: prev ? prevAt : 0, nextAt, keysAt, lowAt, moreAt };
}

/**
 * The context keys of a staged chunk (see stage16) in WebAssembly (`keys16` in planes.wat), with
 * the trend where there is an older base and the confidence bucket where there is a low-rank
 * model; returns the smallest and largest key (passed through the first bytes of the staged
 * `more` space).
 */
function keysInMemory(info: DtypeInfo, n: number, staged: ReturnType<typeof stage16>, hasPrev: boolean, hasLowRank: boolean): [number, number] {
  const outAt = staged.moreAt;
  kernels.keys16(0, staged.prevAt, staged.lowAt, n, staged.keysAt, info.expShift, info.expMask, hasPrev ? TREND_BITS : 0, hasLowRank ? FLIP_SHIFT : 0, outAt);
  const [keyMin, keyMax] = new Int32Array(kernels.memory.buffer, outAt, 2) as unknown as number[];
  return [keyMin!, keyMax!];
}

/** The context keys of 16-bit elements into `keys` (`low`: the low-rank context values, if any). */
function keys16(info: DtypeInfo, base: Uint16Array, prev: Uint16Array | null, low: Uint8Array | null, keys: Uint16Array): void {
  const n = base.length;
  const staged = stage16(base, prev, null, low, 16);
  keysInMemory(info, n, staged, prev !== null, low !== null);
  keys.set(new Uint16Array(staged.memory.buffer, staged.keysAt, n));
}

/**
 * The first pass from the residuals `z` in WebAssembly (`keys16`, then `tokens16` in
 * src/codec/wasm/planes.wat: the tokens, raw bits, counts and checksum, its arithmetic in SIMD),
 * with a low-rank model's context values in `low` if there is one. The inputs are copied in and
 * the results copied out; of the counts, only the rows of the keys between the smallest and the
 * largest that occurred (`hist` is zero elsewhere, see zeroHist).
 */
function tokens16(info: DtypeInfo, base: Uint16Array, z: Uint16Array, prev: Uint16Array | null, low: Uint8Array | null, hist: Int32Array): Pass1 {
  const n = z.length;
  const alphabet = alphabetOf(info, low !== null);
  const tokensAt = 0;
  const rawAt = align16(n);
  const histAt = rawAt + align16(2 * n) + 16;
  const outAt = histAt + 4 * hist.length;
  const staged = stage16(base, prev, z, low, outAt + 32);
  const at = (offset: number): number => staged.moreAt + offset;
  const memory = staged.memory;
  const [keyMin, keyMax] = keysInMemory(info, n, staged, prev !== null, low !== null);
  const [rowsFrom, rowsTo] = [keyMin * alphabet, (keyMax + 1) * alphabet];
  const counts = new Int32Array(memory.buffer, at(histAt), hist.length);
  counts.fill(0, rowsFrom, rowsTo);
  kernels.tokens16(staged.nextAt, n, at(tokensAt), staged.keysAt, at(rawAt), at(histAt), staged.lowAt, low ? 1 : 0, 31 - Math.clz32(alphabet), at(outAt));
  const [off, s1, s2] = new Int32Array(memory.buffer, at(outAt), 3) as unknown as number[];
  const rawWords = (off! + 15) >> 4;
  tokenBuf.set(memory.subarray(at(tokensAt), at(tokensAt) + n));
  keyBuf.set(new Uint16Array(memory.buffer, staged.keysAt, n));
  rawBuf.set(new Uint16Array(memory.buffer, at(rawAt), rawWords + 1));
  if (rowsTo > rowsFrom) hist.set(counts.subarray(rowsFrom, rowsTo), rowsFrom);
  return { rawWords, checksum: (s1! ^ Math.imul(s2!, -0x61c8864f)) >>> 0, keyMin, keyMax };
}

function pass32(info: DtypeInfo, base: Int32Array, next: Int32Array, prev: Int32Array | null, beta: number, lowRank: LowRank | null, hist: Int32Array): Pass1 {
  const low = lowRank ? lowRankContexts(lowRank, lowBuf) : null;
  const signed = low !== null ? 1 : 0;
  const histShift = 7 + signed;
  const n = next.length;
  const tokens = tokenBuf;
  const keys = keyBuf;
  const raw = rawBuf;
  const expShift = info.expShift;
  const expMask = info.expMask;
  let acc = 0;
  let off = 0;
  let s1 = 0;
  let s2 = 0;
  let keyMin = 0x7fffffff;
  let keyMax = -1;
  for (let i = 0; i < n; i++) {
    const b = base[i]!;
    const vb = ulp32(b);
    const vx = ulp32(next[i]!);
    let key = (b >>> expShift) & expMask;
    let pred = vb;
    if (prev !== null) {
      const d0 = (vb - ulp32(prev[i]!)) | 0;
      if (beta !== 0) pred = (vb + trend32(beta, d0)) | 0;
      const zd = (d0 << 1) ^ (d0 >> 31);
      key = (key << TREND_BITS) | trendBucket(zd, d0);
    }
    let r = (vx - pred) | 0;
    let m = 0;
    if (low !== null) {
      const l = low[i]!;
      key = key * BUCKETS + (l & (BUCKETS - 1));
      m = -(l >> FLIP_SHIFT);
      r = ((r ^ m) - m) | 0;
    }
    const z = (r << 1) ^ (r >> 31);
    s1 = (s1 + (z ^ m)) | 0;
    s2 = (s2 + s1) | 0;
    let t = z;
    if (z >>> 4 !== 0) {
      // With a low-rank model, signed tokens (as tokens16 in planes.wat).
      const y = z >>> signed;
      const nb = 31 - Math.clz32(y);
      let k = nb - 2;
      const top = ((y >>> k) & 3) | (nb << 2);
      t = signed ? 16 + ((top - 12) << 1) + (z & 1) : top;
      let bits = y & ((1 << k) - 1);
      if (k > 16) {
        acc |= (bits & 0xffff) << (off & 15);
        raw[off >> 4] = acc;
        acc >>>= 16;
        off += 16;
        bits >>>= 16;
        k -= 16;
      }
      const w = off >> 4;
      acc |= bits << (off & 15);
      raw[w] = acc;
      off += k;
      acc >>>= ((off >> 4) - w) << 4;
    }
    if (key < keyMin) keyMin = key;
    if (key > keyMax) keyMax = key;
    tokens[i] = t;
    keys[i] = key;
    hist[(key << histShift) | t]++;
  }
  raw[off >> 4] = acc;
  return { rawWords: (off + 15) >> 4, checksum: (s1 ^ Math.imul(s2, -0x61c8864f)) >>> 0, keyMin, keyMax };
}

/** The signs (-1, 0, 1) of 32-bit residuals (before any negation), for fitting a low-rank model. */
function signs32(base: Int32Array, next: Int32Array, prev: Int32Array | null, beta: number): Int8Array {
  const out = signBuf.subarray(0, next.length);
  for (let i = 0; i < out.length; i++) {
    const vb = ulp32(base[i]!);
    const pred = prev !== null && beta !== 0 ? (vb + trend32(beta, (vb - ulp32(prev[i]!)) | 0)) | 0 : vb;
    const r = (ulp32(next[i]!) - pred) | 0;
    out[i] = (r >> 31) | (-r >>> 31);
  }
  return out;
}

/**
 * A low-rank sign model for the chunk when it has whole rows and the model pays; `z16`: the
 * residuals of 16-bit elements (residuals16).
 */
function lowRankFor(base: Uint8Array, next: Uint8Array, prev: Uint8Array | undefined, beta: number, n: number, cols: number | undefined, z16: Uint16Array | null): LowRank | null {
  if (!lowRankShape(n, cols)) return null;
  const signs = z16 ? signs16(z16) : signs32(view32(base), view32(next), prev ? view32(prev) : null, beta);
  return fitLowRank(signs, n / cols!, cols!);
}

// ---------------------------------------------------------------------------------------------
// Choosing context ranges.

/**
 * c · log2(c) for counts up to the elements of a default 1 MiB chunk of 16-bit values, built on
 * first use (4 MiB): the range DP looks these up for every count it sums, and Math.log2 on the
 * larger ones took about a sixth of its time.
 */
const CLOGC_TABLE = 1 << 19;
let clogcTable: Float64Array | null = null;

function clogcTableOf(): Float64Array {
  if (clogcTable === null) {
    clogcTable = new Float64Array(CLOGC_TABLE + 1);
    for (let c = 1; c <= CLOGC_TABLE; c++) clogcTable[c] = c * Math.log2(c);
  }
  return clogcTable;
}

function clogc(c: number): number {
  return c <= CLOGC_TABLE ? clogcTableOf()[c]! : c * Math.log2(c);
}

/**
 * Partitions the occurring keys into contiguous ranges minimizing entropy + table cost.
 * Returns the start key of every range after the first (the first starts at key 0).
 */
function chooseRanges(hist: Int32Array, present: number[], alphabet: number): number[] {
  const m = present.length;
  if (m <= 1) return [];
  // Per row its nonzero counts as (symbol, count), ascending, rows end to end from rowStart[i].
  const rowStart = new Int32Array(m + 1);
  const symbols = new Int32Array(m * alphabet);
  const counts = new Float64Array(m * alphabet);
  const rowLo = new Int32Array(m);
  const rowHi = new Int32Array(m);
  const rowTotal = new Float64Array(m);
  for (let i = 0, at = 0; i < m; i++) {
    const row = present[i]! * alphabet;
    let total = 0;
    rowStart[i] = at;
    for (let s = 0; s < alphabet; s++) {
      const c = hist[row + s]!;
      if (c !== 0) {
        symbols[at] = s;
        counts[at++] = c;
        total += c;
      }
    }
    rowStart[i + 1] = at;
    rowLo[i] = symbols[rowStart[i]!]!;
    rowHi[i] = symbols[at - 1]!;
    rowTotal[i] = total;
  }
  const table = clogcTableOf();
  const window = m > DP_MANY ? DP_WINDOW / 2 : DP_WINDOW;
  const best = new Float64Array(m + 1).fill(Infinity);
  const from = new Int32Array(m + 1);
  best[0] = 0;
  const sum = new Float64Array(alphabet);
  for (let j = 1; j <= m; j++) {
    sum.fill(0);
    let n = 0;
    let sumClogc = 0;
    let lo = alphabet;
    let hi = -1;
    const stop = Math.max(0, j - window);
    for (let i = j - 1; i >= stop; i--) {
      for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) {
        const s = symbols[e]!;
        const old = sum[s]!;
        const now = old + counts[e]!;
        sum[s] = now;
        sumClogc += (now <= CLOGC_TABLE ? table[now]! : now * Math.log2(now)) - (old <= CLOGC_TABLE ? table[old]! : old * Math.log2(old));
      }
      const a = rowLo[i]!;
      const b = rowHi[i]!;
      if (a < lo) lo = a;
      if (b > hi) hi = b;
      n += rowTotal[i]!;
      const cost = best[i]! + clogc(n) - sumClogc + estimateTableBits(lo, hi, alphabet) + RANGE_BITS;
      if (cost < best[j]!) {
        best[j] = cost;
        from[j] = i;
      }
    }
  }
  let starts: number[] = [];
  for (let j = m; j > 0; j = from[j]!) starts.push(from[j]!);
  starts.reverse(); // indexes into present, starts[0] === 0
  if (starts.length > MAX_RANGES) starts = mergeRanges(starts, present, hist, alphabet);
  return starts.slice(1).map((i) => present[i]!);
}

/** Rarely needed: greedily merges the adjacent pair of ranges that costs least until ≤ MAX_RANGES remain. */
function mergeRanges(starts: number[], present: number[], hist: Int32Array, alphabet: number): number[] {
  const m = present.length;
  const cost = (a: number, b: number): number => {
    const sum = new Float64Array(alphabet);
    for (let i = a; i < b; i++) for (let s = 0; s < alphabet; s++) sum[s] += hist[present[i]! * alphabet + s]!;
    let n = 0;
    let c = 0;
    let lo = alphabet;
    let hi = 0;
    for (let s = 0; s < alphabet; s++) {
      if (sum[s] === 0) continue;
      n += sum[s]!;
      c += clogc(sum[s]!);
      lo = Math.min(lo, s);
      hi = s;
    }
    return clogc(n) - c + estimateTableBits(lo, hi, alphabet);
  };
  const s = starts.slice();
  while (s.length > MAX_RANGES) {
    let bestK = 1;
    let bestD = Infinity;
    for (let k = 1; k < s.length; k++) {
      const end = k + 1 < s.length ? s[k + 1]! : m;
      const d = cost(s[k - 1]!, end) - cost(s[k - 1]!, s[k]!) - cost(s[k]!, end);
      if (d < bestD) {
        bestD = d;
        bestK = k;
      }
    }
    s.splice(bestK, 1);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Byte-level helpers.

class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }
  byte(v: number): void {
    this.buf[this.pos++] = v;
  }
  varint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.buf[this.pos++] = v & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = v >>> 24;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

class ByteReader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('residual: stream is truncated');
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw new Error('residual: invalid varint');
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  }
  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function checkLengths(info: DtypeInfo, base: Uint8Array, other: Uint8Array, what: string, prev?: Uint8Array): number {
  if (base.length > MAX_ELEMENTS * info.size) throw new Error(`residual: ${base.length} bytes is more than one call codes (at most ${MAX_ELEMENTS} elements)`);
  if (other.length !== base.length) throw new Error(`residual: ${what} is ${other.length} bytes but base is ${base.length}`);
  if (base.length % info.size !== 0) throw new Error(`residual: ${base.length} bytes is not a whole number of ${info.size}-byte elements`);
  if (prev && prev.length !== base.length) throw new Error(`residual: prev is ${prev.length} bytes but base is ${base.length}`);
  return base.length / info.size;
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Codes `next` given `base` (same length, whole elements); returns a self-contained byte stream. */
export function encodeResidual(dtype: ResidualDtype, base: Uint8Array, next: Uint8Array, options?: ResidualOptions): Uint8Array {
  const info = infoOf(dtype);
  const prevBytes = options?.prev;
  const n = checkLengths(info, base, next, 'next', prevBytes);
  const beta = checkBeta(options?.beta, prevBytes !== undefined);
  scratch(n, info.size === 2 ? n + 1 : 2 * n + 1);
  const z16 = info.size === 2 && n > 0 ? residuals16(view16(base), view16(next), prevBytes ? view16(prevBytes) : null, beta) : null;
  const lowRank = lowRankFor(base, next, prevBytes, beta, n, options?.rowLength, z16);
  const flags = info.code | (prevBytes ? FLAG_PREV : 0) | (lowRank ? FLAG_LOWRANK : 0);
  const stored = (): Uint8Array => {
    const out = new Uint8Array(2 + next.length);
    out[0] = MODE_STORED;
    out[1] = flags;
    out.set(next, 2);
    return out;
  };
  if (n === 0) return stored();

  const keyCount = keyCountOf(info, prevBytes !== undefined, lowRank !== null);
  const alphabet = alphabetOf(info, lowRank !== null);
  const hist = zeroHist(keyCount * alphabet);
  const p1 =
    info.size === 2
      ? tokens16(info, view16(base), z16!, prevBytes ? view16(prevBytes) : null, lowRank ? lowRankContexts(lowRank, lowBuf) : null, hist)
      : pass32(info, view32(base), view32(next), prevBytes ? view32(prevBytes) : null, beta, lowRank, hist);

  // Context ranges and their tables.
  const present = presentKeys(hist, p1.keyMin, p1.keyMax, alphabet);
  const starts = chooseRanges(hist, present, alphabet);
  const ranges = starts.length + 1;
  const keyMap = new Uint8Array(keyCount);
  for (let g = 0, key = 0; key < keyCount; key++) {
    if (g < starts.length && key === starts[g]) g++;
    keyMap[key] = g;
  }
  const counts = new Uint32Array(ranges * alphabet);
  for (const key of present) {
    const src = key * alphabet;
    const dst = keyMap[key]! * alphabet;
    for (let s = 0; s < alphabet; s++) counts[dst + s] += hist[src + s]!;
  }
  releaseHist(hist, present, alphabet);
  const model = buildModel(counts, ranges, alphabet);
  // The first pass stored every element's key.
  const rans = ransEncode(model, tokenBuf.subarray(0, n), keyBuf, keyMap);

  const side = new BitWriter();
  if (lowRank) writeLowRank(lowRank, side);
  side.writeGamma(starts.length);
  let last = 0;
  for (const s of starts) {
    side.writeGamma(s - last - 1);
    last = s;
  }
  writeModel(model, side);
  const sideBytes = side.finish();

  const rawWords = p1.rawWords;
  const total = 2 + 10 + 3 + 4 + 5 + 5 + sideBytes.length + 1 + rawWords * 2 + rans.length;
  const w = new ByteWriter(total);
  w.byte(MODE_CODED);
  w.byte(flags);
  w.varint(n);
  if (prevBytes) w.varint(beta);
  if (lowRank) w.varint(lowRank.cols);
  w.u32(p1.checksum);
  w.varint(sideBytes.length);
  w.varint(rawWords);
  w.bytes(sideBytes);
  if (w.pos & 1) w.byte(0);
  const raw = rawBuf.slice(0, rawWords);
  if (!LITTLE_ENDIAN) swap16(raw);
  w.bytes(new Uint8Array(raw.buffer, 0, rawWords * 2));
  w.bytes(rans);
  if (w.pos >= 2 + next.length) return stored();
  return w.buf.slice(0, w.pos);
}

/**
 * Decodes what encodeResidual produced into `dst` (same length as base), given the same base,
 * prev and beta. Throws an Error on malformed or mismatched input.
 */
export function decodeResidual(dtype: ResidualDtype, base: Uint8Array, coded: Uint8Array, dst: Uint8Array, options?: ResidualOptions): void {
  const info = infoOf(dtype);
  const prevBytes = options?.prev;
  const n = checkLengths(info, base, dst, 'dst', prevBytes);
  const beta = checkBeta(options?.beta, prevBytes !== undefined);
  const r = new ByteReader(coded);
  const mode = r.byte();
  const flags = r.byte();
  if ((flags & 0x0f) !== info.code) throw new Error(`residual: stream was coded for another dtype than ${dtype}`);
  if ((flags & ~(0x0f | FLAG_PREV | FLAG_LOWRANK)) !== 0) throw new Error('residual: unknown flags in stream');
  if (((flags & FLAG_PREV) !== 0) !== (prevBytes !== undefined)) {
    throw new Error(prevBytes ? 'residual: stream was coded without a prev base, but one was given' : 'residual: stream was coded with a prev base, which is missing');
  }
  if (mode === MODE_STORED) {
    if (coded.length !== 2 + dst.length) throw new Error(`residual: stored stream has ${coded.length - 2} bytes, expected ${dst.length}`);
    dst.set(coded.subarray(2));
    return;
  }
  if (mode !== MODE_CODED) throw new Error(`residual: unknown mode ${mode}`);
  const count = r.varint();
  if (count !== n) throw new Error(`residual: stream has ${count} elements, expected ${n}`);
  if (prevBytes) {
    const coded = r.varint();
    if (coded !== beta) throw new Error(`residual: stream was coded with beta ${coded}, decoder was given ${beta}`);
  }
  const hasLowRank = (flags & FLAG_LOWRANK) !== 0;
  const cols = hasLowRank ? r.varint() : 0;
  if (hasLowRank && !lowRankShape(n, cols)) throw new Error(`residual: low-rank model with rows of ${cols} elements does not fit ${n} elements`);
  const checksum = r.u32();
  const sideLength = r.varint();
  const rawWords = r.varint();
  const sideStart = r.pos;
  r.take(sideLength);
  if (r.pos & 1) r.take(1);
  const rawBytes = r.take(rawWords * 2);
  const ransBytes = coded.subarray(r.pos);

  const keyCount = keyCountOf(info, prevBytes !== undefined, hasLowRank);
  const alphabet = alphabetOf(info, hasLowRank);
  const side = new BitReader(coded, sideStart, sideStart + sideLength);
  const lowRank = hasLowRank ? readLowRank(side, n / cols, cols) : null;
  const rangeCount = side.readGamma() + 1;
  if (rangeCount > MAX_RANGES) throw new Error('residual: too many context ranges');
  const keyMap = new Uint8Array(keyCount);
  let start = 0;
  for (let g = 1; g < rangeCount; g++) {
    const s = start + side.readGamma() + 1;
    if (s >= keyCount) throw new Error('residual: context range out of bounds');
    keyMap.fill(g - 1, start, s);
    start = s;
  }
  keyMap.fill(rangeCount - 1, start);
  const model = readModel(side, rangeCount, alphabet);

  scratch(n, rawWords);
  const low = lowRank ? lowRankContexts(lowRank, lowBuf) : null;
  const tokens = tokenBuf.subarray(0, n);
  // An aligned copy with spare zero words past the end (the rebuild loops read ahead).
  const raw = rawBuf;
  raw.set(wordsOf(rawBytes));
  raw.fill(0, rawWords, rawWords + 4);
  const [contexts, contextMap] = contextsFor(info, base, prevBytes, low, keyMap, n);
  ransDecodeChecked(model, ransBytes, contexts, tokens, contextMap);
  let sum: number;
  if (info.size === 2) {
    sum = rebuild16(view16(base), prevBytes ? view16(prevBytes) : null, beta, low, tokens, raw, rawWords, dst);
  } else {
    const b32 = view32(base);
    const p32 = prevBytes ? view32(prevBytes) : null;
    const aligned = LITTLE_ENDIAN && (dst.byteOffset & 3) === 0;
    const out = aligned ? new Int32Array(dst.buffer, dst.byteOffset, n) : new Int32Array(n);
    sum = rebuild32(b32, p32, beta, low, tokens, raw, rawWords, out);
    if (!aligned) {
      const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
      for (let i = 0; i < n; i++) dv.setInt32(i * 4, out[i]!, true);
    }
  }
  if (sum !== checksum) throw new Error('residual: checksum mismatch (stream is corrupt or base differs)');
}

/**
 * The decoder's context sequence for rANS as (keys, key → range map): keys computed per element
 * from the bases (as the encoder's first pass did), with the low-rank model's context values `low`
 * if there is one.
 */
function contextsFor(info: DtypeInfo, base: Uint8Array, prev: Uint8Array | undefined, low: Uint8Array | null, keyMap: Uint8Array, n: number): [Uint16Array, Uint8Array] {
  if (info.size === 2) {
    keys16(info, view16(base), prev ? view16(prev) : null, low, keyBuf);
    return [keyBuf, keyMap];
  }
  keys32(info, view32(base), prev ? view32(prev) : null, keyBuf);
  if (low !== null) {
    for (let i = 0; i < n; i++) keyBuf[i] = keyBuf[i]! * BUCKETS + (low[i]! & (BUCKETS - 1));
  }
  return [keyBuf, keyMap];
}

/** The rANS stream depends on the base through the contexts: say so when it does not decode. */
function ransDecodeChecked(...args: Parameters<typeof ransDecode>): void {
  try {
    ransDecode(...args);
  } catch (e) {
    throw new Error(`residual: stream is corrupt or the base differs (${e instanceof Error ? e.message : String(e)})`);
  }
}

function keys32(info: DtypeInfo, base: Int32Array, prev: Int32Array | null, keys: Uint16Array): void {
  const n = base.length;
  const expShift = info.expShift;
  const expMask = info.expMask;
  if (prev === null) {
    for (let i = 0; i < n; i++) keys[i] = (base[i]! >>> expShift) & expMask;
    return;
  }
  for (let i = 0; i < n; i++) {
    const b = base[i]!;
    const d0 = (ulp32(b) - ulp32(prev[i]!)) | 0;
    const zd = (d0 << 1) ^ (d0 >> 31);
    keys[i] = (((b >>> expShift) & expMask) << TREND_BITS) | trendBucket(zd, d0);
  }
}

/** The raw bits must end in the last word, and the bits after them must be zero. */
function checkRawEnd(raw: Uint16Array, rawWords: number, off: number): void {
  if ((off + 15) >> 4 !== rawWords || ((off & 15) !== 0 && raw[rawWords - 1]! >>> (off & 15) !== 0)) {
    throw new Error('residual: raw bit stream length mismatch (stream is corrupt)');
  }
}

/**
 * Tokens + raw bits + base (+ prev) → elements (little-endian bytes into `dst`), with a low-rank
 * model's context values in `low` if there is one; returns the checksum of the z values. In
 * WebAssembly (`rebuild16` in src/codec/wasm/planes.wat): inputs copied in, elements copied out.
 */
function rebuild16(base: Uint16Array, prev: Uint16Array | null, beta: number, low: Uint8Array | null, tokens: Uint8Array, raw: Uint16Array, rawWords: number, dst: Uint8Array): number {
  const n = base.length;
  const tokensAt = 0;
  const rawAt = align16(n);
  const resultAt = rawAt + align16(2 * rawWords + 4);
  const staged = stage16(base, prev, null, low, resultAt + 16);
  const at = (offset: number): number => staged.moreAt + offset;
  const memory = staged.memory;
  memory.set(tokens.subarray(0, n), at(tokensAt));
  memory.set(bytesOf(raw, rawWords + 2), at(rawAt));
  kernels.rebuild16(0, staged.prevAt, at(tokensAt), at(rawAt), rawWords * 16, staged.nextAt, n, prev ? beta : 0, staged.lowAt, low ? 1 : 0, at(resultAt));
  const [off, s1, s2] = new Int32Array(memory.buffer, at(resultAt), 3) as unknown as number[];
  checkRawEnd(raw, rawWords, off!);
  dst.set(memory.subarray(staged.nextAt, staged.nextAt + 2 * n));
  return (s1! ^ Math.imul(s2!, -0x61c8864f)) >>> 0;
}

function rebuild32(base: Int32Array, prev: Int32Array | null, beta: number, flips: Uint8Array | null, tokens: Uint8Array, raw: Uint16Array, rawWords: number, out: Int32Array): number {
  const n = out.length;
  const rawBits = rawWords * 16;
  let off = 0;
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n && off <= rawBits; i++) {
    const t = tokens[i]!;
    let z = t;
    if (t >= 16) {
      // k ≤ 29 raw bits: 16 from the 32 bits at word off >> 4, the rest from the next window.
      const k = flips !== null ? ((t - 16) >> 3) + 1 : (t >> 2) - 2;
      const w = off >> 4;
      const sh = off & 15;
      const low = ((raw[w]! | (raw[w + 1]! << 16)) >>> sh) & 0xffff;
      let bits: number;
      if (k > 16) {
        bits = low | ((((raw[w + 1]! | (raw[w + 2]! << 16)) >>> sh) & ((1 << (k - 16)) - 1)) << 16);
      } else {
        bits = low & ((1 << k) - 1);
      }
      off += k;
      z = flips !== null ? ((((4 | ((t >> 1) & 3)) << k) | bits) << 1) | (t & 1) : ((4 | (t & 3)) << k) | bits;
    }
    const m = flips !== null ? -(flips[i]! >> FLIP_SHIFT) : 0;
    s1 = (s1 + (z ^ m)) | 0;
    s2 = (s2 + s1) | 0;
    const vb = ulp32(base[i]!);
    const pred = prev !== null && beta !== 0 ? (vb + trend32(beta, (vb - ulp32(prev[i]!)) | 0)) | 0 : vb;
    out[i] = ulp32((pred + ((((z >>> 1) ^ -(z & 1)) ^ m) - m)) | 0);
  }
  checkRawEnd(raw, rawWords, off);
  return (s1 ^ Math.imul(s2, -0x61c8864f)) >>> 0;
}

/** Total bit length of the 16-bit residuals d1 - round(beta/256 · d0), wrapped like the coder's. */
function betaCost32(d0: Float64Array, d1: Float64Array, beta: number): number {
  let bits = 0;
  for (let j = 0; j < d0.length; j++) {
    const r = (d1[j]! - trend32(beta, d0[j]!)) | 0;
    bits += r === -0x80000000 ? 32 : 32 - Math.clz32(r < 0 ? -r : r);
  }
  return bits;
}

/**
 * Fits beta (numerator over 256, in [0, 256]) for pred = v_base + beta/256 · (v_base - v_prev) in
 * the ULP-integer domain. Not plain least squares: a few elements that cross zero or jump
 * exponents have ULP differences thousands of times larger than the rest and would decide a
 * least-squares fit alone (measured on the fine-tune chain: least squares gives beta ≈ 0 where
 * the best beta is ≈ 1). Instead beta minimizes the total bit length of the residuals over a
 * sample of up to BETA_SAMPLES elements, searched coarse to fine.
 */
export function fitBeta(dtype: ResidualDtype, base: Uint8Array, prev: Uint8Array, next: Uint8Array): number {
  const info = infoOf(dtype);
  const n = checkLengths(info, base, next, 'next', prev);
  if (n === 0) return 0;
  const samples = Math.min(n, BETA_SAMPLES);
  const stride = n / samples;
  let cost: (beta: number) => number;
  if (info.size === 2) {
    const b = view16(base);
    const p = view16(prev);
    const x = view16(next);
    // In wasm memory for the SIMD cost kernel, padded to whole vectors with zero pairs (which cost nothing).
    const padded = (samples + 3) & ~3;
    const memory = wasmMemory(8 * padded);
    const d0 = new Int32Array(memory.buffer, 0, padded).fill(0);
    const d1 = new Int32Array(memory.buffer, 4 * padded, padded).fill(0);
    for (let j = 0; j < samples; j++) {
      const i = Math.floor(j * stride);
      const vb = ulp16(b[i]!);
      const vp = ulp16(p[i]!);
      const vx = ulp16(x[i]!);
      d0[j] = ((vb - vp) << 16) >> 16;
      d1[j] = ((vx - vb) << 16) >> 16;
    }
    cost = (beta) => kernels.betaCost16(0, 4 * padded, padded, beta);
  } else {
    const b = view32(base);
    const p = view32(prev);
    const x = view32(next);
    const d0 = new Float64Array(samples);
    const d1 = new Float64Array(samples);
    for (let j = 0; j < samples; j++) {
      const i = Math.floor(j * stride);
      const vb = ulp32(b[i]!);
      const vp = ulp32(p[i]!);
      const vx = ulp32(x[i]!);
      d0[j] = (vb - vp) | 0;
      d1[j] = (vx - vb) | 0;
    }
    cost = (beta) => betaCost32(d0, d1, beta);
  }
  let bestBeta = 0;
  let bestCost = cost(0);
  let lo = 0;
  let hi = 256;
  for (const step of [32, 8, 2, 1]) {
    for (let beta = lo; beta <= hi; beta += step) {
      if (beta === bestBeta) continue;
      const c = cost(beta);
      if (c < bestCost) {
        bestCost = c;
        bestBeta = beta;
      }
    }
    lo = Math.max(0, bestBeta - step + 1);
    hi = Math.min(256, bestBeta + step - 1);
  }
  return bestBeta;
}

/**
 * Runs every coding path once on a small input at load time. V8 optimizes the hot loops while
 * they run on the first large chunk (on-stack replacement), before the code after the loops has
 * ever run; that code then lacks type feedback and deoptimized on every later call (measured: a
 * deoptimization per chunk, encoding 2× slower). Running everything once on small inputs first
 * gives the optimizer complete feedback. Costs well under a millisecond.
 */
function warmUp(): void {
  const n = 67;
  const b16 = new Uint16Array(n);
  const x16 = new Uint16Array(n);
  const p16 = new Uint16Array(n);
  const b32 = new Uint32Array(n);
  const x32 = new Uint32Array(n);
  const p32 = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    b16[i] = 0x3c00 + ((i * 37) & 0x3ff);
    p16[i] = b16[i]! - (i % 5);
    x16[i] = b16[i]! + ((i * 7) % 9) - 4 + (i % 11 === 0 ? 900 : 0);
    b32[i] = 0x3c000000 + ((i * 0x12345) & 0x3ffffff);
    p32[i] = b32[i]! - (i % 5) * 1000;
    x32[i] = b32[i]! + ((i * 7) % 9) * 3000 - 12000 + (i % 11 === 0 ? 1e7 : 0);
  }
  const bytes = (a: Uint16Array | Uint32Array) => new Uint8Array(a.buffer);
  const cases: Array<[ResidualDtype, Uint8Array, Uint8Array, Uint8Array]> = [
    ['BF16', bytes(b16), bytes(x16), bytes(p16)],
    ['F16', bytes(b16), bytes(x16), bytes(p16)],
    ['F32', bytes(b32), bytes(x32), bytes(p32)],
  ];
  for (const [dtype, base, next, prev] of cases) {
    const dst = new Uint8Array(next.length);
    for (const options of [undefined, { prev, beta: 100 }]) {
      const coded = encodeResidual(dtype, base, next, options);
      decodeResidual(dtype, base, coded, dst, options);
    }
    fitBeta(dtype, base, prev, next);
  }
}
warmUp();
