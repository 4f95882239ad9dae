import { align16, GROUP, type Kernels } from '../kernels/index.js';
import { inputAt, outputTo, spaceFor, type KernelSpace } from '../kernels/kernel-space.js';
import type { PlaneSplit } from './planes.js';

/**
 * Where things live in a kernel space for a chunk of `length` bytes: the chunk's bytes from the
 * space's scratch start, then each plane at `at[k]`.
 */
function arrange(space: KernelSpace, width: number, planeCount: number, length: number) {
  const { base } = space;
  const count = Math.floor(length / width);
  const groups = Math.floor(count / GROUP);
  const at = Array.from({ length: planeCount }, (_, k) => base + align16(length) + k * align16(count));
  const memory = space.memory(base + align16(length) + planeCount * align16(count));
  return { base, count, groups, bulk: groups * GROUP * width, at, memory };
}

/**
 * Wraps a plain-TS split with a SIMD kernel for whole groups of 16 elements; the few elements
 * after the last group (and any tail) go through the plain code, so the bytes are identical.
 * Planes live in wasm memory: what `split` and `buffers` return is valid until the next call.
 * Bytes already in the space's memory (staged I/O, kernels/plane-memory.ts) are used where they are.
 */
function simd(
  plain: PlaneSplit,
  split: (kernels: Kernels, src: number, planes: number[], groups: number) => void,
  merge: (kernels: Kernels, planes: number[], dst: number, groups: number) => void,
): PlaneSplit {
  const planeCount = plain.planeNames.length;
  const views = (memory: Uint8Array, at: number[], count: number, tail: Uint8Array[]): Uint8Array[] => [
    ...at.map((offset) => memory.subarray(offset, offset + count)),
    ...tail,
  ];
  return {
    ...plain,
    split(src) {
      const space = spaceFor(src);
      const { base, count, groups, bulk, at, memory } = arrange(space, plain.width, planeCount, src.length);
      split(space.kernels, inputAt(space, memory, src, base, bulk), at, groups);
      const rest = plain.split(src.subarray(bulk));
      for (let k = 0; k < planeCount; k++) memory.set(rest[k]!, at[k]! + groups * GROUP);
      return views(memory, at, count, rest.slice(planeCount));
    },
    buffers(dst) {
      const { count, at, memory } = arrange(spaceFor(dst), plain.width, planeCount, dst.length);
      const tail = dst.length - count * plain.width;
      return views(memory, at, count, tail > 0 ? [new Uint8Array(tail)] : []);
    },
    merge(planes, dst) {
      const space = spaceFor(dst);
      const { base, groups, bulk, at, memory } = arrange(space, plain.width, planeCount, dst.length);
      const from = at.map((offset, k) => inputAt(space, memory, planes[k]!, offset, groups * GROUP));
      outputTo(space, memory, dst, base, bulk, (to) => merge(space.kernels, from, to, groups));
      plain.merge(planes.map((plane, k) => (k < planeCount ? plane.subarray(groups * GROUP) : plane)), dst.subarray(bulk));
    },
  };
}

export function simdBitSplit16(plain: PlaneSplit): PlaneSplit {
  return simd(
    plain,
    (k, src, [exp, rest], groups) => k.split16(src, exp!, rest!, groups),
    (k, [exp, rest], dst, groups) => k.merge16(exp!, rest!, dst, groups),
  );
}

export function simdBitSplit32(plain: PlaneSplit): PlaneSplit {
  return simd(
    plain,
    (k, src, [exp, high, mid, low], groups) => k.split32(src, exp!, high!, mid!, low!, groups, 1),
    (k, [exp, high, mid, low], dst, groups) => k.merge32(exp!, high!, mid!, low!, dst, groups, 1),
  );
}

/** Plain byte planes of 2- and 4-byte elements (ints, and the fast delta's residual words). */
export function simdBytePlanes(plain: PlaneSplit): PlaneSplit {
  if (plain.width === 2) {
    return simd(
      plain,
      (k, src, [p0, p1], groups) => k.split2(src, p0!, p1!, groups),
      (k, [p0, p1], dst, groups) => k.merge2(p0!, p1!, dst, groups),
    );
  }
  return simd(
    plain,
    (k, src, [p0, p1, p2, p3], groups) => k.split32(src, p3!, p2!, p1!, p0!, groups, 0),
    (k, [p0, p1, p2, p3], dst, groups) => k.merge32(p3!, p2!, p1!, p0!, dst, groups, 0),
  );
}
