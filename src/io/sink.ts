import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { ByteSource } from './source.js';

/** A sequential byte destination: a file being written, a stream such as stdout, or memory. */
export interface ByteSink {
  /** Appends `bytes`; the caller may reuse them as soon as the returned promise (if any) settles. */
  write(bytes: Uint8Array): void | Promise<void>;
  /**
   * A file that may instead be written at absolute positions, from any thread (the worker that
   * decoded a chunk writes it: the main thread would otherwise copy every byte alone).
   */
  readonly fd?: number;
  /**
   * The whole destination in memory, written at absolute positions: chunks decode straight into
   * their place in it, with no staging buffer and no copy.
   */
  readonly memory?: Uint8Array;
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

/** Memory the caller provides (and may already have touched, so no fresh page is faulted in): filled from its start. */
export class PlacedSink implements ByteSink {
  private length = 0;
  constructor(readonly memory: Uint8Array) {}

  write(bytes: Uint8Array): void {
    this.memory.set(bytes, this.length);
    this.length += bytes.length;
  }
}

/** A file written in order; `positional` also offers its fd for writes at absolute positions (regular files only). */
export class FdSink implements ByteSink {
  readonly fd?: number;
  constructor(
    private readonly file: number,
    positional: boolean,
  ) {
    if (positional) this.fd = file;
  }

  write(bytes: Uint8Array): void {
    writeAll(this.file, bytes);
  }
}

/** A writable stream (stdout): bytes are copied, since callers reuse their buffers, and writes wait while the reader lags. */
export class StreamSink implements ByteSink {
  private failure: Error | undefined;

  constructor(private readonly stream: Writable) {
    stream.on('error', (error) => (this.failure = error));
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.stream.write(Buffer.from(bytes))) return;
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        this.stream.off('drain', settle).off('error', settle);
        if (error) reject(error);
        else resolve();
      };
      this.stream.on('drain', settle).on('error', settle);
    });
  }

  /** Resolves once everything written so far has been handed to the system. */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.stream.write(new Uint8Array(0), (error) => (error ? reject(error) : resolve())));
  }
}

/** Writes all of `bytes` into file `fd`, at `position` when given, else at the file's current offset. */
export function writeAll(fd: number, bytes: Uint8Array, position: number | null = null): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position === null ? null : position + done);
}

/** Writes all of `source`'s bytes to `sink`, a bounded piece at a time. */
export async function copySource(source: ByteSource, sink: ByteSink): Promise<void> {
  const buffer = new Uint8Array(Math.min(16 << 20, source.size));
  for (let at = 0; at < source.size; at += buffer.length) await sink.write(await source.read(at, Math.min(buffer.length, source.size - at), buffer));
}
