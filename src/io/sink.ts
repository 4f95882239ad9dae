import { writeSync } from 'node:fs';

/** A sequential byte destination: a file being written, or memory. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

export class MemorySink implements ByteSink {
  private readonly parts: Uint8Array[] = [];
  write(bytes: Uint8Array): void {
    this.parts.push(new Uint8Array(bytes)); // a copy: callers reuse their buffers
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

export class FdSink implements ByteSink {
  constructor(private readonly fd: number) {}
  write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }
}
