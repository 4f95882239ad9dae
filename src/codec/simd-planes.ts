import { align16, GROUP, planeKernels } from '../kernels/index.js';
import { inPlaneMemory, planeMemory, scratchBase } from '../kernels/plane-memory.js';
import type { PlaneSplit } from './planes.js';

/**
 * Where things live in the plane kernels' memory for a chunk of `length` bytes: the chunk's bytes
 * from the scratch space's start, then each plane at `at[k]`.
 */
function arrange(width: number, planeCount: number, length: number) {
  const base = scratchBase();
  const count = Math.floor(length / width);
  const groups = Math.floor(count / GROUP);
  const at = Array.from({ length: planeCount }, (_, k) => base + align16(length) + k * align16(count));
  const memory = planeMemory(base + align16(length) + planeCount * align16(count));
  return { base, count, groups, bulk: groups * GROUP * width, at, memory };
}

/**
 * Wraps a plain-TS split with a SIMD kernel for whole groups of 16 elements; the few elements
 * after the last group (and any tail) go through the plain code, so the bytes are identical.
 * Planes live in wasm memory: what `split` and `buffers` return is valid until the next call.
 * Bytes already in that memory (plane-memory.ts) are read and written where they are.
 */
function simd(
  plain: PlaneSplit,
  split: (src: number, planes: number[], groups: number) => void,
  merge: (planes: number[], dst: number, groups: number) => void,
): PlaneSplit {
  const planeCount = plain.planeNames.length;
  const views = (memory: Uint8Array, at: number[], count: number, tail: Uint8Array[]): Uint8Array[] => [
    ...at.map((offset) => memory.subarray(offset, offset + count)),
    ...tail,
  ];
  return {
    ...plain,
    split(src) {
      const { base, count, groups, bulk, at, memory } = arrange(plain.width, planeCount, src.length);
      if (!inPlaneMemory(src)) memory.set(src.subarray(0, bulk), base);
      split(inPlaneMemory(src) ? src.byteOffset : base, at, groups);
      const rest = plain.split(src.subarray(bulk));
      for (let k = 0; k < planeCount; k++) memory.set(rest[k]!, at[k]! + groups * GROUP);
      return views(memory, at, count, rest.slice(planeCount));
    },
    buffers(length) {
      const { count, at, memory } = arrange(plain.width, planeCount, length);
      const tail = length - count * plain.width;
      return views(memory, at, count, tail > 0 ? [new Uint8Array(tail)] : []);
    },
    merge(planes, dst) {
      const { base, groups, bulk, at, memory } = arrange(plain.width, planeCount, dst.length);
      const from = at.map((offset, k) => {
        const plane = planes[k]!;
        if (inPlaneMemory(plane)) return plane.byteOffset;
        memory.set(plane.subarray(0, groups * GROUP), offset);
        return offset;
      });
      merge(from, inPlaneMemory(dst) ? dst.byteOffset : base, groups);
      if (!inPlaneMemory(dst)) dst.set(memory.subarray(base, base + bulk));
      plain.merge(planes.map((plane, k) => (k < planeCount ? plane.subarray(groups * GROUP) : plane)), dst.subarray(bulk));
    },
  };
}

export function simdBitSplit16(plain: PlaneSplit): PlaneSplit {
  return simd(
    plain,
    (src, [exp, rest], groups) => planeKernels.split16(src, exp!, rest!, groups),
    ([exp, rest], dst, groups) => planeKernels.merge16(exp!, rest!, dst, groups),
  );
}

export function simdBitSplit32(plain: PlaneSplit): PlaneSplit {
  return simd(
    plain,
    (src, [exp, high, mid, low], groups) => planeKernels.split32(src, exp!, high!, mid!, low!, groups, 1),
    ([exp, high, mid, low], dst, groups) => planeKernels.merge32(exp!, high!, mid!, low!, dst, groups, 1),
  );
}

/** Plain byte planes of 2- and 4-byte elements (ints, and the fast delta's residual words). */
export function simdBytePlanes(plain: PlaneSplit): PlaneSplit {
  if (plain.width === 2) {
    return simd(
      plain,
      (src, [p0, p1], groups) => planeKernels.split2(src, p0!, p1!, groups),
      ([p0, p1], dst, groups) => planeKernels.merge2(p0!, p1!, dst, groups),
    );
  }
  return simd(
    plain,
    (src, [p0, p1, p2, p3], groups) => planeKernels.split32(src, p3!, p2!, p1!, p0!, groups, 0),
    ([p0, p1, p2, p3], dst, groups) => planeKernels.merge32(p3!, p2!, p1!, p0!, dst, groups, 0),
  );
}
