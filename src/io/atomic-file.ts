import { closeSync, fsyncSync, lstatSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { MithrilError } from '../errors.js';
import { FdSink } from './sink.js';
import { keepAfterInterruption, removeIfInterrupted, temporaryBeside } from './temporaries.js';

/** Whether anything, even a dangling symbolic link, is at `path`. */
const occupied = (path: string): boolean => lstatSync(path, { throwIfNoEntry: false }) !== undefined;

/**
 * Whether an output must reach the disk before it is renamed into place: exactly when a crash
 * soon after could otherwise destroy data, because the rename replaces a file or the caller is
 * about to remove the input (`asked`, also the CLI's --sync). Otherwise a crash can only lose the
 * new output, and it is renamed unsynced, as gzip, zstd and torch.save do.
 */
export const syncBeforeRename = (replaces: boolean, asked: boolean): boolean => replaces || asked;

/**
 * An output written to a temporary file beside its destination and renamed into place only once
 * complete (and synced when syncBeforeRename says so), so a reader never sees a partial file and a
 * failure leaves nothing behind. Renaming replaces a symbolic link at the destination, never the
 * file it points to (as zstd -f).
 */
export class AtomicFile {
  readonly sink: FdSink;
  readonly atomic = true;
  private readonly temp: string;
  private fd: number | undefined;

  constructor(
    readonly path: string,
    private readonly overwrite: boolean,
    private readonly sync = false,
  ) {
    if (!overwrite && occupied(path)) throw new MithrilError(path, 'already exists (use -f to overwrite)', 'EXISTS');
    this.temp = temporaryBeside(path, true);
    this.fd = openSync(this.temp, 'wx');
    removeIfInterrupted(this.temp);
    this.sink = new FdSink(this.fd, true);
  }

  get name(): string {
    return this.path;
  }

  async commit(): Promise<void> {
    const replaces = occupied(this.path);
    if (replaces && !this.overwrite) {
      this.abort();
      throw new MithrilError(this.path, 'already exists (use -f to overwrite)', 'EXISTS');
    }
    if (syncBeforeRename(replaces, this.sync)) fsyncSync(this.fd!);
    this.close();
    renameSync(this.temp, this.path);
    keepAfterInterruption(this.temp);
  }

  abort(): void {
    this.close();
    try {
      unlinkSync(this.temp);
    } catch {
      // Never created or already removed.
    }
    keepAfterInterruption(this.temp);
  }

  private close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
