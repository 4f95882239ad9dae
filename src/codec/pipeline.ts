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
 * Headers and other opaque bytes are structured: strong LZ pays off while they are small; past
 * 16 KiB (measured: a 90 KB header, zstd -19 saves 4 KB but takes 43 ms) level 1 is enough.
 */
export function opaqueCoders(length: number): readonly CoderName[] {
  return length <= 16 * 1024 ? ['zstd19'] : ['zstd1'];
}

/** Planes longer than this choose their coder by trials on a sample this long from their middle. */
const SAMPLE_BYTES = 4 * 1024;
/** Coders whose sample sizes are within this factor of the best are all tried on the whole plane. */
const UNSURE = 0.9;

/**
 * The coders worth running on the whole plane: the clear winner on a sample, or every close
 * contender when the sample cannot tell. Measured on the fixtures: 4 KiB samples compress 30%
 * faster than 16 KiB ones and give the same ratios, except on paddleocr bf16 (1.4738 against
 * 1.4819), whose structured tensors repeat over longer spans than a sample shows.
 */
function trialsBySample(plane: Uint8Array, candidates: readonly CoderName[]): readonly CoderName[] {
  const start = (plane.length - SAMPLE_BYTES) >> 1;
  const sample = plane.subarray(start, start + SAMPLE_BYTES);
  const sizes = candidates.map((coder) => encodeWith(coder, sample).length);
  const best = Math.min(...sizes);
  if (best >= sample.length) return ['raw'];
  return candidates.filter((_, i) => sizes[i]! * UNSURE <= best);
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

/** Decodes a chunk's planes (of a chunk of `length` bytes split by `splitName`) from `coded`, without merging. */
export function decodePlanes(coded: Uint8Array, splitName: string, streams: readonly StreamRecord[], length: number): Uint8Array[] {
  const split = splitByName(splitName);
  if (!split) throw new Error(`unknown plane split "${splitName}"`);
  const buffers = split.buffers(length);
  let at = 0;
  return streams.map((stream, k) => {
    const plane = buffers[k]!;
    decodeWith(stream.coder as CoderName, coded.subarray(at, at + stream.codedLength), plane);
    at += stream.codedLength;
    return plane;
  });
}

/** Rebuilds a chunk's original bytes into `dst` from its coded planes laid end to end in `coded`. */
export function decodeChunk(coded: Uint8Array, splitName: string, streams: readonly StreamRecord[], dst: Uint8Array): void {
  splitByName(splitName)!.merge(decodePlanes(coded, splitName, streams, dst.length), dst);
}
