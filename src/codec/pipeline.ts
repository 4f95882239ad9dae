import { codedBound, decodeWith, encodeInto, encodeWith, type CoderName } from './coders.js';
import type { PlaneSplit } from './planes.js';
import { splitByName } from './splits.js';

/** One coded plane of a chunk: how it was coded, its original and its coded length. */
export interface StreamRecord {
  /** A plane coder, or `residual` for the single stream of a delta chunk (src/delta/). */
  coder: CoderName | 'residual';
  rawLength: number;
  codedLength: number;
}

export interface EncodedChunk {
  split: string;
  streams: StreamRecord[];
  /** The coded planes; from `encodeChunk` these are views of reused memory, valid until its next call. */
  payload: Uint8Array[];
}

export interface EncodeOptions {
  /** Coders to try per plane, cheapest first; `raw` is always the fallback. */
  candidates: readonly CoderName[];
  /** Try every candidate on the whole plane instead of on a sample. */
  exhaustive: boolean;
}

export const TENSOR_CODERS: readonly CoderName[] = ['huf', 'zstd1'];
export const BEST_TENSOR_CODERS: readonly CoderName[] = ['huf', 'zstd1', 'zstd19'];
/**
 * Headers and other opaque bytes are structured: with `best`, strong LZ while they are small (past
 * 16 KiB it costs far more than it saves), else level 1 (docs/DESIGN.md, "Coder choice").
 */
export function opaqueCoders(length: number, best: boolean): readonly CoderName[] {
  return best && length <= 16 * 1024 ? ['zstd19'] : ['zstd1'];
}

/** Planes longer than this choose their coder by trials on a sample this long from their middle. */
const SAMPLE_BYTES = 4 * 1024;
/**
 * A slower coder's size over a faster one's in which a small sample cannot settle the choice
 * (around SLOWER_MUST_SAVE); outside it the sample decides alone.
 */
const UNSURE_FROM = 0.8;
const UNSURE_TO = 1.0;
/** Close contenders are tried again on this many bytes, taken from spread-out parts of the plane. */
const WIDE_SAMPLE_BYTES = 32 * 1024;
const WIDE_SAMPLE_PARTS = 2;
/**
 * A slower coder (later in the candidate list) is chosen only when it saves this much over the
 * faster one: a few % is not worth half the speed (docs/DESIGN.md, "Coder choice").
 */
const SLOWER_MUST_SAVE = 0.9;

function codedSizes(samples: readonly Uint8Array[], candidates: readonly CoderName[]): number[] {
  return candidates.map((coder) => samples.reduce((sum, sample) => sum + encodeWith(coder, sample).length, 0));
}

/** `parts` slices of `length` bytes in all, evenly spread over the plane. */
function spreadSamples(plane: Uint8Array, length: number, parts: number): Uint8Array[] {
  const part = Math.floor(length / parts);
  return Array.from({ length: parts }, (_, k) => {
    const start = Math.floor(((plane.length - part) * (2 * k + 1)) / (2 * parts));
    return plane.subarray(start, start + part);
  });
}

/** The index of the coder to use given the sizes the candidates (fastest first) reached on a sample. */
function preferred(sizes: readonly number[]): number {
  let chosen = 0;
  for (let i = 1; i < sizes.length; i++) if (sizes[i]! <= sizes[chosen]! * SLOWER_MUST_SAVE) chosen = i;
  return chosen;
}

/** Whether coders i and j (fastest first) reached sizes the sample cannot tell apart. */
function isClose(sizes: readonly number[], i: number, j: number): boolean {
  const ratio = i > j ? sizes[i]! / sizes[j]! : sizes[j]! / sizes[i]!;
  return ratio >= UNSURE_FROM && ratio <= UNSURE_TO;
}

/**
 * The coder worth running on the whole plane: the one a small sample prefers; when the sizes are
 * too close to call (see UNSURE_FROM), the one a wider sample prefers, in planes long enough to
 * take it: small samples are fast and right except where structure repeats over longer spans than
 * they show (docs/DESIGN.md, "Coder choice").
 */
