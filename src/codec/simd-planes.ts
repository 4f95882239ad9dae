import { readFileSync } from 'node:fs';
import { planeLengths, type PlaneSplit } from './planes.js';

interface Kernels {
  memory: WebAssembly.Memory;
  split16(src: number, exp: number, rest: number, groups: number): void;
  merge16(exp: number, rest: number, dst: number, groups: number): void;
  split32(src: number, exp: number, high: number, mid: number, low: number, groups: number): void;
  merge32(exp: number, high: number, mid: number, low: number, dst: number, groups: number): void;
}

/** Elements per SIMD step. */
const GROUP = 16;
const PAGE = 65536;

const kernels = new WebAssembly.Instance(
  new WebAssembly.Module(readFileSync(new URL('./wasm/planes.wasm', import.meta.url))),
).exports as unknown as Kernels;

/** Wasm memory holding `bytes` bytes of input followed by as many of output; grown when needed. */
function workspace(bytes: number): Uint8Array {
  const needed = 2 * bytes;
  const have = kernels.memory.buffer.byteLength;
  if (have < needed) kernels.memory.grow(Math.ceil((needed - have) / PAGE));
  return new Uint8Array(kernels.memory.buffer);
}

/**
 * Wraps a plain-TS split with a SIMD kernel for whole groups of 16 elements; the few elements
 * after the last group (and any tail) go through the plain code, so the bytes are identical.
 */
function simd(
  plain: PlaneSplit,
  split: (src: number, planes: number[], groups: number) => void,
  merge: (planes: number[], dst: number, groups: number) => void,
): PlaneSplit {
  const planeCount = plain.planeNames.length;
  return {
    ...plain,
    split(src) {
      const groups = Math.floor(src.length / (plain.width * GROUP));
      const bulk = groups * GROUP * plain.width;
      const memory = workspace(bulk);
      memory.set(src.subarray(0, bulk), 0);
      const at = Array.from({ length: planeCount }, (_, k) => bulk + k * groups * GROUP);
      split(0, at, groups);
      const rest = plain.split(src.subarray(bulk));
      const planes = planeLengths(plain, src.length).map((length) => new Uint8Array(length));
      for (let k = 0; k < planeCount; k++) {
        planes[k]!.set(memory.subarray(at[k]!, at[k]! + groups * GROUP));
        planes[k]!.set(rest[k]!, groups * GROUP);
      }
      if (planes.length > planeCount) planes[planeCount]!.set(rest[planeCount]!);
      return planes;
    },
    merge(planes, dst) {
      const groups = Math.floor(dst.length / (plain.width * GROUP));
      const bulk = groups * GROUP * plain.width;
      const memory = workspace(bulk);
      const at = Array.from({ length: planeCount }, (_, k) => bulk + k * groups * GROUP);
      for (let k = 0; k < planeCount; k++) memory.set(planes[k]!.subarray(0, groups * GROUP), at[k]!);
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
    (src, [exp, high, mid, low], groups) => kernels.split32(src, exp!, high!, mid!, low!, groups),
    ([exp, high, mid, low], dst, groups) => kernels.merge32(exp!, high!, mid!, low!, dst, groups),
  );
}
