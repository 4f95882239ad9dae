import { createRequire } from 'node:module';
import type * as XxhashBinding from '@node-rs/xxhash';
import type { ByteSource } from './io/source.js';

// Required, not imported: Node 20's ES module path through this CommonJS loader costs about 40 ms
// of every command's start (docs/DESIGN.md, "Start-up"), require about 5 ms.
const xxhash = createRequire(import.meta.url)('@node-rs/xxhash') as typeof XxhashBinding;
const { Xxh64 } = xxhash;
export const { xxh64 } = xxhash;

const HASH_READ = 16 * 1024 * 1024;

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

/** The size and xxh64 of all of a source's bytes, read in pieces. */
export async function checksumOfSource(source: ByteSource): Promise<{ size: number; xxh64: string }> {
  const hash = new RunningChecksum();
  const buffer = new Uint8Array(Math.min(HASH_READ, source.size));
  source.willRead?.([{ offset: 0, length: source.size }]);
  for (let at = 0; at < source.size; at += buffer.length) hash.update(await source.read(at, Math.min(buffer.length, source.size - at), buffer));
  return { size: source.size, xxh64: hash.hex() };
}
