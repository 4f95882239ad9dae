import { Xxh64, xxh64 } from '@node-rs/xxhash';
import { basename } from 'node:path';
import { DEFAULT_CHUNK_SIZE, planChunks } from './chunks.js';
import { splitForDtype } from './codec/dtypes.js';
import { BEST_TENSOR_CODERS, encodeChunk, opaqueCoders, TENSOR_CODERS, type EncodeOptions } from './codec/pipeline.js';
import { splitByName } from './codec/splits.js';
import { hex64 } from './container/format.js';
import { ContainerWriter } from './container/writer.js';
import { detectLayout } from './formats/detect.js';
import type { ByteSink } from './io/sink.js';
import type { ByteSource } from './io/source.js';
import { yieldEvery } from './io/yield.js';

export interface CompressOptions {
  /** Target chunk size in bytes (default 1 MiB). */
  chunkSize?: number;
  /** Also try slow, strong LZ (zstd level 19) on every plane. */
  best?: boolean;
  /** Called after each chunk with the original bytes done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface CompressResult {
  originalSize: number;
  compressedSize: number;
}

/** Compresses a checkpoint from `source` into a container written to `sink`. */
export async function compressStream(source: ByteSource, sink: ByteSink, options: CompressOptions = {}): Promise<CompressResult> {
  const layout = detectLayout(source);
  const chunks = planChunks(layout, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const tensorOptions: EncodeOptions = options.best
    ? { candidates: BEST_TENSOR_CODERS, exhaustive: true }
    : { candidates: TENSOR_CODERS, exhaustive: false };

  const writer = new ContainerWriter(sink);
  const fileHash = new Xxh64();
  let buffer = new Uint8Array(0);
  for (const chunk of chunks) {
    if (buffer.length < chunk.length) buffer = new Uint8Array(chunk.length);
    const raw = source.read(chunk.offset, chunk.length, buffer);
    fileHash.update(raw);
    const encoded = chunk.dtype === null
      ? encodeChunk(raw, splitByName('bytes')!, { candidates: opaqueCoders(raw.length), exhaustive: true })
      : encodeChunk(raw, splitForDtype(chunk.dtype), tensorOptions);
    writer.addChunk(chunk.offset, chunk.length, hex64(xxh64(raw)), encoded);
    options.onProgress?.(chunk.offset + chunk.length, source.size);
    await yieldEvery(chunk.length);
  }
  writer.finish({
    format: layout.format,
    source: { name: basename(source.name), size: source.size, xxh64: hex64(fileHash.digest()) },
    segments: layout.segments,
  });
  return { originalSize: source.size, compressedSize: writer.bytesWritten };
}
