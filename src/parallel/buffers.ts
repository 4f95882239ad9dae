/** Buffers handed to tasks and back, reused so that memory is touched once (fresh memory is slow here). */
export class BufferPool {
  private readonly spare: Uint8Array[] = [];
  private largest = 0;

  /** `shared`: buffers live in SharedArrayBuffers, which worker threads use in place (see shared-views.ts). */
  constructor(private readonly shared = false) {}

  /** A buffer of at least `size` bytes, the whole of its own (Shared)ArrayBuffer. */
  take(size: number): Uint8Array {
    this.largest = Math.max(this.largest, size);
    const fit = this.spare.findIndex((buffer) => buffer.length >= size);
    if (fit >= 0) return this.spare.splice(fit, 1)[0]!;
    // None fits: one spare makes way for a buffer as large as any asked for so far, so that with
    // chunks of mixed sizes the pool settles on buffers that fit all (no fresh memory per chunk).
    this.spare.pop();
    const length = this.largest + (this.largest >> 3);
    return new Uint8Array(this.shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
  }

  give(buffer: Uint8Array | undefined): void {
    if (buffer) this.spare.push(new Uint8Array(buffer.buffer));
  }
}
