import { closeSync, fstatSync, openSync, read, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MithrilError } from '../errors.js';

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * Random-access bytes, the one seam every input goes through: a file read with positional reads,
 * a buffer in memory, and an object read with ranged requests (s3-source.ts). Asynchronous, so that a
 * remote source fits; a local file answers at once.
 */
export interface ByteSource {
  /** Name used in error messages (the file path, or a label for buffers). */
  readonly name: string;
  readonly size: number;
  /** Reads exactly `length` bytes at `offset` (into `into` when given); a short read is an error. */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Throws if the bytes changed since the source was opened (a file written to meanwhile). */
  checkUnchanged(): Promise<void>;
  /**
   * Tells that these ranges will be read next, in this order, so that a remote source can fetch
   * them ahead (a local one needs no hint). Reads outside them are still served.
   */
  willRead?(ranges: readonly ByteRange[]): void;
  /** As `read` into `into`, but in libuv's thread pool, so that the calling thread can decode meanwhile (StagedReads). */
  readInBackground?(offset: number, length: number, into: Uint8Array): Promise<Uint8Array>;
  /** All of the source's bytes when they are in memory: views of them need no copy. */
  readonly memory?: Uint8Array;
  /** An open local file, which any thread may read at absolute positions with `readAt` (a worker reads the chunks it decodes). */
  readonly fd?: number;
  /** Releases the source; closing it again does nothing. */
  close(): void;
  /**
   * Opens the file called `name` beside this one (the same folder, or prefix for a remote source),
   * for formats that spread over several files (a DCP folder's `.metadata`); undefined when there is
   * none or this source has no place (a buffer, standard input). The caller closes it.
   */
  sibling?(name: string): ByteSource | undefined;
}

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(
    readonly memory: Uint8Array,
    readonly name = '<buffer>',
  ) {
    this.size = memory.length;
  }

  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new MithrilError(this.name, `unexpected end of data (wanted ${length} bytes at offset ${offset}, size ${this.size})`, 'TRUNCATED');
    }
    const view = this.memory.subarray(offset, offset + length);
    if (!into) return view;
    into.set(view);
    return into.subarray(0, length);
  }

  async checkUnchanged(): Promise<void> {}

  close(): void {}
}

/**
 * A view of `length` bytes at `offset` when the source is in memory (no copy); with `sharedOnly`,
 * only when that memory is shared, for a worker thread to read.
 */
export function viewInMemory(source: ByteSource, offset: number, length: number, sharedOnly: boolean): Uint8Array | undefined {
  const { memory } = source;
  if (!memory || (sharedOnly && !(memory.buffer instanceof SharedArrayBuffer))) return undefined;
  return memory.subarray(offset, offset + length);
}

/** Whether `bytes` are a view of the source's memory (viewInMemory), not a buffer of the caller's to reuse. */
export const isViewOf = (source: ByteSource, bytes: Uint8Array): boolean => bytes.buffer === source.memory?.buffer;

/** Bytes at `position` of a local file open as `fd`, which any thread may read with `readAt`; its name and size are for messages. */
export interface InFile {
  fd: number;
  name: string;
  size: number;
  position: number;
}

/** Reads exactly `into.length` bytes of the file open as `fd` at `offset`; `name` and `size` are for the error if it ends early. */
export function readAt(fd: number, into: Uint8Array, offset: number, name: string, size: number): Uint8Array {
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, into.length - done, offset + done);
    if (n === 0) throw truncated(name, into.length, offset, size);
    done += n;
  }
  return into;
}

/** A local file open as `fd`, which any thread may read; its name and size are for messages. */
export type OpenFile = Omit<InFile, 'position'>;

/** The local file a source reads, when it reads one (ByteSource.fd), for another thread to read too. */
export function fileOf({ fd, name, size }: ByteSource): OpenFile | undefined {
  return fd === undefined ? undefined : { fd, name, size };
}

/** Reads exactly `length` bytes of `file` at `offset` into `into`, in libuv's thread pool (the calling thread meanwhile free). */
export async function readInBackground(file: OpenFile, offset: number, length: number, into: Uint8Array): Promise<Uint8Array> {
  const target = into.subarray(0, length);
  for (let done = 0; done < length; ) {
    const n = await new Promise<number>((resolve, reject) => read(file.fd, target, done, length - done, offset + done, (error, bytes) => (error ? reject(error) : resolve(bytes))));
    if (n === 0) throw truncated(file.name, length, offset, file.size);
    done += n;
  }
  return target;
}

const truncated = (name: string, length: number, offset: number, size: number): MithrilError =>
  new MithrilError(name, `unexpected end of file (wanted ${length} bytes at offset ${offset}, file has ${size}); was it truncated while being read?`, 'TRUNCATED');

export class FileSource implements ByteSource {
  readonly size: number;
  readonly fd: number;
  private closed = false;
  private readonly modified: number;

  /** Opens the file `name`, or reads the already open `fd` (then `name` is only for messages). */
  constructor(
    readonly name: string,
    fd?: number,
  ) {
    this.fd = fd ?? openSync(name, 'r');
    const stat = fstatSync(this.fd);
    if (stat.isDirectory()) {
      closeSync(this.fd);
      throw new MithrilError(name, 'is a directory', 'IS_DIRECTORY');
    }
    this.size = stat.size;
    this.modified = stat.mtimeMs;
  }

  /** Throws if the file was changed (size or modification time) since it was opened. */
  async checkUnchanged(): Promise<void> {
    const stat = fstatSync(this.fd);
    if (stat.size !== this.size || stat.mtimeMs !== this.modified) {
      throw new MithrilError(this.name, 'changed while being read; nothing was written', 'CHANGED');
    }
  }

  // Synchronous positional reads inside: a local file needs no trip through the thread pool.
  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return readAt(this.fd, into ? into.subarray(0, length) : new Uint8Array(length), offset, this.name, this.size);
  }

  readInBackground(offset: number, length: number, into: Uint8Array): Promise<Uint8Array> {
    return readInBackground(this, offset, length, into);
  }

  /** Only when `name` is this very file (not stdin, nor a pipe spooled to a temporary file): then its folder is the place of siblings. */
  sibling(name: string): ByteSource | undefined {
    try {
      const own = fstatSync(this.fd);
      const named = statSync(this.name, { throwIfNoEntry: false });
      if (!named || named.ino !== own.ino || named.dev !== own.dev) return undefined;
      const path = join(dirname(this.name), name);
      return statSync(path, { throwIfNoEntry: false })?.isFile() ? new FileSource(path) : undefined;
    } catch {
      return undefined; // an unreadable sibling is as good as none: it only adds names
    }
  }

  close(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
  }
}
