import { codedLengthOf, codedRange, type ChunkRecord } from '../container/format.js';
import { readAt, readInBackground, type OpenFile } from '../io/source.js';
import { StagedReads } from '../io/staged-reads.js';
import { STAGE_BYTES, StagedWrites } from '../io/staged-writes.js';
import { yieldNow } from '../io/yield.js';
import { PlaneBuffers } from '../kernels/plane-memory.js';
import { baseInFile, refBytes, type BaseBytes } from './bases.js';
import { runDecode, type DecodeOutcome } from './code.js';

/**
 * Consecutive chunks of a container file restored into their places in an output file (or only
 * checked) by one thread, which reads, decodes and writes them with nothing from any other: a restore's threads
 * each take run after run, so that no chunk's bytes cross between cores and no message goes per
 * chunk (docs/DESIGN.md, "Restores in runs").
 */
export interface RestoreRun {
  input: OpenFile;
  /** The output file, open for writing at any position; without one the chunks are only checked (verify). */
  output?: number;
  /** The number of the run's first chunk in the container. */
  first: number;
  chunks: ChunkRecord[];
  /** The bases' files, in the container's order, for a worker to read a delta chunk's base bytes from (this thread has the bases themselves). */
  baseFiles?: OpenFile[];
}

/** `ok`, or the number of the first chunk that failed and how. */
export type RunResult = { ok: true } | { chunk: number; outcome: Exclude<DecodeOutcome, 'ok'> };

/**
 * Restores `run` in this thread: the thread pool reads the coded chunks ahead and writes the
 * restored ones behind, both through buffers in the plane kernels' memory, so that planes are
 * merged from the bytes read into the bytes written. Each chunk is checked against its checksum
 * (the runs tile the file, so that checks every byte). Delta chunks read their bases' bytes from
 * `bases`, by default from the run's base files.
 */
export async function restoreRun(run: RestoreRun, bases: readonly BaseBytes[] = (run.baseFiles ?? []).map(baseInFile), onChunk?: (chunk: ChunkRecord) => void): Promise<RunResult> {
  const { input, output, first, chunks } = run;
  const buffers = new PlaneBuffers();
  const largest = chunks.reduce((size, chunk) => Math.max(size, chunk.rawLength), STAGE_BYTES);
  const writes = output === undefined ? undefined : new StagedWrites(output, largest, buffers.take);
  const checked = writes ? undefined : buffers.take(largest);
  const reads = new StagedReads((offset, length, into) => readInBackground(input, offset, length, into), chunks.map(codedRange), STAGE_BYTES, buffers.take);
  // Reused from chunk to chunk (fresh memory is slow to touch): a chunk too large for a staging
  // buffer is read here, and a delta chunk's base bytes.
  const large = new Reused();
  const refs: Reused[] = [];
  try {
    for (const [k, chunk] of chunks.entries()) {
      const coded = (await reads.bytes(k)) ?? readAt(input.fd, large.take(codedLengthOf(chunk)), chunk.offset, input.name, input.size);
      const raw = writes ? await writes.room(chunk.rawOffset, chunk.rawLength) : checked!.subarray(0, chunk.rawLength);
      let ref = 0;
      const outcome = runDecode({ chunk, coded, raw, refs: await refBytes(chunk, bases, { take: (size) => (refs[ref++] ??= new Reused()).take(size) }) });
      if (outcome !== 'ok') return { chunk: first + k, outcome };
      onChunk?.(chunk);
      await yieldNow();
    }
    await writes?.finish();
    return { ok: true };
  } finally {
    await reads.settle();
    await writes?.settle();
    buffers.release();
  }
}

/** One buffer, grown when needed. */
class Reused {
  private buffer = new Uint8Array(0);
  take(size: number): Uint8Array {
    if (this.buffer.length < size) this.buffer = new Uint8Array(size);
    return this.buffer.subarray(0, size);
  }
}

/** The chunks in runs of about `bytes` original bytes each (a whole run's buffers are reused, so its size costs no memory). */
export function planRuns(input: OpenFile, output: number | undefined, chunks: readonly ChunkRecord[], bytes: number, baseFiles?: OpenFile[]): RestoreRun[] {
  const runs: RestoreRun[] = [];
  for (let first = 0; first < chunks.length; ) {
    let last = first;
    for (let size = 0; last < chunks.length && (last === first || size + chunks[last]!.rawLength <= bytes); last++) size += chunks[last]!.rawLength;
    runs.push({ input, first, chunks: chunks.slice(first, last), ...(output === undefined ? {} : { output }), ...(baseFiles ? { baseFiles } : {}) });
    first = last;
  }
  return runs;
}
