/**
 * A low-rank model of the signs of a residual matrix, for the residual coder (./residual-encode.ts).
 *
 * Fine-tuning with Adam moves each weight by about lr · sign(gradient) per step, and a layer's
 * gradient is a sum of a few outer products, so the signs of a chunk's residuals (rows × cols,
 * row-major) are close to the signs of a low-rank matrix, and where its components agree the
 * weights moved consistently and far. The encoder fits P = U·Vᵀ (rank RANK) to the sign matrix and
 * sends U and V as small integers; both sides then get, per element, the sign of P (the residual
 * is negated where P < 0, so its sign becomes predictable) and a confidence bucket of |P| (a
 * context).
 *
 * Side information (bits, LSB first): per row the RANK entries of U as U_BITS-bit two's
 * complement, per column those of V in V_BITS bits, then the bucket thresholds as gamma(t1),
 * gamma(t2 - t1), gamma(t3 - t2).
 */
import type { BitReader, BitWriter } from '../codec/bits.js';
import { align16, kernels, wasmMemory } from '../kernels/index.js';

/** The loops here and in codec/wasm/planes.wat are written out for this rank. */
const RANK = 4;
const U_BITS = 5;
const V_BITS = 4;
const U_MAX = (1 << (U_BITS - 1)) - 1;
const V_MAX = (1 << (V_BITS - 1)) - 1;
/** |P| ≤ P_MAX for any U and V in the stream. */
export const P_MAX = RANK << (U_BITS - 1 + V_BITS - 1);
/**
 * V is fitted to every ROW_STEP-th row only, by ITERATIONS rounds of subspace iteration; U is then
 * computed for every row (denser sampling or more rounds gain little and cost encoding time).
 */
const ROW_STEP = 8;
const ITERATIONS = 3;
/** Smallest matrix worth a model: the side information is (U_BITS · rows + V_BITS · cols) · RANK bits. */
const MIN_ROWS = 16;
const MIN_COLS = 16;
/**
 * A per-element context value is the confidence bucket of |P| (from thresholds, in [0, BUCKETS))
 * plus 1 << FLIP_SHIFT where P < 0 (the residual is negated).
 */
export const FLIP_SHIFT = 2;
export const BUCKETS = 1 << FLIP_SHIFT;

export interface LowRank {
  rows: number;
  cols: number;
  /** U[i · RANK + c] and V[j · RANK + c]. */
  u: Int8Array;
  v: Int8Array;
  thresholds: [number, number, number];
}

/** Whether a chunk of `count` elements in rows of `cols` can carry a model. */
export function lowRankShape(count: number, cols: number | undefined): boolean {
  return cols !== undefined && cols >= MIN_COLS && count % cols === 0 && count / cols >= MIN_ROWS;
}

/**
 * Fits a model to the signs (-1, 0, 1) of a rows × cols residual matrix (row-major); null when it
 * would not pay for its side information (judged on the sampled rows from how often it predicts
 * the sign right).
 */
export function fitLowRank(signs: Int8Array, rows: number, cols: number): LowRank | null {
  const m = Math.ceil(rows / ROW_STEP);
  const sample = new Int8Array(m * cols);
  for (let t = 0; t < m; t++) sample.set(signs.subarray(t * ROW_STEP * cols, (t * ROW_STEP + 1) * cols), t * cols);
  const [v, weights] = quantizeColumns(sampledSubspace(sample, m, cols), cols);
  const dots = rowDots(signs, rows, cols, v);
  // The sampled rows set the scale and decide whether the model pays.
  let max = 0;
  for (let t = 0; t < m; t++) {
    for (let c = 0; c < RANK; c++) max = Math.max(max, Math.abs(dots[t * ROW_STEP * RANK + c]!) * weights[c]!);
  }
  if (max === 0) return null;
  for (let c = 0; c < RANK; c++) weights[c] *= U_MAX / max;
  const u = new Int8Array(rows * RANK);
  quantizeRows(dots, weights, u);
  const stats = sampleStats(sample, u, v, cols);
  if (!pays(stats, rows, cols)) return null;
  return { rows, cols, u, v, thresholds: quartiles(stats.hist, sample.length) };
}

/**
 * V (cols × RANK) as RANK planes of i16 in wasm memory at `at`, each zero-padded to whole SIMD
 * steps of 8 columns; returns the planes' stride in bytes.
 */
