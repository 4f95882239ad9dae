// The plane kernels' own instance, for staged I/O: its memory holds, from address 0, buffers that
// live across calls — a restore's staged reads and writes, so that planes are merged from the
// bytes read and into the bytes to be written, with no copy in or out (docs/DESIGN.md, "Restores:
// planes in place") — and above them the kernels' scratch space, which each call lays out anew.
// The memory is shared, so growing it never detaches those buffers; copies between it and ordinary
// memory run at half speed, so the kernels use it only for bytes already in it (kernel-space.ts).
import { align16, instantiate, wasmMemory, type Kernels } from './index.js';

let instance: Kernels | undefined;

/** The instance, made when first needed. */
export function planeKernels(): Kernels {
  return (instance ??= instantiate('./kernels-shared.wasm'));
}

/** Each SharedArrayBuffer the memory has shown (a new one after each growth; views of the old stay valid). */
const shown = new WeakSet<ArrayBufferLike>();

/** The end of the last buffer each PlaneBuffers holds. */
const ends = new Map<object, number>();

/** Where the scratch space starts: above every live buffer. */
let base = 0;

/** The plane kernels' memory, grown to at least `bytes`. */
export function planeMemory(bytes: number): Uint8Array {
  const memory = wasmMemory(bytes, planeKernels());
  shown.add(memory.buffer);
  return memory;
}

/** Whether `view` lies in the plane kernels' memory, where its byte offset is its address. */
export function inPlaneMemory(view: Uint8Array): boolean {
  return shown.has(view.buffer);
}

/** The first address of the scratch space. */
export function scratchBase(): number {
  return base;
}

/**
 * Buffers in the plane kernels' memory, each taken below the scratch space (which moves up above
 * it) and all given back together.
 */
export class PlaneBuffers {
  private readonly key = {};

  readonly take = (length: number): Uint8Array => {
    const start = base;
    base = align16(start + length);
    ends.set(this.key, base);
    return planeMemory(base).subarray(start, start + length);
  };

  release(): void {
    ends.delete(this.key);
    base = Math.max(0, ...ends.values());
  }
}
