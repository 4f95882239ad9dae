import { Xxh64, xxh64 } from '@node-rs/xxhash';

/** A 64-bit hash as the container records it: 16 hex digits. */
export function hex64(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

/** The checksum the container records for a chunk's original bytes. */
export const checksumOf = (bytes: Uint8Array): string => hex64(xxh64(bytes));

/** The checksum of a whole file, fed in pieces. */
export class RunningChecksum {
  private readonly hash = new Xxh64();

  update(bytes: Uint8Array): void {
    this.hash.update(bytes);
  }

  hex(): string {
    return hex64(this.hash.digest());
  }
}