function trialsBySample(plane: Uint8Array, candidates: readonly CoderName[]): readonly CoderName[] {
  const sizes = codedSizes(spreadSamples(plane, SAMPLE_BYTES, 1), candidates);
  const chosen = preferred(sizes);
  if (sizes[chosen]! >= SAMPLE_BYTES) return ['raw'];
  const contenders = candidates.filter((_, i) => i === chosen || isClose(sizes, i, chosen));
  if (contenders.length === 1) return contenders;
  if (plane.length < 4 * WIDE_SAMPLE_BYTES) return [candidates[chosen]!];
  return [contenders[preferred(codedSizes(spreadSamples(plane, WIDE_SAMPLE_BYTES, WIDE_SAMPLE_PARTS), contenders))]!];
}

/** Codes one plane into `dst`; returns the coder used and the coded length. */
function encodePlaneInto(plane: Uint8Array, options: EncodeOptions, dst: Uint8Array): { coder: CoderName; length: number } {
  const trials = options.exhaustive || plane.length <= SAMPLE_BYTES ? options.candidates : trialsBySample(plane, options.candidates);
  if (trials.length === 1 && trials[0] !== 'raw') {
    const length = encodeInto(trials[0]!, plane, dst);
    if (length < plane.length) return { coder: trials[0]!, length };
  } else {
    let best: { coder: CoderName; bytes: Uint8Array } = { coder: 'raw', bytes: plane };
    for (const coder of trials) {
      const coded = encodeWith(coder, plane);
      if (coded.length < best.bytes.length) best = { coder, bytes: coded.slice() };
    }
    dst.set(best.bytes);
    return { coder: best.coder, length: best.bytes.length };
  }
  return { coder: 'raw', length: encodeInto('raw', plane, dst) };
}

/** Where coded planes are written: reused from chunk to chunk (fresh memory is slow to touch). */
let output = new Uint8Array(0);

/** Splits a chunk into planes and codes each with the best of the candidate coders. */
export function encodeChunk(raw: Uint8Array, split: PlaneSplit, options: EncodeOptions): EncodedChunk {
  return encodePlanes(split.split(raw), split.name, options);
}

/** Codes planes already split (by the split named `splitName`), each with the best of the candidate coders. */
export function encodePlanes(planes: Uint8Array[], splitName: string, options: EncodeOptions): EncodedChunk {
  const room = planes.reduce((sum, plane) => sum + codedBound(plane.length), 0);
  if (output.length < room) output = new Uint8Array(room + (room >> 2));
  const streams: StreamRecord[] = [];
  const payload: Uint8Array[] = [];
  let at = 0;
  for (const plane of planes) {
    const { coder, length } = encodePlaneInto(plane, options, output.subarray(at));
    streams.push({ coder, rawLength: plane.length, codedLength: length });
    payload.push(output.subarray(at, at + length));
    at += length;
  }
  return { split: splitName, streams, payload };
}

/** Decodes the planes of a chunk split by `splitName`, to be merged into `dst`, from `coded`, without merging. */
export function decodePlanes(coded: Uint8Array, splitName: string, streams: readonly StreamRecord[], dst: Uint8Array): Uint8Array[] {
  const split = splitByName(splitName);
  if (!split) throw new Error(`unknown plane split "${splitName}"`);
  const buffers = split.buffers(dst);
  let at = 0;
  return streams.map((stream, k) => {
    const bytes = coded.subarray(at, at + stream.codedLength);
    at += stream.codedLength;
    // A raw plane is used where it lies, not copied (planes are only read from here on).
    if (stream.coder === 'raw' && bytes.length === buffers[k]!.length) return bytes;
    decodeWith(stream.coder as CoderName, bytes, buffers[k]!);
    return buffers[k]!;
  });
}

/** Rebuilds a chunk's original bytes into `dst` from its coded planes laid end to end in `coded`. */
export function decodeChunk(coded: Uint8Array, splitName: string, streams: readonly StreamRecord[], dst: Uint8Array): void {
  splitByName(splitName)!.merge(decodePlanes(coded, splitName, streams, dst), dst);
}
