/**
 * The residual coder's passes over 16-bit elements, in WebAssembly (planes.wat: residual16,
 * signs16, keys16, tokens16, rebuild16): inputs are staged into wasm memory, results copied out.
 */
import { bytesOf } from '../codec/bytes.js';
import { align16, kernels, wasmMemory } from '../kernels/index.js';
import { alphabetOf, TREND_BITS, type DtypeInfo } from './contexts.js';
import { FLIP_SHIFT } from './lowrank.js';
import { checkRawEnd, finishChecksum } from './residual-format.js';
import { scratch, type FirstPass } from './scratch.js';

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

/** The zigzagged residuals of 16-bit elements into scratch.z. */
export function residuals16(base: Uint16Array, next: Uint16Array, prev: Uint16Array | null, beta: number): Uint16Array {
  const n = next.length;
  const staged = stage16(base, prev, next, null, 0);
  kernels.residual16(0, staged.prevAt, staged.nextAt, n, prev ? beta : 0);
  scratch.z.set(new Uint16Array(staged.memory.buffer, staged.nextAt, n));
  return scratch.z.subarray(0, n);
}

/** The signs (-1, 0, 1) of zigzagged 16-bit residuals into scratch.signs. */
export function signs16(z: Uint16Array): Int8Array {
  const n = z.length;
  const outAt = align16(2 * n) + 16;
  const memory = wasmMemory(outAt + n + 16);
  memory.set(bytesOf(z), 0);
  kernels.signs16(0, n, outAt);
  scratch.signs.set(new Int8Array(memory.buffer, outAt, n));
  return scratch.signs.subarray(0, n);
}

/**
 * The context keys of a staged chunk (see stage16), with the trend where there is an older base
 * and the confidence bucket where there is a low-rank model; returns the smallest and largest key
 * (passed through the first bytes of the staged `more` space).
 */
function keysInMemory(info: DtypeInfo, n: number, staged: ReturnType<typeof stage16>, hasPrev: boolean, hasLowRank: boolean): [number, number] {
  const outAt = staged.moreAt;
  kernels.keys16(0, staged.prevAt, staged.lowAt, n, staged.keysAt, info.expShift, info.expMask, hasPrev ? TREND_BITS : 0, hasLowRank ? FLIP_SHIFT : 0, outAt);
  const [keyMin, keyMax] = new Int32Array(kernels.memory.buffer, outAt, 2) as unknown as number[];
  return [keyMin!, keyMax!];
}

/** The context keys of 16-bit elements into `keys` (`low`: the low-rank context values, if any). */
export function keys16(info: DtypeInfo, base: Uint16Array, prev: Uint16Array | null, low: Uint8Array | null, keys: Uint16Array): void {
  const n = base.length;
  const staged = stage16(base, prev, null, low, 16);
  keysInMemory(info, n, staged, prev !== null, low !== null);
  keys.set(new Uint16Array(staged.memory.buffer, staged.keysAt, n));
}

/**
 * The encoder's first pass from the residuals `z`: the tokens, keys and raw bits into `scratch`,
 * the counts into `hist` (only the rows of the keys between the smallest and the largest that
 * occurred: `hist` is zero elsewhere, see zeroHist), with a low-rank model's context values in
 * `low` if there is one.
 */
export function tokens16(info: DtypeInfo, base: Uint16Array, z: Uint16Array, prev: Uint16Array | null, low: Uint8Array | null, hist: Int32Array): FirstPass {
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
  scratch.tokens.set(memory.subarray(at(tokensAt), at(tokensAt) + n));
  scratch.keys.set(new Uint16Array(memory.buffer, staged.keysAt, n));
  scratch.raw.set(new Uint16Array(memory.buffer, at(rawAt), rawWords + 1));
  if (rowsTo > rowsFrom) hist.set(counts.subarray(rowsFrom, rowsTo), rowsFrom);
  return { rawWords, checksum: finishChecksum(s1!, s2!), keyMin, keyMax };
}

/**
 * The decoder's last step: tokens + raw bits + base (+ prev) → elements (little-endian bytes into
 * `dst`), with a low-rank model's context values in `low` if there is one; returns the checksum.
 */
export function rebuild16(base: Uint16Array, prev: Uint16Array | null, beta: number, low: Uint8Array | null, tokens: Uint8Array, raw: Uint16Array, rawWords: number, dst: Uint8Array): number {
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
  return finishChecksum(s1!, s2!);
}
