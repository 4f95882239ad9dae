import { RunningChecksum } from './checksum.js';
import { codedLengthOf } from './container/format.js';
import { ContainerReader } from './container/reader.js';
import { matchBases, refBytes, type BaseCheckpoint } from './chunks/bases.js';
import { runDecode } from './chunks/code.js';
import { planRuns, restoreRun, type RestoreRun, type RunResult } from './chunks/restore-run.js';
import { MithrilError } from './errors.js';
import type { ByteSink } from './io/sink.js';
import type { ByteSource } from './io/source.js';
import { STAGE_MIN_BYTES } from './io/staged-writes.js';
import { yieldNow } from './io/yield.js';
import { createExecutor, workersFor, type DecodeReply, type Executor } from './parallel/executor.js';
import { InOrder } from './parallel/in-order.js';

export interface DecompressOptions {
  /** The base checkpoints a delta-coded container was made against (any order), with their paths for messages. */
  bases?: readonly { path: string; base: BaseCheckpoint }[];
  /** Called after each chunk with the original bytes restored so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Threads decoding chunks (default 1: this thread only). */
  threads?: number;
  /** Bytes of work that justify starting one more worker (default 64 MiB). */
  workerMinBytes?: number;
  /** Original bytes from which a file restored (or checked) from a file by this thread alone goes in a run, reads and writes staged through the thread pool (default STAGE_MIN_BYTES). */
  stageMinBytes?: number;
}

/**
 * Restores the original bytes from a container into `sink` (or only checks them, without a sink),
 * verifying the whole file's checksum, and every chunk's as it goes (for a file, whose output is
 * discarded on failure, or a check without a sink, only to name the bad chunk once the whole file's fails).
 */
export async function decompressStream(container: ByteSource | ContainerReader, sink: ByteSink | null, options: DecompressOptions = {}): Promise<ContainerReader> {
  const reader = container instanceof ContainerReader ? container : await ContainerReader.open(container);
  const bases = matchBases(reader, options.bases ?? []);
  const { chunks, source: original } = reader.index;
  const threads = workersFor(options.threads ?? 1, chunks.length, original.size, options.workerMinBytes);
  const fd = sink?.fd;
  const input = reader.file();
  // A file from a file is restored (or checked, without a sink) in runs, each thread reading and
  // writing its own: with workers whenever they can read the bases (local files; a `.mth` base is
  // decoded, by this thread only, so then the chunks go to them one by one, below), with this
  // thread alone from the size where staging its reads and writes pays.
  const baseFiles = bases.flatMap((base) => base.file ?? []);
  if ((fd !== undefined || sink === null) && input && (threads > 1 ? baseFiles.length === bases.length : original.size >= (options.stageMinBytes ?? STAGE_MIN_BYTES))) {
    const runs = planRuns(input, fd, chunks, runBytes(original.size, threads), threads > 1 ? baseFiles : undefined);
    await restoreInRuns(reader, runs, bases, createExecutor(threads), options.onProgress);
    return reader;
  }
  const fileHash = new RunningChecksum();
  const executor = createExecutor(threads);
  const { raw: rawBuffers, coded: codedBuffers, refs: refBuffers } = executor.buffers;
  // A file sink is written by the tasks themselves, each chunk at its place; memory, where the
  // threads can reach it, is decoded into in place.
  const memory = sink?.memory;
  if (memory && memory.length < original.size) {
    throw new MithrilError(reader.name, `restores ${original.size} bytes, more than the ${memory.length} of the output buffer given`, 'USAGE');
  }
  const inPlace = memory !== undefined && (!executor.sharesMemory || memory.buffer instanceof SharedArrayBuffer);
  // A file is discarded unless the whole file's checksum matches, and a check (no sink) passes
  // nothing on, so there the chunks' own checksums are needed only to name the bad one then (a pass
  // of hashing saved); a stream or memory is checked chunk by chunk.
  // With workers the chunks are checked where they were decoded instead (chunks tile the file, so
  // that checks every byte): the whole-file pass would read every byte a worker wrote from another core.
  const wholeFile = !executor.sharesMemory;
  const unchecked = wholeFile && (fd !== undefined || sink === null);
  const inFlight = new InOrder<DecodeReply, number>(executor.window, async ({ outcome, raw: rawBuffer, coded, refs }, number) => {
    if (outcome !== 'ok') throw reader.failure(number, outcome);
    const chunk = chunks[number]!;
    const raw = rawBuffer.subarray(0, chunk.rawLength);
    if (wholeFile) fileHash.update(raw);
    if (!inPlace) {
      if (fd === undefined) await sink?.write(raw);
      rawBuffers.give(rawBuffer);
    }
    if (!reader.holdsInMemory(coded)) codedBuffers.give(coded);
    for (const ref of refs) refBuffers.give(ref);
    options.onProgress?.(chunk.rawOffset + chunk.rawLength, original.size);
  });

  reader.willReadChunks(chunks.map((_, number) => number));
  try {
    for (const [number, chunk] of chunks.entries()) {
      // A chunk decoded here needs no copy of a container in memory (nor one a worker can read);
      // workers read a file's coded bytes themselves: copied here, every byte would cross between cores.
      const here = executor.runsNextHere();
      const view = reader.codedInMemory(number, !here);
      const input = here ? undefined : reader.codedInFile(number);
      const size = codedLengthOf(chunk);
      const coded = view ?? (input ? codedBuffers.take(size) : await reader.readCoded(number, codedBuffers.take(size)));
      const refs = await refBytes(chunk, bases, refBuffers);
      const output = fd === undefined ? {} : { output: { fd, position: chunk.rawOffset } };
      const raw = inPlace ? memory.subarray(chunk.rawOffset, chunk.rawOffset + chunk.rawLength) : rawBuffers.take(chunk.rawLength);
      await inFlight.add(executor.decode({ chunk, coded, raw, refs, unchecked, ...output, ...(input ? { input } : {}) }), number);
      await yieldNow();
    }
    await inFlight.drain();
  } finally {
    await executor.close();
  }
  if (wholeFile && fileHash.hex() !== original.xxh64) {
    throw (unchecked && (await badChunk(reader, bases))) || new MithrilError(reader.name, 'restored data does not match the original file checksum', 'CHECKSUM');
  }
  return reader;
}

