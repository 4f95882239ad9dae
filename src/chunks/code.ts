import { splitForDtype } from '../codec/dtypes.js';
import { BEST_TENSOR_CODERS, decodeChunk, encodeChunk, opaqueCoders, TENSOR_CODERS, type EncodeOptions, type StreamRecord } from '../codec/pipeline.js';
import { splitByName } from '../codec/splits.js';
import { checksumOf } from '../checksum.js';
import { codedLengthOf, type ChunkRecord, type DeltaRecord } from '../container/format.js';
import type { CodedChunk } from '../container/writer.js';
import { decodeDeltaChunk, encodeDeltaChunk, type PairedBytes } from '../delta/delta-chunk.js';
import { isDeltaDtype } from '../dtypes.js';
import { writeAll } from '../io/sink.js';
import { readAt, type InFile } from '../io/source.js';

/**
 * The work on one chunk, as pure functions of bytes: the same code runs in-process (-T 1) and in
 * worker threads, so the output does not depend on the number of threads.
 */
export interface EncodeTask {
  raw: Uint8Array;
  /** Room for the coded chunk: at least `encodeRoom(raw.length)` bytes. */
  out: Uint8Array;
  dtype: string | null;
  best: boolean;
  /** Delta coding with context-modelled rANS: smaller, several times slower. */
  strong: boolean;
  /**
   * Elements per row when the chunk is whole rows of a matrix: lets the strong delta coder fit a
   * low-rank sign model (smaller on fine-tunes, about two thirds of the encode speed).
   */
  rowLength?: number;
  base?: PairedBytes;
  prev?: PairedBytes;
}

export interface EncodeResult {
  xxh64: string;
  split: string;
  streams: StreamRecord[];
  delta?: DeltaRecord;
  /** The coded planes are `out[0 .. codedLength)`, end to end. */
  codedLength: number;
}

/** The base bytes a task carries (handed back to the caller for reuse). */
export function encodeRefs(task: EncodeTask): Uint8Array[] {
  return [task.base?.bytes, task.prev?.bytes].filter((bytes): bytes is Uint8Array => bytes !== undefined);
}

/** Every coding of a chunk fits in this (zstd's bound per plane, and a delta is kept only when smaller). */
export function encodeRoom(length: number): number {
  return length + (length >> 7) + 4096;
}

/**
 * The best ratio single-checkpoint coding reached on any fixture, rounded up (bf16 1.5345, fp16
 * 1.1864, fp32 1.2123): a delta smaller than the chunk divided by this is kept without trying it.
 */
const BEST_SINGLE_RATIO: Record<string, number> = { BF16: 1.6, F16: 1.25, F32: 1.25 };

/** Copies `parts` end to end into `into`; returns their length. */
function gather(parts: readonly Uint8Array[], into: Uint8Array): number {
  let at = 0;
  for (const part of parts) {
    into.set(part, at);
    at += part.length;
  }
  return at;
}

/** Where a delta's bytes are kept while coding alone is tried: reused, as fresh memory is slow to touch. */
let kept = new Uint8Array(0);

/** A tensor chunk alone, or as a delta against its bases where that is smaller. */
function encodeTensor(task: EncodeTask, options: EncodeOptions): CodedChunk {
  const dtype = task.dtype!;
  if (!task.base || !isDeltaDtype(dtype)) return encodeChunk(task.raw, splitForDtype(dtype), options);
  const delta = encodeDeltaChunk(task.raw, dtype, task.base, task.prev, task.strong, options, task.rowLength);
  const deltaLength = codedLengthOf(delta);
  if (deltaLength * BEST_SINGLE_RATIO[dtype]! <= task.raw.length) return delta;
  // Both codings write into the same reused memory, so keep the delta's bytes before coding alone.
  if (kept.length < deltaLength) kept = new Uint8Array(deltaLength + (deltaLength >> 2));
  const deltaCopy = { ...delta, payload: [kept.subarray(0, gather(delta.payload, kept))] };
  const single = encodeChunk(task.raw, splitForDtype(dtype), options);
  return codedLengthOf(single) < deltaLength ? single : deltaCopy;
}

export function runEncode(task: EncodeTask): EncodeResult {
  const coded: CodedChunk = task.dtype === null
    ? encodeChunk(task.raw, splitByName('bytes')!, { candidates: opaqueCoders(task.raw.length, task.best), exhaustive: true })
    : encodeTensor(task, task.best ? { candidates: BEST_TENSOR_CODERS, exhaustive: true } : { candidates: TENSOR_CODERS, exhaustive: false });
  const { split, streams, delta } = coded;
  return { xxh64: checksumOf(task.raw), split, streams, ...(delta ? { delta } : {}), codedLength: gather(coded.payload, task.out) };
}

export interface DecodeTask {
  chunk: ChunkRecord;
  /** Where to write the checked original bytes, if the task writes them itself. */
  output?: { fd: number; position: number };
  /** Where to read the coded bytes into `coded` from first, if the task reads them itself. */
  input?: InFile;
  coded: Uint8Array;
  /** Room for the chunk's original bytes (at least rawLength). */
  raw: Uint8Array;
  /** For a delta chunk: the bytes each of its refs names, in order. */
  refs: Uint8Array[];
  /** Leaves the chunk's checksum to the caller's whole-file check (an output it discards if that fails). */
  unchecked?: boolean;
}

export type DecodeOutcome = 'ok' | 'corrupt' | 'checksum';

/** Decodes a chunk into `raw` and checks it against its checksum (unless `unchecked`). */
export function runDecode(task: DecodeTask): DecodeOutcome {
  const { chunk, input, refs } = task;
  const coded = input ? readAt(input.fd, task.coded.subarray(0, codedLengthOf(chunk)), input.position, input.name, input.size) : task.coded;
  const raw = task.raw.subarray(0, chunk.rawLength);
  try {
    if (chunk.delta) decodeDeltaChunk(coded, chunk.split, chunk.streams, chunk.delta, refs, raw);
    else decodeChunk(coded, chunk.split, chunk.streams, raw);
  } catch {
    return 'corrupt';
  }
  if (!task.unchecked && checksumOf(raw) !== chunk.xxh64) return 'checksum';
  if (task.output) writeAll(task.output.fd, raw, task.output.position);
  return 'ok';
}
