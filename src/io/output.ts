import { closeSync, constants, fstatSync, lstatSync, openSync, statSync, type Stats } from 'node:fs';
import { MithrilError } from '../errors.js';
import { AtomicFile } from './atomic-file.js';
import { isS3Url } from './s3-url.js';
import { FdSink, StreamSink, type ByteSink } from './sink.js';

/** The name standard output goes by on the command line. */
export const STDOUT = '-';

/** Where a command's result goes: an atomically replaced regular file, an object, a special file, or stdout. */
export interface Output {
  readonly sink: ByteSink;
  /** For messages. */
  readonly name: string;
  /** Whether the bytes appear only when complete (a regular file); else they stream as written. */
  readonly atomic: boolean;
  /** Makes the output final: a regular file is renamed into place (synced first if syncBeforeRename says so), a stream flushed. */
  commit(): Promise<void>;
  /** Gives up: a regular file's temporary is removed, an upload aborted; bytes already streamed cannot be taken back. */
  abort(): void | Promise<void>;
}

/** A device, FIFO or other special file: written into as it is, never unlinked or replaced. */
class SpecialFile implements Output {
  readonly sink: FdSink;
  readonly atomic = false;
  private fd: number | undefined;

  constructor(readonly name: string) {
    try {
      this.fd = openSync(name, constants.O_WRONLY);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENXIO') throw new MithrilError(name, 'is a socket: cannot write into it', 'NOT_WRITABLE');
      throw error;
    }
    this.sink = new FdSink(this.fd, false);
  }

  async commit(): Promise<void> {
    this.abort();
  }

  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

class Stdout implements Output {
  readonly name = 'stdout';
  readonly atomic = false;
  readonly sink: ByteSink;

  constructor() {
    // A regular file (`> out`) takes plain writes; a pipe or terminal goes through the stream, which waits for its reader.
    this.sink = fstatSync(1).isFile() ? new FdSink(1, false) : new StreamSink(process.stdout);
  }

  async commit(): Promise<void> {
    if (this.sink instanceof StreamSink) await this.sink.flush();
  }

  abort(): void {}
}

const isSpecial = (stat: Stats | undefined): stat is Stats => stat !== undefined && !stat.isFile() && !stat.isDirectory();

/** How an output may be written: `force` replaces an existing file; `sync` syncs a file before its rename. */
export interface OutputMode {
  force?: boolean;
  sync?: boolean;
}

/**
 * Opens `path` for a command's output. A regular file (or nothing) is written atomically and
 * replaced only with `force`, and so is an `s3://` object; a character device or FIFO (or a link
 * to one, such as /dev/stdout) is written into; a block device only with `force`. `expectedSize`
 * (roughly) sizes an upload's parts.
 */
export async function openOutput(path: string, { force = false, sync = false }: OutputMode, expectedSize = 0): Promise<Output> {
  if (path === STDOUT) return new Stdout();
  // The SDK is loaded only when an object is named.
  if (isS3Url(path)) return (await import('./s3-output.js')).S3Output.open(path, force, expectedSize);
  const here = lstatSync(path, { throwIfNoEntry: false });
  const target = here?.isSymbolicLink() ? statSync(path, { throwIfNoEntry: false }) : here;
  if (target?.isDirectory()) throw new MithrilError(path, 'is a directory', 'IS_DIRECTORY');
  if (!isSpecial(target)) return new AtomicFile(path, force, sync);
  if (target.isBlockDevice() && !force) throw new MithrilError(path, 'is a block device (use -f to write into it)', 'EXISTS');
  return new SpecialFile(path);
}
