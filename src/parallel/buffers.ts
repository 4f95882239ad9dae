/** Buffers handed to tasks and back, reused so that memory is touched once (fresh memory is slow here). */
export class BufferPool {
  private readonly spare: Uint8Array[] = [];

  /** A buffer of at least `size` bytes, the whole of its own ArrayBuffer (so it can be transferred). */
  take(size: number): Uint8Array {
    const buffer = this.spare.pop();
    return buffer && buffer.length >= size ? buffer : new Uint8Array(size + (size >> 3));
  }

  give(buffer: Uint8Array | undefined): void {
    if (buffer) this.spare.push(new Uint8Array(buffer.buffer));
  }
}
