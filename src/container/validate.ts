import { isCoderName } from '../codec/coders.js';
import { planeLengths } from '../codec/planes.js';
import { splitByName } from '../codec/splits.js';
import { elementSize, isDeltaDtype } from '../dtypes.js';
import type { Segment } from '../formats/layout.js';
import { MAX_RESIDUAL_RATIO, MAX_ZSTD_RATIO } from '../limits.js';
import { HEADER_SIZE, MAX_CHUNK_BYTES, residualSplit, type ChunkRecord, type DeltaRecord, type SourceRecord } from './format.js';

/** Delta chunks coded with rANS name this split and have one stream coded by `residual`. */
export const DELTA_SPLIT = 'delta';
export const RESIDUAL_CODER = 'residual';

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isHex64 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{16}$/.test(value);

function validateSegment(segment: unknown, expectedOffset: number): string | undefined {
  if (typeof segment !== 'object' || segment === null) return 'segment is not an object';
  const s = segment as Record<string, unknown>;
  if (!isCount(s.offset) || !isCount(s.length) || s.offset !== expectedOffset) return 'segments do not tile the file';
  if (s.kind === 'opaque') return typeof s.role === 'string' ? undefined : 'opaque segment without role';
  if (s.kind !== 'tensor') return 'segment of unknown kind';
  if (typeof s.name !== 'string' || typeof s.dtype !== 'string') return 'tensor segment without name or dtype';
  if (!Array.isArray(s.shape) || !s.shape.every(isCount)) return `tensor ${JSON.stringify(s.name)} has an invalid shape`;
  return undefined;
}

function isSourceRecord(value: unknown): value is SourceRecord {
  const s = value as Record<string, unknown> | null;
  return typeof s === 'object' && s !== null && typeof s.name === 'string' && isCount(s.size) && isHex64(s.xxh64);
}

/** The planes a chunk's streams must have: from its split, or one residual stream for a delta chunk. */
function expectedStreams(c: Record<string, unknown>, rawLength: number, bases: readonly SourceRecord[]): number[] | string {
  if (c.delta === undefined) {
    const split = typeof c.split === 'string' ? splitByName(c.split) : undefined;
    return split ? planeLengths(split, rawLength) : `unknown plane split ${typeof c.split === 'string' ? JSON.stringify(c.split.slice(0, 40)) : typeof c.split}`;
  }
  const delta = c.delta as Record<string, unknown> | null;
  if (typeof delta !== 'object' || delta === null || typeof delta.dtype !== 'string' || !isDeltaDtype(delta.dtype)) {
    return 'invalid delta record';
  }
  if (rawLength % elementSize(delta.dtype)! !== 0) return 'delta chunk of partial elements';
  const refs = delta.refs as unknown[];
  if (!Array.isArray(refs) || refs.length < 1 || refs.length > 2 || (refs.length === 2) !== isCount(delta.beta) || (delta.beta as number) > 256) {
    return 'invalid delta references';
  }
  for (const ref of refs as Record<string, unknown>[]) {
    const base = isCount(ref?.base) ? bases[ref.base] : undefined;
    if (!base || !isCount(ref.offset) || ref.offset + rawLength > base.size) return 'delta reference outside its base';
  }
  if (delta.coding === 'rans') return c.split === DELTA_SPLIT ? [rawLength] : 'invalid delta record';
  if (delta.coding !== 'planes' || c.split !== residualSplit(delta.dtype as DeltaRecord['dtype'])) return 'invalid delta record';
  return planeLengths(splitByName(c.split as string)!, rawLength);
}

/** Whether a stream of `coded` bytes can decode to `raw` bytes at all (checked before allocating). */
function plausibleExpansion(coder: string, raw: number, coded: number): boolean {
  if (coder === 'raw') return raw === coded;
  const ratio = coder === RESIDUAL_CODER ? MAX_RESIDUAL_RATIO : MAX_ZSTD_RATIO;
  return raw <= Math.max(coded, 1) * ratio;
}

function validateChunk(chunk: unknown, expectedRawOffset: number, dataEnd: number, bases: readonly SourceRecord[]): string | undefined {
  if (typeof chunk !== 'object' || chunk === null) return 'chunk is not an object';
  const c = chunk as Record<string, unknown>;
  if (!isCount(c.offset) || !isCount(c.rawOffset) || !isCount(c.rawLength) || !isHex64(c.xxh64)) return 'chunk with missing fields';
  if (c.rawOffset !== expectedRawOffset) return 'chunks do not tile the file';
  if (c.rawLength === 0 || c.rawLength > MAX_CHUNK_BYTES) return `chunk of ${c.rawLength} bytes`;
  const lengths = expectedStreams(c, c.rawLength, bases);
  if (typeof lengths === 'string') return lengths;
  const rans = (c.delta as { coding?: unknown } | undefined)?.coding === 'rans';
  const streams = c.streams;
  if (!Array.isArray(streams) || streams.length !== lengths.length) return 'chunk with wrong number of planes';
  let coded = 0;
  // Indexed, without a closure or an iterator per chunk: this runs before V8 has optimized it, once per chunk of the file.
  for (let i = 0; i < streams.length; i++) {
    const s = streams[i] as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null || !(rans ? s.coder === RESIDUAL_CODER : isCoderName(s.coder)) || s.rawLength !== lengths[i] || !isCount(s.codedLength)) {
      return 'chunk with an invalid plane record';
    }
    if (!plausibleExpansion(s.coder as string, s.rawLength, s.codedLength)) return `chunk with a plane that cannot expand to ${s.rawLength} bytes`;
    coded += s.codedLength;
  }
  if (c.offset < HEADER_SIZE || c.offset + coded > dataEnd) return 'chunk outside the data area';
  return undefined;
}

/** Checks everything a reader relies on, so that a damaged index can never cause a wrong output. */
export function validateIndex(value: unknown, dataEnd: number): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const index = value as Record<string, unknown>;
  const source = index.source;
  if (typeof index.format !== 'string') return 'missing format';
  if (!isSourceRecord(source)) return 'missing source record';
  const bases = index.bases ?? [];
  if (!Array.isArray(bases) || !bases.every(isSourceRecord)) return 'invalid base records';
  if (!Array.isArray(index.segments) || !Array.isArray(index.chunks)) return 'missing segments or chunks';
  let offset = 0;
  for (const segment of index.segments as unknown[]) {
    const problem = validateSegment(segment, offset);
    if (problem) return problem;
    offset += (segment as Segment).length;
  }
  if (offset !== source.size) return 'segments do not cover the file';
  let rawOffset = 0;
  for (const chunk of index.chunks as unknown[]) {
    const problem = validateChunk(chunk, rawOffset, dataEnd, bases);
    if (problem) return problem;
    rawOffset += (chunk as ChunkRecord).rawLength;
  }
  if (rawOffset !== source.size) return 'chunks do not cover the file';
  return undefined;
}
