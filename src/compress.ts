import { Xxh64, xxh64 } from '@node-rs/xxhash';
import { basename } from 'node:path';
import { DEFAULT_CHUNK_SIZE, planChunks, type ChunkPlan } from './chunks.js';
import { splitForDtype } from './codec/dtypes.js';
import { BEST_TENSOR_CODERS, encodeChunk, opaqueCoders, TENSOR_CODERS, type EncodeOptions } from './codec/pipeline.js';
import { splitByName } from './codec/splits.js';
import { hex64, type BaseRef } from './container/format.js';
import type { BaseCheckpoint } from './delta/base.js';
import { encodeDeltaChunk, isDeltaDtype, type DeltaDtype } from './delta/delta-chunk.js';
import { ContainerWriter, type CodedChunk } from './container/writer.js';
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
  /** Earlier checkpoints to code against: the base, then optionally an older one for prediction. */
  bases?: readonly BaseCheckpoint[];
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
      : encodeTensorChunk(chunk, raw, tensorOptions, options.bases ?? []);
    writer.addChunk(chunk.offset, chunk.length, hex64(xxh64(raw)), encoded);
    options.onProgress?.(chunk.offset + chunk.length, source.size);
    await yieldEvery(chunk.length);
  }
  writer.finish({
    format: layout.format,
    source: { name: basename(source.name), size: source.size, xxh64: hex64(fileHash.digest()) },
    ...(options.bases?.length ? { bases: options.bases.map((base) => base.identity) } : {}),
    segments: layout.segments,
  });
  return { originalSize: source.size, compressedSize: writer.bytesWritten };
}

/** The same bytes of the same tensor (name, dtype, shape) in a base checkpoint, if it has them. */
function pairedBytes(chunk: ChunkPlan, bases: readonly BaseCheckpoint[], which: number): { ref: BaseRef; bytes: Uint8Array } | undefined {
  const tensor = chunk.tensor!;
  const paired = bases[which]?.tensors.get(tensor.name);
  if (!paired || paired.dtype !== tensor.dtype || paired.length !== tensor.length || paired.shape.join() !== tensor.shape.join()) return undefined;
  const ref = { base: which, offset: paired.offset + (chunk.offset - tensor.offset) };
  return { ref, bytes: bases[which]!.read(ref.offset, chunk.length) };
}

/**
 * Codes a tensor chunk alone, or as a delta against its bases where that is smaller. Single-checkpoint
 * coding of floats never reached 2x on any fixture (best: 1.53), so a delta under half the size is
 * kept without trying it.
 */
function encodeTensorChunk(chunk: ChunkPlan, raw: Uint8Array, options: EncodeOptions, bases: readonly BaseCheckpoint[]): CodedChunk {
  const base = chunk.tensor && isDeltaDtype(chunk.dtype) ? pairedBytes(chunk, bases, 0) : undefined;
  if (!base) return encodeChunk(raw, splitForDtype(chunk.dtype!), options);
  const delta = encodeDeltaChunk(raw, chunk.dtype as DeltaDtype, base, pairedBytes(chunk, bases, 1));
  const deltaLength = delta.payload[0]!.length;
  if (deltaLength * 2 <= raw.length) return delta;
  const single = encodeChunk(raw, splitForDtype(chunk.dtype!), options);
  return single.streams.reduce((sum, s) => sum + s.codedLength, 0) < deltaLength ? single : delta;
}