function stageV(memory: Uint8Array, at: number, v: Int8Array, cols: number): number {
  const stride = vStride(cols);
  const planes = new Int16Array(memory.buffer, at, (RANK * stride) / 2).fill(0);
  for (let j = 0; j < cols; j++) for (let c = 0; c < RANK; c++) planes[(c * stride) / 2 + j] = v[j * RANK + c]!;
  return stride;
}

/** Bytes per plane of V in wasm memory: i16 columns padded to whole SIMD steps of 8. */
const vStride = (cols: number): number => 2 * (Math.ceil(cols / 8) * 8);
const vBytes = (cols: number): number => RANK * vStride(cols);

/** Per row, the signs times V (RANK integers a row), in WebAssembly (`rowDots` in planes.wat). */
function rowDots(signs: Int8Array, rows: number, cols: number, v: Int8Array): Int32Array {
  const vAt = align16(rows * cols + 16);
  const outAt = vAt + vBytes(cols);
  const memory = wasmMemory(outAt + 4 * RANK * rows);
  memory.set(signs.subarray(0, rows * cols), 0);
  const stride = stageV(memory, vAt, v, cols);
  kernels.rowDots(0, vAt, stride, rows, cols, outAt);
  return new Int32Array(memory.slice(outAt, outAt + 4 * RANK * rows).buffer);
}

/** u[t] = round(dots[t] · weights[component]), clamped to [-U_MAX, U_MAX]. */
function quantizeRows(dots: Int32Array, weights: Float64Array, u: Int8Array): void {
  for (let t = 0; t < u.length; t++) {
    u[t] = Math.max(-U_MAX, Math.min(U_MAX, Math.round(dots[t]! * weights[t & (RANK - 1)]!)));
  }
}

/**
 * An orthonormal basis (cols × RANK) of the leading right singular subspace of the m sampled rows:
 * randomized subspace iteration from fixed pseudo-random ±1 weights of the rows. The products with
 * the sample run in WebAssembly (subspaceMultiply, subspaceMultiplyT in planes.wat).
 */
function sampledSubspace(sample: Int8Array, m: number, cols: number): Float64Array {
  const wAt = align16(sample.length);
  const vAt = wAt + 8 * RANK * m;
  const memory = wasmMemory(vAt + 8 * RANK * cols);
  memory.set(sample, 0);
  const w = new Float64Array(memory.buffer, wAt, m * RANK);
  let seed = 0x9e3779b9;
  for (let t = 0; t < w.length; t++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
    w[t] = seed < 0 ? -1 : 1;
  }
  const v = new Float64Array(memory.buffer, vAt, cols * RANK);
  for (let it = 0; it < ITERATIONS; it++) {
    if (it > 0) kernels.subspaceMultiply(0, m, cols, vAt, wAt);
    v.fill(0);
    kernels.subspaceMultiplyT(0, m, cols, wAt, vAt);
    orthonormalize(v, cols);
  }
  return v.slice();
}

/** Gram-Schmidt on the columns of a (n × RANK, row-major); a column that vanishes stays zero. */
function orthonormalize(a: Float64Array, n: number): void {
  for (let c = 0; c < RANK; c++) {
    for (let d = 0; d < c; d++) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += a[j * RANK + c]! * a[j * RANK + d]!;
      for (let j = 0; j < n; j++) a[j * RANK + c] -= dot * a[j * RANK + d]!;
    }
    let norm = 0;
    for (let j = 0; j < n; j++) norm += a[j * RANK + c]! ** 2;
    const scale = norm > 1e-9 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < n; j++) a[j * RANK + c] *= scale;
  }
}

/**
 * V with every component scaled to [-V_MAX, V_MAX], and per component the weight that turns
 * S · V back into the unscaled S · v times that scale (so P keeps the components' relative
 * weights), up to a common factor.
 */
function quantizeColumns(v: Float64Array, cols: number): [Int8Array, Float64Array] {
  const vq = new Int8Array(cols * RANK);
  const weights = new Float64Array(RANK);
  for (let c = 0; c < RANK; c++) {
    let max = 0;
    for (let j = 0; j < cols; j++) max = Math.max(max, Math.abs(v[j * RANK + c]!));
    const to = max > 0 ? V_MAX / max : 0;
    for (let j = 0; j < cols; j++) vq[j * RANK + c] = Math.round(v[j * RANK + c]! * to);
    weights[c] = (max / V_MAX) ** 2;
  }
  return [vq, weights];
}

interface SampleStats {
  /** Of |P|. */
  hist: Int32Array;
  nonzero: number;
  /** Nonzero residuals whose sign P gets wrong (or P = 0). */
  wrong: number;
}

/**
 * Over the sampled rows (`sample` holds their signs): P's magnitudes and how well it predicts
 * signs, in WebAssembly (sampleStats in planes.wat).
 */
