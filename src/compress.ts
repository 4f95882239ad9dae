import { basename } from 'node:path';
import type { BaseCheckpoint } from './chunks/bases.js';
import { encodeRoom } from './chunks/code.js';
import { pairChunk, rowLengthOf } from './chunks/pairing.js';
import { DEFAULT_CHUNK_SIZE, planChunks, SMALL_TENSOR, SMALL_TENSOR_WITH_BASES, type ChunkPlan } from './chunks/plan.js';
import { RunningChecksum } from './checksum.js';
import { hasContainerMagic, HEADER_SIZE, type SourceRecord } from './container/format.js';
import { MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from './limits.js';
import { MithrilError } from './errors.js';
import { ContainerWriter } from './container/writer.js';
import { detectLayout } from './formats/detect.js';
import type { ByteSink } from './io/sink.js';
import { StagedReads } from './io/staged-reads.js';
import { PlaneBuffers } from './kernels/plane-memory.js';
import { STAGE_BYTES, STAGE_MIN_BYTES, StagedSink, StagedWrites } from './io/staged-writes.js';
import { isViewOf, viewInMemory, type ByteSource } from './io/source.js';
import { yieldNow } from './io/yield.js';
import { createExecutor, workersFor, WORKER_MIN_BYTES, WORKER_MIN_BYTES_SLOW, type EncodeReply } from './parallel/executor.js';
import { InOrder } from './parallel/in-order.js';
export interface CompressOptions {
  /** Target chunk size in bytes (default 1 MiB). */
  chunkSize?: number;
  /** Also try slow, strong LZ (zstd level 19) on every plane, and with bases a low-rank model of the residual signs; overrides `fast`. */
  best?: boolean;
  /**
   * Delta chunks as ULP residuals in byte planes, the quick coder: up to 4 times faster than the
   * default context-modelled rANS each way, but 1–33% larger (docs/DESIGN.md, "Delta coder").
   */
  fast?: boolean;
  /** Called after each chunk with the original bytes done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Earlier checkpoints to code against: the base, then optionally an older one for prediction. */
  bases?: readonly BaseCheckpoint[];
  /** Threads coding chunks (default 1: this thread only); the output is the same for any number. */
  threads?: number;
  /** Bytes of work that justify starting one more worker (default: 64 MiB, 4 MiB with `best`). */
  workerMinBytes?: number;
  /** Input bytes from which reads and writes are staged through the thread pool (default STAGE_MIN_BYTES). */
  stageMinBytes?: number;
  /** The original file's name recorded in the container (default: the source's base name; '' for none). */
  originalName?: string;
}

/** A base given but recorded in no chunk, so the container does not need it. */
export interface UnusedBase {
  /** Its place among the bases given. */
  base: number;
  /** `unmatched`: no tensor has the same name, dtype and shape; `no-gain`: deltas were no smaller than coding alone. */
  reason: 'unmatched' | 'no-gain';
}

export interface CompressResult {
  /** The original's name, size and xxh64, as recorded. */
  source: SourceRecord;
  originalSize: number;
  compressedSize: number;
  /** Bases given that no chunk is coded against: not recorded, so not needed to decompress. */
  unusedBases: UnusedBase[];
}

/** Bytes read ahead at once: four of the default chunks. */
const READ_BLOCK_BYTES = 4 * 1048576;

/** Compresses a checkpoint from `source` into a container written to `sink`. */
export async function compressStream(source: ByteSource, sink: ByteSink, options: CompressOptions = {}): Promise<CompressResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!(chunkSize >= MIN_CHUNK_BYTES && chunkSize <= MAX_CHUNK_BYTES)) throw new RangeError(`chunk size ${chunkSize}: expected ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES} bytes`);
  if (source.size === 0) throw new MithrilError(source.name, 'is empty (0 bytes), not a checkpoint', 'EMPTY');
  if (hasContainerMagic(await source.read(0, Math.min(HEADER_SIZE, source.size)))) {
    throw new MithrilError(source.name, 'is already a mithril container (a renamed .mth?): decompress it instead', 'NOT_CHECKPOINT');
  }
  const layout = await detectLayout(source);
  const bases = options.bases ?? [];
  const chunks = planChunks(layout, chunkSize, bases.length ? SMALL_TENSOR_WITH_BASES : SMALL_TENSOR);
  source.willRead?.(chunks);
  const fileHash = new RunningChecksum();
  const minBytes = options.workerMinBytes ?? (options.best ? WORKER_MIN_BYTES_SLOW : WORKER_MIN_BYTES);
  const executor = createExecutor(workersFor(options.threads ?? 1, chunks.length, source.size, minBytes));
  // Coding in this thread alone, a file is written by the thread pool meanwhile, as decompress does.
  const stage = !executor.sharesMemory && source.size >= (options.stageMinBytes ?? STAGE_MIN_BYTES);
  const staged = stage && sink.fd !== undefined ? new StagedWrites(sink.fd, STAGE_BYTES) : undefined;
  // And the input is read ahead by the pool in blocks (workers need their chunks in shared memory instead),
  // into the plane kernels' memory, where they are split without a copy.
  const readInBackground = stage ? source.readInBackground?.bind(source) : undefined;
  const planeBuffers = new PlaneBuffers();
  const ahead = readInBackground && new StagedReads(readInBackground, chunks, READ_BLOCK_BYTES, planeBuffers.take);
  try {
    const writer = await ContainerWriter.open(staged ? new StagedSink(staged) : sink);
    const paired = bases.map(() => false);
    const used = bases.map(() => false);
    const { raw: rawBuffers, coded: outBuffers, refs: refBuffers } = executor.buffers;
    const inFlight = new InOrder<EncodeReply, ChunkPlan>(executor.window, async ({ result, raw, out, refs }, chunk) => {
      const { split, streams, delta } = result;
      for (const ref of delta?.refs ?? []) used[ref.base] = true;
      await writer.addChunk(chunk.offset, chunk.length, result.xxh64, { split, streams, delta, payload: [out.subarray(0, result.codedLength)] });
      // A chunk read ahead is a view into a block, and one in memory a view of it: neither is the pool's.
      if (!ahead?.holds(raw) && !isViewOf(source, raw)) rawBuffers.give(raw);
      outBuffers.give(out);
      for (const ref of refs) refBuffers.give(ref);
      options.onProgress?.(chunk.offset + chunk.length, source.size);
    });

    try {
      for (const [index, chunk] of chunks.entries()) {
        // A chunk coded here needs no copy of a checkpoint in memory (nor one a worker can read).
        const view = viewInMemory(source, chunk.offset, chunk.length, !executor.runsNextHere());
        const raw = view ?? (await ahead?.bytes(index)) ?? (await source.read(chunk.offset, chunk.length, rawBuffers.take(chunk.length)));
        const out = outBuffers.take(encodeRoom(chunk.length));
        fileHash.update(raw);
        const { base, prev } = await pairChunk(chunk, bases, refBuffers);
        if (base) paired[0] = true;
        if (prev) paired[1] = true;
        const strong = (options.best ?? false) || !options.fast;
        // The low-rank model costs the strong coder about a third of its encode speed: only with --best.
        const rowLength = base && options.best ? rowLengthOf(chunk) : undefined;
        await inFlight.add(executor.encode({ raw, out, dtype: chunk.dtype, best: options.best ?? false, strong, rowLength, base, prev }), chunk);
        await yieldNow();
      }
      await inFlight.drain();
    } finally {
      await executor.close();
    }
    // Chunks name bases by position and the older base only ever with the first: a used base's predecessors are used too.
    const recorded = bases.slice(0, used.lastIndexOf(true) + 1);
    const original = { name: options.originalName ?? basename(source.name), size: source.size, xxh64: fileHash.hex() };
    await writer.finish({
      format: layout.format,
      source: original,
      ...(recorded.length ? { bases: recorded.map((base) => base.identity) } : {}),
      segments: layout.segments,
    });
    await staged?.finish();
    const unusedBases = bases.flatMap((_, i): UnusedBase[] => (used[i] ? [] : [{ base: i, reason: paired[i] ? 'no-gain' : 'unmatched' }]));
    return { source: original, originalSize: source.size, compressedSize: writer.bytesWritten, unusedBases };
  } finally {
    // After a failure no read or staged write may touch a file once its owner has closed it.
    await ahead?.settle();
    await staged?.settle();
    planeBuffers.release();
  }
}
