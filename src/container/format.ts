import type { Segment } from '../formats/layout.js';
import type { StreamRecord } from '../codec/pipeline.js';
import type { DeltaDtype } from '../dtypes.js';
import { MAX_INDEX_BYTES, MAX_CHUNK_BYTES, MAX_ZSTD_RATIO } from '../limits.js';
export { MAX_INDEX_BYTES, MAX_CHUNK_BYTES, MAX_ZSTD_RATIO };

/**
 * The .mth container (see docs/FORMAT.md):
 *   header (16 bytes) | chunk payloads ... | index (zstd-compressed JSON) | footer (40 bytes)
 */
export const MAGIC = Uint8Array.of(0x89, 0x4d, 0x54, 0x48, 0x0d, 0x0a, 0x1a, 0x0a); // \x89MTH\r\n\x1a\n
export const FOOTER_MAGIC = Uint8Array.of(0x4d, 0x54, 0x48, 0x49, 0x4e, 0x44, 0x45, 0x58); // MTHINDEX
export const FORMAT_VERSION = 1;
export const HEADER_SIZE = 16;
export const FOOTER_SIZE = 40;

/** Which base checkpoint (index into `ContainerIndex.bases`) and where in it a delta chunk refers to. */
export interface BaseRef {
  base: number;
  offset: number;
}

/** How a chunk was coded against earlier checkpoints (see docs/FORMAT.md, "Delta chunks"). */
export interface DeltaRecord {
  dtype: DeltaDtype;
  /** `planes`: ULP residuals in byte planes, each plane coded like any other; `rans`: one residual stream. */
  coding: 'planes' | 'rans';
  /** The base, then optionally an older one for prediction; each `rawLength` bytes at `offset`. */
  refs: BaseRef[];
  /** Prediction weight numerator (over 256) when there are two refs. */
  beta?: number;
}

/** The byte-plane split of a delta chunk's residual words in the `planes` coding. */
export function residualSplit(dtype: DeltaRecord['dtype']): string {
  return dtype === 'F32' ? 'bytes4' : 'bytes2';
}

/** Bytes a chunk's coded streams take in all. */
export const codedLengthOf = (chunk: { readonly streams: readonly { readonly codedLength: number }[] }): number => chunk.streams.reduce((sum, s) => sum + s.codedLength, 0);

/** Where a chunk's coded bytes are in the container. */
export const codedRange = (chunk: ChunkRecord): { offset: number; length: number } => ({ offset: chunk.offset, length: codedLengthOf(chunk) });

export interface ChunkRecord {
  /** Where the chunk's coded planes start in the container. */
  offset: number;
  /** Where its original bytes start in the original file, and how many there are. */
  rawOffset: number;
  rawLength: number;
  /** xxh64 of the original bytes, 16 hex digits. */
  xxh64: string;
  split: string;
  streams: StreamRecord[];
  delta?: DeltaRecord;
}

export interface SourceRecord {
  name: string;
  size: number;
  /** xxh64 of the whole original file, 16 hex digits. */
  xxh64: string;
}

export interface ContainerIndex {
  format: string;
  source: SourceRecord;
  /** The earlier checkpoints this one was coded against, if any; decoding needs them. */
  bases?: SourceRecord[];
  segments: Segment[];
  chunks: ChunkRecord[];
}

export interface Footer {
  indexOffset: number;
  indexCodedLength: number;
  indexLength: number;
  indexXxh64: bigint;
}

export function encodeHeader(): Uint8Array {
  const header = new Uint8Array(HEADER_SIZE);
  header.set(MAGIC, 0);
  new DataView(header.buffer).setUint32(8, FORMAT_VERSION, true);
  return header;
}

export function encodeFooter(footer: Footer): Uint8Array {
  const bytes = new Uint8Array(FOOTER_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(footer.indexOffset), true);
  view.setBigUint64(8, BigInt(footer.indexCodedLength), true);
  view.setBigUint64(16, BigInt(footer.indexLength), true);
  view.setBigUint64(24, footer.indexXxh64, true);
  bytes.set(FOOTER_MAGIC, 32);
  return bytes;
}

/** Returns the footer, or a description of what is wrong with it. */
export function decodeFooter(bytes: Uint8Array): Footer | string {
  if (!FOOTER_MAGIC.every((b, i) => bytes[32 + i] === b)) return 'no mithril footer at the end (truncated or not a .mth file)';
  const view = new DataView(bytes.buffer, bytes.byteOffset, FOOTER_SIZE);
  const number = (at: number): number => {
    const value = view.getBigUint64(at, true);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(value);
  };
  return {
    indexOffset: number(0),
    indexCodedLength: number(8),
    indexLength: number(16),
    indexXxh64: view.getBigUint64(24, true),
  };
}

export function hasContainerMagic(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

/** Returns the format version, or a description of what is wrong with the header. */
export function decodeHeader(bytes: Uint8Array): number | string {
  if (bytes.length < HEADER_SIZE || !hasContainerMagic(bytes)) return 'not a mithril file (bad magic)';
  const version = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE).getUint32(8, true);
  if (version !== FORMAT_VERSION) return `unsupported container version ${version} (this mithril reads version ${FORMAT_VERSION})`;
  return version;
}