function sampleStats(sample: Int8Array, u: Int8Array, v: Int8Array, cols: number): SampleStats {
  const m = sample.length / cols;
  const uAt = align16(sample.length);
  const vAt = uAt + align16(8 * m);
  const histAt = vAt + vBytes(cols);
  const outAt = histAt + 4 * (P_MAX + 1);
  const memory = wasmMemory(outAt + 8);
  memory.set(sample, 0);
  const sampledU = new Int16Array(memory.buffer, uAt, RANK * m);
  for (let t = 0; t < m; t++) sampledU.set(u.subarray(t * ROW_STEP * RANK, (t * ROW_STEP + 1) * RANK), t * RANK);
  const stride = stageV(memory, vAt, v, cols);
  new Int32Array(memory.buffer, histAt, P_MAX + 1).fill(0);
  kernels.sampleStats(0, m, cols, uAt, vAt, stride, histAt, outAt);
  const [nonzero, wrong] = new Int32Array(memory.buffer, outAt, 2);
  return { hist: new Int32Array(memory.slice(histAt, outAt).buffer), nonzero: nonzero!, wrong: wrong! };
}

/** Quartiles of |P| from its histogram over n elements. */
function quartiles(hist: Int32Array, n: number): [number, number, number] {
  const out: number[] = [];
  let seen = 0;
  for (let a = 0, q = 1; q < BUCKETS; a++) {
    seen += hist[a]!;
    while (q < BUCKETS && seen * BUCKETS >= q * n) {
      out.push(a);
      q++;
    }
  }
  return [out[0]!, out[1]!, out[2]!];
}

/**
 * Whether the bits the predicted signs save, 1 - H(p) per nonzero residual at a wrong-sign rate p
 * on the sampled rows, exceed twice the side information (the confidence context saves about as
 * much again on magnitudes, but costs tables).
 */
function pays(stats: SampleStats, rows: number, cols: number): boolean {
  const { nonzero, wrong } = stats;
  if (nonzero === 0) return false;
  const p = Math.min(0.5, wrong / nonzero);
  const entropy = p > 0 ? -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p)) : 0;
  const sideBits = RANK * (U_BITS * rows + V_BITS * cols) + 64;
  const sampledRows = Math.ceil(rows / ROW_STEP);
  return nonzero * (1 - entropy) * (rows / sampledRows) > 2 * sideBits;
}

/**
 * The context value (see FLIP_SHIFT) of every element into `out`, in WebAssembly (`lowRank16` in
 * src/codec/wasm/planes.wat); returns the filled part of `out`.
 */
export function lowRankContexts(model: LowRank, out: Uint8Array): Uint8Array {
  const { rows, cols, u, v } = model;
  const vAt = align16(2 * u.length);
  const outAt = vAt + vBytes(cols);
  const memory = wasmMemory(outAt + rows * cols + 16);
  new Int16Array(memory.buffer, 0, u.length).set(u);
  const stride = stageV(memory, vAt, v, cols);
  // |P| <= P_MAX, so larger thresholds (possible in a corrupt stream) all act alike.
  const [t1, t2, t3] = model.thresholds.map((t) => Math.min(t, P_MAX));
  kernels.lowRank16(0, vAt, stride, rows, cols, t1!, t2!, t3!, outAt);
  out.set(memory.subarray(outAt, outAt + rows * cols));
  return out.subarray(0, rows * cols);
}

export function writeLowRank(model: LowRank, w: BitWriter): void {
  for (const x of model.u) w.write(x, U_BITS);
  for (const x of model.v) w.write(x, V_BITS);
  const [t1, t2, t3] = model.thresholds;
  w.writeGamma(t1);
  w.writeGamma(t2 - t1);
  w.writeGamma(t3 - t2);
}

/** Reads a model for a rows × cols chunk. */
export function readLowRank(r: BitReader, rows: number, cols: number): LowRank {
  const u = new Int8Array(rows * RANK);
  const v = new Int8Array(cols * RANK);
  for (let t = 0; t < u.length; t++) u[t] = (r.read(U_BITS) << (32 - U_BITS)) >> (32 - U_BITS);
  for (let t = 0; t < v.length; t++) v[t] = (r.read(V_BITS) << (32 - V_BITS)) >> (32 - V_BITS);
  const t1 = r.readGamma();
  const t2 = t1 + r.readGamma();
  const t3 = t2 + r.readGamma();
  return { rows, cols, u, v, thresholds: [t1, t2, t3] };
}
