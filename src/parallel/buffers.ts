/** Pairs of buffers handed to tasks and back, reused so that memory is touched once. */
export class BufferPairs {
  private readonly spare: [Uint8Array, Uint8Array][] = [];

  /** Two buffers of at least the given sizes (each the whole of its own ArrayBuffer, so it can be transferred). */
  take(first: number, second: number): [Uint8Array, Uint8Array] {
    const pair = this.spare.pop();
    return [fit(pair?.[0], first), fit(pair?.[1], second)];
  }

  give(first: Uint8Array, second: Uint8Array): void {
    this.spare.push([new Uint8Array(first.buffer), new Uint8Array(second.buffer)]);
  }
}

function fit(buffer: Uint8Array | undefined, size: number): Uint8Array {
  return buffer && buffer.length >= size ? buffer : new Uint8Array(size + (size >> 3));
}
