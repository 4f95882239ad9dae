import { decodeWith, encodeWith, type CoderName } from './coders.js';
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

/** Planes longer than this choose their coder by a trial on a sample this long from their middle. */
const SAMPLE_BYTES = 16 * 1024;

/** The coder that makes the sample smallest; raw when none shrinks it (near-random mantissa bytes). */
function pickBySample(plane: Uint8Array, candidates: readonly CoderName[]): CoderName {
  const start = (plane.length - SAMPLE_BYTES) >> 1;
  const sample = plane.subarray(start, start + SAMPLE_BYTES);
  let best: CoderName = 'raw';
  let bestLength = sample.length;
  for (const coder of candidates) {
    const length = encodeWith(coder, sample).length;
    if (length < bestLength) [best, bestLength] = [coder, length];
  }
  return best;
}

function encodePlane(plane: Uint8Array, options: EncodeOptions): { coder: CoderName; bytes: Uint8Array } {
  const trials = options.exhaustive || plane.length <= SAMPLE_BYTES ? options.candidates : [pickBySample(plane, options.candidates)];
  let coder: CoderName = 'raw';
  let bytes = plane;
  for (const candidate of trials) {
    const coded = encodeWith(candidate, plane);
    if (coded.length < bytes.length) [coder, bytes] = [candidate, coded.slice()];
  }
  return { coder, bytes };
}

/** Splits a chunk into planes and codes each with the best of the candidate coders. */
export function encodeChunk(raw: Uint8Array, split: PlaneSplit, options: EncodeOptions): EncodedChunk {
  const streams: StreamRecord[] = [];
  const payload: Uint8Array[] = [];
  for (const plane of split.split(raw)) {
    const { coder, bytes } = encodePlane(plane, options);
    streams.push({ coder, rawLength: plane.length, codedLength: bytes.length });
    payload.push(bytes);
  }
  return { split: split.name, streams, payload };
}

/** Plane buffers reused from chunk to chunk while decoding (fresh ones would cost page faults and GC). */
const decodedPlanes: Uint8Array[] = [];

function planeBuffer(k: number, length: number): Uint8Array {
  if ((decodedPlanes[k]?.length ?? -1) < length) decodedPlanes[k] = new Uint8Array(length);
  return decodedPlanes[k]!.subarray(0, length);
}

/** Rebuilds a chunk's original bytes into `dst` from its coded planes laid end to end in `coded`. */
export function decodeChunk(coded: Uint8Array, splitName: string, streams: readonly StreamRecord[], dst: Uint8Array): void {
  const split = splitByName(splitName);
  if (!split) throw new Error(`unknown plane split "${splitName}"`);
  let at = 0;
  const planes = streams.map((stream, k) => {
    const plane = planeBuffer(k, stream.rawLength);
    decodeWith(stream.coder as CoderName, coded.subarray(at, at + stream.codedLength), plane);
    at += stream.codedLength;
    return plane;
  });
  split.merge(planes, dst);
}
