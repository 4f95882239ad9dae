import { xxh64 } from '@node-rs/xxhash';
import { decodeWith, isCoderName } from '../codec/coders.js';
import { decodeChunk } from '../codec/pipeline.js';
import { planeLengths } from '../codec/planes.js';
import { splitByName } from '../codec/splits.js';
import { MithrilError } from '../errors.js';
import type { Segment } from '../formats/layout.js';
import type { ByteSource } from '../io/source.js';
import {
  decodeFooter, decodeHeader, FOOTER_SIZE, HEADER_SIZE, hex64, MAX_CHUNK_BYTES, MAX_INDEX_BYTES,
  type ChunkRecord, type ContainerIndex,
} from './format.js';

/** An opened container: its validated index, ready for random access to any chunk. */
export class ContainerReader {
  readonly index: ContainerIndex;
  private readonly dataEnd: number;

  constructor(private readonly source: ByteSource) {
    const fail: (problem: string) => never = (problem) => {
      throw new MithrilError(source.name, problem);
    };
    if (source.size < HEADER_SIZE + FOOTER_SIZE) fail('too short to be a mithril file (truncated?)');
    const header = decodeHeader(source.read(0, HEADER_SIZE));
    if (typeof header === 'string') fail(header);
    const footer = decodeFooter(source.read(source.size - FOOTER_SIZE, FOOTER_SIZE));
    if (typeof footer === 'string') fail(footer);
    const indexEnd = footer.indexOffset + footer.indexCodedLength;
    if (footer.indexOffset < HEADER_SIZE || indexEnd !== source.size - FOOTER_SIZE || footer.indexLength > MAX_INDEX_BYTES) {
      fail('corrupted footer (index position out of range)');
    }
    const coded = source.read(footer.indexOffset, footer.indexCodedLength);
    const json = new Uint8Array(footer.indexLength);
    try {
      decodeWith('zstd1', coded, json);
    } catch {
      fail('corrupted index (cannot be decoded)');
    }
    if (xxh64(json) !== footer.indexXxh64) fail('corrupted index (checksum mismatch)');
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
    } catch {
      fail('corrupted index (invalid JSON)');
    }
    this.dataEnd = footer.indexOffset;
    const problem = validateIndex(parsed, this.dataEnd);
    if (problem) fail(`invalid index: ${problem}`);
    this.index = parsed as ContainerIndex;
  }

  /** The tensor (or opaque role) whose bytes a chunk starts in, for error messages. */
  describeChunk(chunkNumber: number): string {
    const chunk = this.index.chunks[chunkNumber]!;
    const segment = this.index.segments.find((s) => chunk.rawOffset >= s.offset && chunk.rawOffset < s.offset + s.length);
    const what = segment?.kind === 'tensor' ? `tensor "${segment.name}"` : (segment?.role ?? 'data');
    return `chunk ${chunkNumber} (${what}, bytes ${chunk.rawOffset}..${chunk.rawOffset + chunk.rawLength})`;
  }

  /** Decodes one chunk into `dst` (exactly rawLength bytes) and checks its checksum. */
  readChunk(chunkNumber: number, dst: Uint8Array): void {
    const chunk = this.index.chunks[chunkNumber]!;
    const codedLength = chunk.streams.reduce((sum, s) => sum + s.codedLength, 0);
    const coded = this.source.read(chunk.offset, codedLength);
    try {
      decodeChunk(coded, chunk.split, chunk.streams, dst);
    } catch {
      throw new MithrilError(this.source.name, `corrupted ${this.describeChunk(chunkNumber)}: cannot be decoded`);
    }
    if (hex64(xxh64(dst)) !== chunk.xxh64) {
      throw new MithrilError(this.source.name, `checksum mismatch in ${this.describeChunk(chunkNumber)}`);
    }
  }
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isHex64 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{16}$/.test(value);

function validateSegment(segment: unknown, expectedOffset: number): string | undefined {
  if (typeof segment !== 'object' || segment === null) return 'segment is not an object';
  const s = segment as Record<string, unknown>;
  if (!isCount(s.offset) || !isCount(s.length) || s.offset !== expectedOffset) return 'segments do not tile the file';
  if (s.kind === 'opaque') return typeof s.role === 'string' ? undefined : 'opaque segment without role';
  if (s.kind !== 'tensor') return 'segment of unknown kind';
  if (typeof s.name !== 'string' || typeof s.dtype !== 'string') return 'tensor segment without name or dtype';
  if (!Array.isArray(s.shape) || !s.shape.every(isCount)) return `tensor "${s.name}" has an invalid shape`;
  return undefined;
}

function validateChunk(chunk: unknown, expectedRawOffset: number, dataStart: number, dataEnd: number): string | undefined {
  if (typeof chunk !== 'object' || chunk === null) return 'chunk is not an object';
  const c = chunk as Record<string, unknown>;
  if (!isCount(c.offset) || !isCount(c.rawOffset) || !isCount(c.rawLength) || !isHex64(c.xxh64)) return 'chunk with missing fields';
  if (c.rawOffset !== expectedRawOffset) return 'chunks do not tile the file';
  if (c.rawLength === 0 || c.rawLength > MAX_CHUNK_BYTES) return `chunk of ${c.rawLength} bytes`;
  const split = typeof c.split === 'string' ? splitByName(c.split) : undefined;
  if (!split) return `unknown plane split ${JSON.stringify(c.split)}`;
  const lengths = planeLengths(split, c.rawLength);
  if (!Array.isArray(c.streams) || c.streams.length !== lengths.length) return 'chunk with wrong number of planes';
  let coded = 0;
  for (const [i, stream] of (c.streams as unknown[]).entries()) {
    const s = stream as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null || !isCoderName(s.coder) || s.rawLength !== lengths[i] || !isCount(s.codedLength)) {
      return 'chunk with an invalid plane record';
    }
    coded += s.codedLength;
  }
  if (c.offset < dataStart || c.offset + coded > dataEnd) return 'chunk outside the data area';
  return undefined;
}

/** Checks everything a reader relies on, so that a damaged index can never cause a wrong output. */
function validateIndex(value: unknown, dataEnd: number): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const index = value as Record<string, unknown>;
  const source = index.source as Record<string, unknown> | null;
  if (typeof index.format !== 'string') return 'missing format';
  if (typeof source !== 'object' || source === null || typeof source.name !== 'string' || !isCount(source.size) || !isHex64(source.xxh64)) {
    return 'missing source record';
  }
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
    const problem = validateChunk(chunk, rawOffset, HEADER_SIZE, dataEnd);
    if (problem) return problem;
    rawOffset += (chunk as ChunkRecord).rawLength;
  }
  if (rawOffset !== source.size) return 'chunks do not cover the file';
  return undefined;
}
