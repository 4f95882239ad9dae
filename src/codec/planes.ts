/**
 * Plane splits: reversible rearrangements of a chunk's elements into separate byte planes, so that
 * bytes with similar statistics (the exponent above all) are entropy-coded together.
 * Every split handles any input length: whole elements are split, a tail shorter than one element
 * (only possible for unknown-size data) goes into a last plane as it is.
 */
import { storeWords, words16, words32 } from './bytes.js';

export interface PlaneSplit {
  readonly name: string;
  /** Bytes per element. */
  readonly width: number;
  /** Names of the planes made from whole elements (a tail, if any, adds one more: "tail"). */
  readonly planeNames: readonly string[];
  /** Splits `src` into planes (element planes first, then the tail if any). */
  split(src: Uint8Array): Uint8Array[];
  /** Inverse of split: writes the original bytes into `dst` (whose length is the original length). */
  merge(planes: Uint8Array[], dst: Uint8Array): void;
  /** Buffers to decode the planes of `dst`'s bytes into before `merge(planes, dst)` (reused between calls). */
  buffers(dst: Uint8Array): Uint8Array[];
}

const pool: Uint8Array[] = [];

/** Reused plane buffers for the plain splits (fresh ones would cost page faults and GC per chunk). */
function pooledBuffers(this: PlaneSplit, { length }: Uint8Array): Uint8Array[] {
  return planeLengths(this, length).map((planeLength, k) => {
    if ((pool[k]?.length ?? -1) < planeLength) pool[k] = new Uint8Array(planeLength);
    return pool[k]!.subarray(0, planeLength);
  });
}

/** Element count and tail length for a buffer of `length` bytes split by `width`. */
function shape(length: number, width: number): { count: number; tail: number } {
  const count = Math.floor(length / width);
  return { count, tail: length - count * width };
}

function withTail(src: Uint8Array, width: number, planes: Uint8Array[]): Uint8Array[] {
  const { count, tail } = shape(src.length, width);
  if (tail > 0) planes.push(new Uint8Array(src.subarray(count * width)));
  return planes;
}

function copyTail(planes: Uint8Array[], planeCount: number, dst: Uint8Array, width: number): void {
  const { count, tail } = shape(dst.length, width);
  if (tail > 0) dst.set(planes[planeCount]!.subarray(0, tail), count * width);
}

/** The identity: one plane, the bytes as they are (1-byte types, unknown dtypes, opaque data). */
export const identity: PlaneSplit = {
  name: 'bytes',
  width: 1,
  planeNames: ['bytes'],
  buffers: pooledBuffers,
  split: (src) => [src],
  merge: (planes, dst) => dst.set(planes[0]!.subarray(0, dst.length)),
};

/**
 * bf16 (and any 16-bit float read the same way): plane 0 = the 8 bits below the sign
 * (bf16's exponent), plane 1 = sign + the 7 low bits. ZipNN's arrangement.
 */
export const bitSplit16: PlaneSplit = {
  name: 'bits16',
  width: 2,
  planeNames: ['exponent', 'sign+mantissa'],
  buffers: pooledBuffers,
  split(src) {
    const { count } = shape(src.length, 2);
    const words = words16(src);
    const exp = new Uint8Array(count);
    const rest = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const w = words[i]!;
      exp[i] = w >>> 7;
      rest[i] = ((w >>> 8) & 0x80) | (w & 0x7f);
    }
    return withTail(src, 2, [exp, rest]);
  },
  merge(planes, dst) {
    const { count } = shape(dst.length, 2);
    const exp = planes[0]!;
    const rest = planes[1]!;
    const words = words16(dst);
    for (let i = 0; i < count; i++) {
      const r = rest[i]!;
      words[i] = ((r & 0x80) << 8) | (exp[i]! << 7) | (r & 0x7f);
    }
    storeWords(words, dst);
    copyTail(planes, 2, dst, 2);
  },
};

/** fp32: plane 0 = exponent byte, plane 1 = sign + top 7 mantissa bits, planes 2–3 = low mantissa bytes. */
export const bitSplit32: PlaneSplit = {
  name: 'bits32',
  width: 4,
  planeNames: ['exponent', 'sign+mantissa high', 'mantissa mid', 'mantissa low'],
  buffers: pooledBuffers,
  split(src) {
    const { count } = shape(src.length, 4);
    const words = words32(src);
    const exp = new Uint8Array(count);
    const high = new Uint8Array(count);
    const mid = new Uint8Array(count);
    const low = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const w = words[i]!;
      exp[i] = w >>> 23;
      high[i] = ((w >>> 24) & 0x80) | ((w >>> 16) & 0x7f);
      mid[i] = w >>> 8;
      low[i] = w;
    }
    return withTail(src, 4, [exp, high, mid, low]);
  },
  merge(planes, dst) {
    const { count } = shape(dst.length, 4);
    const [exp, high, mid, low] = planes as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const words = words32(dst);
    for (let i = 0; i < count; i++) {
      const h = high[i]!;
      words[i] = ((h & 0x80) << 24) | (exp[i]! << 23) | ((h & 0x7f) << 16) | (mid[i]! << 8) | low[i]!;
    }
    storeWords(words, dst);
    copyTail(planes, 4, dst, 4);
  },
};

/** Byte planes of `width`-byte elements: plane k holds byte k of every element (blosc's shuffle). */
export function bytePlanes(width: number): PlaneSplit {
  return {
    name: `bytes${width}`,
    width,
    planeNames: Array.from({ length: width }, (_, k) => `byte ${k}`),
    buffers: pooledBuffers,
    split(src) {
      const { count } = shape(src.length, width);
      const planes: Uint8Array[] = [];
      for (let k = 0; k < width; k++) {
        const plane = new Uint8Array(count);
        for (let i = 0, j = k; i < count; i++, j += width) plane[i] = src[j]!;
        planes.push(plane);
      }
      return withTail(src, width, planes);
    },
    merge(planes, dst) {
      const { count } = shape(dst.length, width);
      for (let k = 0; k < width; k++) {
        const plane = planes[k]!;
        for (let i = 0, j = k; i < count; i++, j += width) dst[j] = plane[i]!;
      }
      copyTail(planes, width, dst, width);
    },
  };
}

/** The length of every plane `split` makes from `length` bytes, in order. */
export function planeLengths(split: PlaneSplit, length: number): number[] {
  const { count, tail } = shape(length, split.width);
  const lengths = new Array<number>(split.planeNames.length).fill(count);
  if (tail > 0) lengths.push(tail);
  return lengths;
}
