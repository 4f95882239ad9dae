import { align16, GROUP, kernels, wasmMemory } from '../kernels/index.js';
import type { PlaneSplit } from './planes.js';

/**
 * Where things live in wasm memory for a chunk of `length` bytes: the chunk's bytes from 0, then
 * each plane at `at[k]`. Memory grows when needed (which detaches earlier views).
 */
function arrange(width: number, planeCount: number, length: number) {
  const count = Math.floor(length / width);
  const groups = Math.floor(count / GROUP);
  const at = Array.from({ length: planeCount }, (_, k) => align16(length) + k * align16(count));
  const memory = wasmMemory(align16(length) + planeCount * align16(count));
  return { count, groups, bulk: groups * GROUP * width, at, memory };
}

/**
 * Wraps a plain-TS split with a SIMD kernel for whole groups of 16 elements; the few elements
 * after the last group (and any tail) go through the plain code, so the bytes are identical.
 * Planes live in wasm memory: what `split` and `buffers` return is valid until the next call.
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
      const { count, groups, bulk, at, memory } = arrange(plain.width, planeCount, src.length);
      memory.set(src.subarray(0, bulk), 0);
      split(0, at, groups);
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
      const { groups, bulk, at, memory } = arrange(plain.width, planeCount, dst.length);
      for (let k = 0; k < planeCount; k++) {
        const plane = planes[k]!;
        if (plane.buffer !== memory.buffer || plane.byteOffset !== at[k]) memory.set(plane.subarray(0, groups * GROUP), at[k]!);
      }
      merge(at, 0, groups);
      dst.set(memory.subarray(0, bulk));
      plain.merge(planes.map((plane, k) => (k < planeCount ? plane.subarray(groups * GROUP) : plane)), dst.subarray(bulk));
    },
  };
}

export function simdBitSplit16(plain: PlaneSplit): PlaneSplit {
  return simd(
    plain,
    (src, [exp, rest], groups) => kernels.split16(src, exp!, rest!, groups),
    ([exp, rest], dst, groups) => kernels.merge16(exp!, rest!, dst, groups),
  );
}

export function simdBitSplit32(plain: PlaneSplit): PlaneSplit {
  return simd(
    plain,
    (src, [exp, high, mid, low], groups) => kernels.split32(src, exp!, high!, mid!, low!, groups, 1),
    ([exp, high, mid, low], dst, groups) => kernels.merge32(exp!, high!, mid!, low!, dst, groups, 1),
  );
}

/** Plain byte planes of 2- and 4-byte elements (ints, and the fast delta's residual words). */
export function simdBytePlanes(plain: PlaneSplit): PlaneSplit {
  if (plain.width === 2) {
    return simd(
      plain,
      (src, [p0, p1], groups) => kernels.split2(src, p0!, p1!, groups),
      ([p0, p1], dst, groups) => kernels.merge2(p0!, p1!, dst, groups),
    );
  }
  return simd(
    plain,
    (src, [p0, p1, p2, p3], groups) => kernels.split32(src, p3!, p2!, p1!, p0!, groups, 0),
    ([p0, p1, p2, p3], dst, groups) => kernels.merge32(p3!, p2!, p1!, p0!, dst, groups, 0),
  );
}
