import { compressStream, type CompressOptions } from './compress.js';
import { decompressStream, type DecompressOptions } from './decompress.js';
import { ContainerReader } from './container/reader.js';
import { MemorySink, PlacedSink } from './io/sink.js';
import { BufferSource } from './io/source.js';

export {
  compressFile, decompressFile, verifyFile, readIndex, extractTensorFile, SUFFIX, STDIN, STDOUT,
  type FileResult, type CompressFileResult, type VerifyResult, type ContainerInfo, type OutputOptions, type BaseOptions,
} from './files.js';
export { compressStream, type CompressOptions, type CompressResult, type UnusedBase } from './compress.js';
export { decompressStream, type DecompressOptions } from './decompress.js';
export { summarize, type Summary } from './summary.js';
export { MithrilError, type ErrorCode } from './errors.js';
export type { ContainerIndex, ChunkRecord } from './container/format.js';
export type { Layout, Segment } from './formats/layout.js';

const CONTAINER_SLACK = 1024 * 1024;

/** Compresses a checkpoint held in memory; `name` is used in error messages and recorded in the index. */
export async function compressBuffer(checkpoint: Uint8Array, options: CompressOptions & { name?: string } = {}): Promise<Uint8Array> {
  // Sized for the worst case (incompressible data) up front: growing by doubling would touch every
  // page twice, and first touches of fresh memory dominate in-memory compression of large checkpoints.
  const sink = new MemorySink(checkpoint.length + CONTAINER_SLACK);
  await compressStream(new BufferSource(checkpoint, options.name ?? 'checkpoint'), sink, options);
  return sink.bytes();
}

/** Restores the original bytes of a container held in memory, checking every checksum. */
export async function decompressBuffer(container: Uint8Array, options: DecompressOptions & { name?: string } = {}): Promise<Uint8Array> {
  const reader = await ContainerReader.open(new BufferSource(container, options.name ?? 'container'));
  const restored = new Uint8Array(reader.index.source.size);
  await decompressStream(reader, new PlacedSink(restored), options);
  return restored;
}

/**
 * Restores a container held in memory into `out` (at least the original's size), checking every
 * checksum; returns the view of `out` holding the original. Memory the caller reuses costs no page
 * faults (fresh memory is the main cost of `decompressBuffer`); with `threads`, an `out` over a
 * SharedArrayBuffer is decoded into by the workers in place.
 */
export async function decompressInto(container: Uint8Array, out: Uint8Array, options: DecompressOptions & { name?: string } = {}): Promise<Uint8Array> {
  const reader = await decompressStream(new BufferSource(container, options.name ?? 'container'), new PlacedSink(out), options);
  return out.subarray(0, reader.index.source.size);
}
export { s3Fetched } from './io/s3-process.js';
