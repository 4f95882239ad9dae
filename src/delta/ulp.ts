/**
 * The fast delta transform: each value's bits as an order-preserving integer (sign-magnitude made
 * two's complement, a bijection on bit patterns: ±0, NaN payloads and ±inf round-trip), minus the
 * prediction (the base's, or base + beta/256 · (base − older base)), modulo 2^bits, zigzagged.
 * A small change in value is a small number even across a power of two, unlike XOR.
 */
import { storeWords, words16, words32 } from '../codec/bytes.js';
import type { DeltaDtype } from '../dtypes.js';
import { align16, GROUP } from '../kernels/index.js';
import { inputAt, outputTo, spaceFor, type KernelSpace } from '../kernels/kernel-space.js';
import { predict16, predict32, ulp16, ulp32 } from './ulp-map.js';

export interface Prediction {
  /** The older base, same length, and the weight of the trend (numerator over 256). */
  prev: Uint8Array;
  beta: number;
}

/** Writes the zigzagged residuals of `next` (little-endian, same width) into `out`. */
export function ulpResiduals(dtype: DeltaDtype, base: Uint8Array, next: Uint8Array, out: Uint8Array, prediction?: Prediction): void {
  const beta = prediction?.beta ?? 0;
  if (dtype === 'F32') {
    const b = words32(base);
    const x = words32(next);
    const p = prediction ? words32(prediction.prev) : undefined;
    const z = words32(out);
    for (let i = 0; i < x.length; i++) {
      const vb = ulp32(b[i]!);
      const pred = p ? predict32(beta, vb, ulp32(p[i]!)) : vb;
      const r = (ulp32(x[i]!) - pred) | 0;
      z[i] = (r << 1) ^ (r >> 31);
    }
    storeWords(z, out);
    return;
  }
  const b = words16(base);
  const x = words16(next);
  const p = prediction ? words16(prediction.prev) : undefined;
  const z = words16(out);
  for (let i = 0; i < x.length; i++) {
    const vb = ulp16(b[i]!);
    const pred = p ? predict16(beta, vb, ulp16(p[i]!)) : vb;
    const r = ((ulp16(x[i]!) - pred) << 16) >> 16;
    z[i] = (r << 1) ^ (r >> 31);
  }
  storeWords(z, out);
}

/** Inverse of ulpResiduals: rebuilds the values into `dst` from the base and the residuals. */
export function ulpRestore(dtype: DeltaDtype, base: Uint8Array, residuals: Uint8Array, dst: Uint8Array, prediction?: Prediction): void {
  const beta = prediction?.beta ?? 0;
  if (dtype === 'F32') {
    const b = words32(base);
    const z = words32(residuals);
    const p = prediction ? words32(prediction.prev) : undefined;
    const x = words32(dst);
    for (let i = 0; i < x.length; i++) {
      const vb = ulp32(b[i]!);
      const pred = p ? predict32(beta, vb, ulp32(p[i]!)) : vb;
      x[i] = ulp32((pred + ((z[i]! >>> 1) ^ -(z[i]! & 1))) | 0);
    }
    storeWords(x, dst);
  } else {
    const b = words16(base);
    const z = words16(residuals);
    const p = prediction ? words16(prediction.prev) : undefined;
    const x = words16(dst);
    for (let i = 0; i < x.length; i++) {
      const vb = ulp16(b[i]!);
      const pred = p ? predict16(beta, vb, ulp16(p[i]!)) : vb;
      x[i] = ulp16((pred + ((z[i]! >>> 1) ^ -(z[i]! & 1))) & 0xffff);
    }
    storeWords(x, dst);
  }
}

/**
 * Where ulpPlanes16 and ulpRestorePlanes16 keep things in a kernel space for a chunk of `length`
 * bytes: the base (rebuilt in place by the restore) from the space's scratch start, the two
 * residual planes where the `bytes2` split keeps its plane buffers, then the older base; then the
 * new values (split only).
 */
