// Where a plane or ULP kernel call works: on ordinary memory from address 0 (the kernels' own
// instance), or, when bytes it reads or writes already lie in the plane kernels' memory (staged
// I/O, plane-memory.ts), there, above the live buffers, so that those bytes are used in place.
import { kernels, wasmMemory, type Kernels } from './index.js';
import { inPlaneMemory, planeKernels, planeMemory, scratchBase } from './plane-memory.js';

export interface KernelSpace {
  kernels: Kernels;
  /** The first address of the scratch space. */
  base: number;
  /** The memory, grown to at least `bytes` (growing ordinary memory detaches its earlier views). */
  memory(bytes: number): Uint8Array;
  /**
   * Whether the kernel can use `view` where it lies instead of a copy at `offset`: in the plane
   * kernels' memory anywhere (its byte offset is its address); in ordinary memory only at `offset`
   * itself (a plane decoded where the layout puts it), as scratch there is laid out anew by each call.
   */
  placed(view: Uint8Array, offset: number): boolean;
}

const ordinary: KernelSpace = {
  kernels,
  base: 0,
  memory: (bytes) => wasmMemory(bytes),
  placed: (view, offset) => view.buffer === kernels.memory.buffer && view.byteOffset === offset,
};

/** The space for a call that reads or writes `view`. */
export function spaceFor(view: Uint8Array): KernelSpace {
  return inPlaneMemory(view) ? { kernels: planeKernels(), base: scratchBase(), memory: planeMemory, placed: inPlaneMemory } : ordinary;
}

/**
 * Where a kernel reads the first `length` bytes of `view`: where they lie when the space can use
 * them there, else at `offset`, copied into `memory` (the space's memory, grown for the call).
 */
export function inputAt(space: KernelSpace, memory: Uint8Array, view: Uint8Array, offset: number, length: number): number {
  if (space.placed(view, offset)) return view.byteOffset;
  memory.set(view.subarray(0, length), offset);
  return offset;
}

/**
 * Runs a kernel writing `length` bytes for `dst`: straight into `dst` when the space can use it,
 * else at `offset` of `memory`, copied out into `dst` afterwards.
 */
export function outputTo(space: KernelSpace, memory: Uint8Array, dst: Uint8Array, offset: number, length: number, kernel: (at: number) => void): void {
  const inPlace = space.placed(dst, offset);
  kernel(inPlace ? dst.byteOffset : offset);
  if (!inPlace) dst.set(memory.subarray(offset, offset + length));
}
