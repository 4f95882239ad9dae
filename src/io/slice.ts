import { MithrilError } from '../errors.js';
import type { ByteSource } from './source.js';

/**
 * Bytes [start, start + size) of another source, read as a source of their own: a file that is a
 * sequence of embedded files (a DCP `.distcp`: one torch.save archive after another) is read one
 * embedded file at a time by the readers of that file's format.
 */
export class SliceSource implements ByteSource {
  readonly name: string;

  constructor(
    private readonly source: ByteSource,
    private readonly start: number,
    readonly size: number,
  ) {
    if (!(start >= 0 && size >= 0 && start + size <= source.size)) {
      throw new MithrilError(source.name, `bytes ${start}..${start + size} lie beyond the end (size ${source.size})`, 'TRUNCATED');
    }
    this.name = `${source.name} (record at byte ${start})`;
  }

  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new MithrilError(this.name, `unexpected end of data (wanted ${length} bytes at offset ${offset}, size ${this.size})`, 'TRUNCATED');
    }
    return this.source.read(this.start + offset, length, into);
  }

  checkUnchanged(): Promise<void> {
    return this.source.checkUnchanged();
  }

  // The slice does not own the source it reads.
  close(): void {}
}
