import type { ByteRange } from './source.js';
import { ordinaryMemory, type Allocate } from './staged-writes.js';

/** Reads `length` bytes at `offset` into `into`, in libuv's thread pool (FileSource.readInBackground). */
export type BackgroundRead = (offset: number, length: number, into: Uint8Array) => Promise<Uint8Array>;

interface Block {
  /** The ranges it holds, by index: [first, last). */
  first: number;
  last: number;
  /** Which of the two buffers it is read into. */
  slot: 0 | 1;
  /** Its bytes; undefined for a range too large for a buffer, which the caller reads another way. */
  bytes: Promise<Uint8Array> | undefined;
}

/**
 * Ranges of a file asked for one after the other, read by the thread pool in blocks of
 * consecutive ranges, one block ahead in the other of two buffers: the caller works on a range's
 * bytes (a view into its block) while the next block is read. A view stays valid until a range of
 * the block after it is asked for. As with StagedWrites, a block of several chunks pays for the
 * trip through the pool where one chunk does not (docs/DESIGN.md, "Restores").
 */
export class StagedReads {
  private readonly buffers: [Uint8Array, Uint8Array];
  private current: Block | undefined;
  private ahead: Block | undefined;

  constructor(
    private readonly read: BackgroundRead,
    private readonly ranges: readonly ByteRange[],
    size: number,
    allocate: Allocate = ordinaryMemory,
  ) {
    this.buffers = [allocate(size), allocate(size)];
  }

  /** The bytes of range `index` (0, then each next one in turn), or undefined when it is larger than a buffer. */
  async bytes(index: number): Promise<Uint8Array | undefined> {
    if (!this.current || index >= this.current.last) {
      this.current = this.ahead?.first === index ? this.ahead : this.blockFrom(index, 0);
      this.ahead = this.blockFrom(this.current.last, this.current.slot === 0 ? 1 : 0);
    }
    if (!this.current.bytes) return undefined;
    const at = this.ranges[index]!.offset - this.ranges[this.current.first]!.offset;
    return (await this.current.bytes).subarray(at, at + this.ranges[index]!.length);
  }

  /** Whether `bytes` are a view into one of its buffers (not the caller's to reuse). */
  holds(bytes: Uint8Array): boolean {
    return this.buffers.some((buffer) => buffer.buffer === bytes.buffer);
  }

  /** Waits for the reads in flight, failed or not (before their file is closed). */
  async settle(): Promise<void> {
    await Promise.allSettled([this.current?.bytes, this.ahead?.bytes]);
  }

  /** The consecutive ranges from `first` that fit a buffer, their read begun (none begun past the last range). */
  private blockFrom(first: number, slot: 0 | 1): Block {
    const buffer = this.buffers[slot];
    const start = this.ranges[first]?.offset ?? 0;
    let last = first;
    let end = start;
    while (last < this.ranges.length && this.ranges[last]!.offset === end && end + this.ranges[last]!.length - start <= buffer.length) end += this.ranges[last++]!.length;
    if (last === first) return { first, last: first + 1, slot, bytes: undefined };
    const bytes = this.read(start, end - start, buffer);
    bytes.catch(() => {}); // observed by bytes() or settle()
    return { first, last, slot, bytes };
  }
}