function layout16(space: KernelSpace, length: number) {
  const { base } = space;
  const count = length >> 1;
  const groups = Math.floor(count / GROUP);
  const span = align16(length);
  const [lo, hi, prev] = [base + span, base + span + align16(count), base + span + 2 * align16(count)];
  return { base, count, groups, bulk: groups * GROUP * 2, lo, hi, prev, next: prev + span, end: prev + 2 * span };
}

/** The prediction for the bytes from `offset` on (the plain-TS tail after the SIMD groups). */
function predictionFrom(prediction: Prediction | undefined, offset: number): Prediction | undefined {
  return prediction && { ...prediction, prev: prediction.prev.subarray(offset) };
}

/**
 * Grows the kernel space of `dst` for ulpRestorePlanes16 up front: planes decoded into the
 * `bytes2` split's buffers are used where they are, and growing ordinary memory later would detach them.
 */
export function reserveRestore16(dst: Uint8Array): void {
  const space = spaceFor(dst);
  space.memory(layout16(space, dst.length).next);
}

/**
 * The fast 16-bit delta in WebAssembly SIMD: the residual byte planes [low bytes, high bytes], as
 * `bytes2` would split `ulpResiduals`' output. Views of wasm memory, valid until the next call.
 */
export function ulpPlanes16(base: Uint8Array, next: Uint8Array, prediction?: Prediction): Uint8Array[] {
  const space = spaceFor(next);
  const at = layout16(space, next.length);
  const { count, groups, bulk } = at;
  const memory = space.memory(at.end);
  memory.set(base.subarray(0, bulk), at.base);
  memory.set(next.subarray(0, bulk), at.next);
  if (prediction) memory.set(prediction.prev.subarray(0, bulk), at.prev);
  space.kernels.ulpSplit16(at.base, prediction ? at.prev : 0, at.next, at.lo, at.hi, groups, prediction?.beta ?? 0);
  const rest = new Uint8Array(next.length - bulk);
  ulpResiduals('BF16', base.subarray(bulk), next.subarray(bulk), rest, predictionFrom(prediction, bulk));
  for (let i = 0; i < rest.length >> 1; i++) {
    memory[at.lo + groups * GROUP + i] = rest[2 * i]!;
    memory[at.hi + groups * GROUP + i] = rest[2 * i + 1]!;
  }
  return [memory.subarray(at.lo, at.lo + count), memory.subarray(at.hi, at.hi + count)];
}

/**
 * Inverse of ulpPlanes16: rebuilds the values into `dst` from the base(s) and the two planes, over
 * the base's copy in wasm memory (see reserveRestore16).
 */
export function ulpRestorePlanes16(base: Uint8Array, [low, high]: Uint8Array[], dst: Uint8Array, prediction?: Prediction): void {
  const space = spaceFor(dst);
  const at = layout16(space, dst.length);
  const { groups, bulk } = at;
  const memory = space.memory(at.next);
  const [lo, hi] = [inputAt(space, memory, low!, at.lo, groups * GROUP), inputAt(space, memory, high!, at.hi, groups * GROUP)];
  memory.set(base.subarray(0, bulk), at.base);
  if (prediction) memory.set(prediction.prev.subarray(0, bulk), at.prev);
  outputTo(space, memory, dst, at.base, bulk, (to) => space.kernels.ulpMerge16(at.base, prediction ? at.prev : 0, lo, hi, to, groups, prediction?.beta ?? 0));
  const rest = new Uint8Array(dst.length - bulk);
  for (let i = 0; i < rest.length >> 1; i++) {
    rest[2 * i] = low![groups * GROUP + i]!;
    rest[2 * i + 1] = high![groups * GROUP + i]!;
  }
  ulpRestore('BF16', base.subarray(bulk), rest, dst.subarray(bulk), predictionFrom(prediction, bulk));
}
