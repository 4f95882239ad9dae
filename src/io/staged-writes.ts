import { write } from 'node:fs';
import type { ByteSink } from './sink.js';

/** Bytes a staging buffer holds by default (docs/DESIGN.md, "Restores": 2 MiB measured best of 1–8). */
export const STAGE_BYTES = 2 * 1048576;

/** Where staging buffers come from (by default ordinary memory; a restore's are where its kernels work, kernels/plane-memory.ts). */
export type Allocate = (length: number) => Uint8Array;

export const ordinaryMemory: Allocate = (length) => new Uint8Array(length);

/** Inputs from which I/O is staged: below, first touching the staging buffers costs more than the overlap saves (DESIGN, "Restores"). */
export const STAGE_MIN_BYTES = 256 * 1048576;

/**
 * A file written at increasing positions through two staging buffers: the caller fills one in
 * place while libuv's thread pool writes the other, a buffer at a time. Writes of 1 MiB each cost
 * more than they save here (a trip through the pool is ~90 µs); a buffer of several chunks pays
 * (docs/DESIGN.md, "Restores: writes beside the decoding").
 */
export class StagedWrites {
  private readonly buffers: Uint8Array[];
  private readonly writing: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  private current = 0;
  /** Where the current buffer's bytes go, and how many it holds. */
  private start = 0;
  private filled = 0;

  /** `size`: bytes a buffer holds, at least the largest piece asked for. */
  constructor(
    private readonly fd: number,
    size: number,
    allocate: Allocate = ordinaryMemory,
  ) {
    this.buffers = [allocate(size), allocate(size)];
  }

  /** Room for the `length` bytes that go at `position`; the caller fills it before asking again. */
  async room(position: number, length: number): Promise<Uint8Array> {
    const buffer = this.buffers[this.current]!;
    if (this.filled > 0 && (this.filled + length > buffer.length || position !== this.start + this.filled)) await this.flush();
    if (this.filled === 0) this.start = position;
    const at = this.filled;
    this.filled += length;
    return this.buffers[this.current]!.subarray(at, at + length);
  }

  /** Stages `bytes` for `position` onwards, a buffer's worth at a time. */
  async put(position: number, bytes: Uint8Array): Promise<void> {
    const most = this.buffers[0]!.length;
    for (let at = 0; at < bytes.length; at += most) {
      const piece = bytes.subarray(at, at + most);
      (await this.room(position + at, piece.length)).set(piece);
    }
  }

  /** Writes what is staged and waits for every write. */
  async finish(): Promise<void> {
    await this.flush();
    await Promise.all(this.writing);
  }

  /** Waits for the writes in flight, failed or not (after a failure: none may land in a closed descriptor). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.writing);
  }

  /**
   * Hands the current buffer to the thread pool and switches to the other once its write is done.
   * A write starts only after the one before it: two at once to the same file spin on its inode
   * lock in the kernel (docs/DESIGN.md, "Restores").
   */
  private async flush(): Promise<void> {
    const bytes = this.buffers[this.current]!.subarray(0, this.filled);
    const start = this.start;
    // Whether the write before failed is for finish() to report; this one is done either way.
    const before = this.writing[this.current ^ 1]!.catch(() => {});
    this.writing[this.current] = before.then(() => writeAllAt(this.fd, bytes, start));
    this.writing[this.current]!.catch(() => {}); // observed by finish() or the next flush of this buffer
    this.current ^= 1;
    this.filled = 0;
    await this.writing[this.current];
  }
}

/** Writes all of `bytes` at `position`, in the thread pool. */
async function writeAllAt(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    done += await new Promise<number>((resolve, reject) => write(fd, bytes, done, bytes.length - done, position + done, (error, n) => (error ? reject(error) : resolve(n))));
  }
}

/** A file written from its start through StagedWrites: the thread pool writes a full buffer while the caller fills the other. */
export class StagedSink implements ByteSink {
  private position = 0;
  constructor(private readonly staged: StagedWrites) {}

  async write(bytes: Uint8Array): Promise<void> {
    await this.staged.put(this.position, bytes);
    this.position += bytes.length;
  }
}