/**
 * Original bytes of a run when several threads share a restore: at most 32 MiB and at least four
 * runs a thread, as the last run's thread finishes alone (16 and 32 MiB measured alike, 64 worse:
 * docs/DESIGN.md, "Restores in runs"). One thread restores the whole file as one run.
 */
function runBytes(size: number, threads: number): number {
  return threads === 1 ? Infinity : Math.min(32 * 1048576, Math.ceil(size / (threads * 4)));
}

/**
 * Restores `runs` on every thread of `executor`, each taking the next run as it ends one (this
 * thread too, with the bases, which only it holds), until all are done or one fails; returns only
 * once every thread has stopped writing.
 */
async function restoreInRuns(reader: ContainerReader, runs: readonly RestoreRun[], bases: readonly BaseCheckpoint[], executor: Executor, onProgress: DecompressOptions['onProgress']): Promise<void> {
  const total = reader.index.source.size;
  let restored = 0;
  const progress = (bytes: number): void => {
    restored += bytes;
    onProgress?.(restored, total);
  };
  let next = 0;
  let stopped = false;
  const lane = async (restore: (run: RestoreRun) => Promise<RunResult>, runDone?: (run: RestoreRun) => void): Promise<void> => {
    while (!stopped && next < runs.length) {
      const run = runs[next++]!;
      const result = await restore(run).catch((error: unknown) => {
        stopped = true;
        throw error;
      });
      if (!('ok' in result)) {
        stopped = true;
        throw reader.failure(result.chunk, result.outcome);
      }
      runDone?.(run);
    }
  };
  const here = lane((run) => restoreRun(run, bases, (chunk) => progress(chunk.rawLength)));
  const workers = Array.from({ length: executor.workers }, (_, k) => lane((run) => executor.restoreRunOn(k, run), (run) => progress(run.chunks.reduce((sum, chunk) => sum + chunk.rawLength, 0))));
  try {
    const failed = (await Promise.allSettled([here, ...workers])).find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    await executor.close();
  }
}

/** The error naming the first chunk that does not decode to its checksum, if one does not. */
async function badChunk(reader: ContainerReader, bases: readonly BaseCheckpoint[]): Promise<MithrilError | undefined> {
  for (const [number, chunk] of reader.index.chunks.entries()) {
    const outcome = runDecode({ chunk, coded: await reader.readCoded(number), raw: new Uint8Array(chunk.rawLength), refs: await refBytes(chunk, bases) });
    if (outcome !== 'ok') return reader.failure(number, outcome);
  }
}
