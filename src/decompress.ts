import { Xxh64 } from '@node-rs/xxhash';
import { hex64 } from './container/format.js';
import { ContainerReader } from './container/reader.js';
import type { BaseCheckpoint } from './delta/base.js';
import { MithrilError } from './errors.js';
import type { ByteSink } from './io/sink.js';
import type { ByteSource } from './io/source.js';
import { yieldEvery } from './io/yield.js';

export interface DecompressOptions {
  /** The base checkpoints a delta-coded container was made against (any order), with their paths for messages. */
  bases?: readonly { path: string; base: BaseCheckpoint }[];
  /** Called after each chunk with the original bytes restored so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Restores the original bytes from a container into `sink` (or only checks them, without a sink),
 * verifying every chunk's checksum and then the whole file's.
 */
export async function decompressStream(source: ByteSource, sink: ByteSink | null, options: DecompressOptions = {}): Promise<ContainerReader> {
  const reader = new ContainerReader(source);
  reader.useBases(options.bases ?? []);
  const { chunks, source: original } = reader.index;
  const fileHash = new Xxh64();
  let buffer = new Uint8Array(0);
  for (const [number, chunk] of chunks.entries()) {
    if (buffer.length < chunk.rawLength) buffer = new Uint8Array(chunk.rawLength);
    const raw = buffer.subarray(0, chunk.rawLength);
    reader.readChunk(number, raw);
    fileHash.update(raw);
    sink?.write(raw);
    options.onProgress?.(chunk.rawOffset + chunk.rawLength, original.size);
    await yieldEvery(chunk.rawLength);
  }
  if (hex64(fileHash.digest()) !== original.xxh64) {
    throw new MithrilError(source.name, 'restored data does not match the original file checksum');
  }
  return reader;
}
