import { Xxh64 } from '@node-rs/xxhash';
import { basename } from 'node:path';
import { DEFAULT_CHUNK_SIZE, planChunks, rowBytes, SMALL_TENSOR, SMALL_TENSOR_WITH_BASES, type ChunkPlan } from './chunks.js';
import { hex64, MAX_CHUNK_BYTES } from './container/format.js';
import { ContainerWriter } from './container/writer.js';
import type { BaseCheckpoint } from './delta/base.js';
import { isDeltaDtype } from './delta/delta-chunk.js';
import { elementSize } from './dtypes.js';
import { detectLayout } from './formats/detect.js';
import type { ByteSink } from './io/sink.js';
import type { ByteSource } from './io/source.js';
import { yieldEvery } from './io/yield.js';
import { BufferPool } from './parallel/buffers.js';
import { createExecutor, type EncodeReply } from './parallel/executor.js';
import { InOrder } from './parallel/in-order.js';
import { encodeRoom, type PairedBytes } from './parallel/tasks.js';
export interface CompressOptions {
  /** Target chunk size in bytes (default 1 MiB). */
  chunkSize?: number;
  /** Also try slow, strong LZ (zstd level 19) on every plane; implies `strong`. */
  best?: boolean;
  /** Delta chunks with context-modelled rANS: smaller than the default byte planes, several times slower. */
  strong?: boolean;
  /** Called after each chunk with the original bytes done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Earlier checkpoints to code against: the base, then optionally an older one for prediction. */
  bases?: readonly BaseCheckpoint[];
  /** Threads coding chunks (default 1: this thread only); the output is the same for any number. */
  threads?: number;
}

export interface CompressResult {
  originalSize: number;
  compressedSize: number;
}

/** Compresses a checkpoint from `source` into a container written to `sink`. */
export async function compressStream(source: ByteSource, sink: ByteSink, options: CompressOptions = {}): Promise<CompressResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!(chunkSize >= 4096 && chunkSize <= MAX_CHUNK_BYTES)) throw new RangeError(`chunk size ${chunkSize}: expected 4 KiB to ${MAX_CHUNK_BYTES} bytes`);
  const layout = detectLayout(source);
  const bases = options.bases ?? [];
  const chunks = planChunks(layout, chunkSize, bases.length ? SMALL_TENSOR_WITH_BASES : SMALL_TENSOR);
  const writer = new ContainerWriter(sink);
  const fileHash = new Xxh64();
  const executor = createExecutor(options.threads ?? 1);
  const rawBuffers = new BufferPool(executor.sharesMemory);
  const outBuffers = new BufferPool(executor.sharesMemory);
  const refBuffers = new BufferPool(executor.sharesMemory);
  const inFlight = new InOrder<EncodeReply, ChunkPlan>(executor.window, ({ result, raw, out, refs }, chunk) => {
    const { split, streams, delta } = result;
    writer.addChunk(chunk.offset, chunk.length, result.xxh64, { split, streams, delta, payload: [out.subarray(0, result.codedLength)] });
    rawBuffers.give(raw);
    outBuffers.give(out);
    for (const ref of refs) refBuffers.give(ref);
    options.onProgress?.(chunk.offset + chunk.length, source.size);
  });

  try {
    for (const chunk of chunks) {
      const raw = source.read(chunk.offset, chunk.length, rawBuffers.take(chunk.length));
      const out = outBuffers.take(encodeRoom(chunk.length));
      fileHash.update(raw);
      const base = chunk.tensor && isDeltaDtype(chunk.dtype) ? pairedBytes(chunk, bases, 0, refBuffers) : undefined;
      const prev = base ? pairedBytes(chunk, bases, 1, refBuffers) : undefined;
      const strong = (options.strong || options.best) ?? false;
      // The low-rank model costs the strong coder about a third of its encode speed: only with --best.
      const rowLength = base && options.best ? rowLengthOf(chunk) : undefined;
      await inFlight.add(executor.encode({ raw, out, dtype: chunk.dtype, best: options.best ?? false, strong, rowLength, base, prev }), chunk);
      await yieldEvery(chunk.length);
    }
    await inFlight.drain();
  } finally {
    await executor.close();
  }
  writer.finish({
    format: layout.format,
    source: { name: basename(source.name), size: source.size, xxh64: hex64(fileHash.digest()) },
    ...(bases.length ? { bases: bases.map((base) => base.identity) } : {}),
    segments: layout.segments,
  });
  return { originalSize: source.size, compressedSize: writer.bytesWritten };
}

/** Elements per row when the chunk is whole rows of a tensor with two or more dimensions. */
function rowLengthOf(chunk: ChunkPlan): number | undefined {
  const tensor = chunk.tensor!;
  const size = elementSize(tensor.dtype);
  const row = size === undefined ? undefined : rowBytes(tensor, size);
  return row !== undefined && row > 0 && (chunk.offset - tensor.offset) % row === 0 && chunk.length % row === 0 ? row / size! : undefined;
}

/** The same bytes of the same tensor (name, dtype, shape) in a base checkpoint, if it has them. */
function pairedBytes(chunk: ChunkPlan, bases: readonly BaseCheckpoint[], which: number, buffers: BufferPool): PairedBytes | undefined {
  const tensor = chunk.tensor!;
  const paired = bases[which]?.tensors.get(tensor.name);
  if (!paired || paired.dtype !== tensor.dtype || paired.length !== tensor.length || paired.shape.join() !== tensor.shape.join()) return undefined;
  const ref = { base: which, offset: paired.offset + (chunk.offset - tensor.offset) };
  return { ref, bytes: bases[which]!.read(ref.offset, chunk.length, buffers.take(chunk.length)) };
}
