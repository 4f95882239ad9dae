import { writeSync } from 'node:fs';

/** A sequential byte destination: a file being written, or memory. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
  /**
   * A file that may instead be written at absolute positions, from any thread (the worker that
   * decoded a chunk writes it: the main thread would otherwise copy every byte alone).
   */
  readonly fd?: number;
}

/** Collects everything written into one buffer that grows by doubling (or is sized up front). */
export class MemorySink implements ByteSink {
  private buffer: Uint8Array;
  private length = 0;

  constructor(expectedSize = 64 * 1024) {
    this.buffer = new Uint8Array(expectedSize);
  }

  write(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.length + bytes.length, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

export class FdSink implements ByteSink {
  constructor(readonly fd: number) {}
  write(bytes: Uint8Array): void {
    writeAll(this.fd, bytes);
  }
}

/** Writes all of `bytes` into file `fd`, at `position` when given, else at the file's current offset. */
export function writeAll(fd: number, bytes: Uint8Array, position: number | null = null): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position === null ? null : position + done);
}
