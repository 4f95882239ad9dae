import { xxh64 } from '../checksum.js';
import { decodeWith } from '../codec/coders.js';
import { MithrilError, type ErrorCode } from '../errors.js';
import { fileOf, isViewOf, viewInMemory, type ByteSource, type InFile, type OpenFile } from '../io/source.js';
import { codedLengthOf, codedRange, decodeFooter, decodeHeader, hasContainerMagic, FOOTER_SIZE, HEADER_SIZE, MAX_INDEX_BYTES, MAX_ZSTD_RATIO, type ContainerIndex, type SourceRecord } from './format.js';
import { validateIndex } from './validate.js';

/** A source for messages; names come from files, so they are quoted with escapes (one line always). */
export const describeSource = (s: SourceRecord): string => `${JSON.stringify(s.name)} (${s.size} bytes, xxh64 ${s.xxh64})`;

/** Bytes read at once from the end: the footer and an index of up to 64 KiB (a 500 MiB checkpoint's), one request for a remote source. */
const TAIL_BYTES = 64 * 1024;

/** The bytes from `offset` up to where `tail` (read at `tailOffset`, up to the end) begins its footer; only what the tail lacks is read. */
async function readEndingIn(source: ByteSource, tail: Uint8Array, tailOffset: number, offset: number): Promise<Uint8Array> {
  const end = tailOffset + tail.length - FOOTER_SIZE;
  if (offset >= tailOffset) return tail.subarray(offset - tailOffset, end - tailOffset);
  const bytes = new Uint8Array(end - offset);
  await source.read(offset, tailOffset - offset, bytes);
  bytes.set(tail.subarray(0, end - tailOffset), tailOffset - offset);
  return bytes;
}

/** An opened container: its validated index, ready for random access to any chunk. */
export class ContainerReader {
  /** Coded bytes of the chunk being read in this thread, reused (fresh memory is slow to touch). */
  private coded = new Uint8Array(0);

  /** The container's file name, for messages. */
  readonly name: string;

  private constructor(
    private readonly source: ByteSource,
    readonly index: ContainerIndex,
  ) {
    this.name = source.name;
  }

  /** Reads and checks the header (unless given as `start`, already read), footer and index: everything but the chunks. */
  static async open(source: ByteSource, start?: Uint8Array): Promise<ContainerReader> {
    const fail: (problem: string, code?: ErrorCode) => never = (problem, code = 'CORRUPT') => {
      throw new MithrilError(source.name, problem, code);
    };
    if (source.size === 0) fail('is empty (0 bytes), not a mithril file', 'EMPTY');
    start ??= await source.read(0, Math.min(HEADER_SIZE, source.size));
    if (!hasContainerMagic(start)) fail('not a mithril file (no .mth header at the start)', 'NOT_CONTAINER');
    if (source.size < HEADER_SIZE + FOOTER_SIZE) fail(`truncated: only ${source.size} bytes, less than an empty container`, 'TRUNCATED');
    const header = decodeHeader(start);
    if (typeof header === 'string') fail(header, 'UNSUPPORTED');
    const tailOffset = Math.max(0, source.size - TAIL_BYTES);
    const tail = await source.read(tailOffset, source.size - tailOffset);
    const footer = decodeFooter(tail.subarray(tail.length - FOOTER_SIZE));
    // The header is ours, so a missing footer means the end is missing (or was overwritten).
    if (typeof footer === 'string') fail(`truncated or damaged at the end: no index footer in its last ${FOOTER_SIZE} bytes (${source.size} bytes in all)`, 'TRUNCATED');
    const indexEnd = footer.indexOffset + footer.indexCodedLength;
    const plausible = footer.indexLength <= MAX_INDEX_BYTES && footer.indexLength <= footer.indexCodedLength * MAX_ZSTD_RATIO;
    if (footer.indexOffset < HEADER_SIZE || indexEnd !== source.size - FOOTER_SIZE || !plausible) {
      fail('corrupted footer (index position out of range)');
    }
    const coded = await readEndingIn(source, tail, tailOffset, footer.indexOffset);
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
    const problem = validateIndex(parsed, footer.indexOffset);
    if (problem) fail(`invalid index: ${problem}`);
    return new ContainerReader(source, parsed as ContainerIndex);
  }

  /** The tensor (or opaque role) whose bytes a chunk starts in, for error messages. */
  describeChunk(chunkNumber: number): string {
    const chunk = this.index.chunks[chunkNumber]!;
    const segment = this.index.segments.find((s) => chunk.rawOffset >= s.offset && chunk.rawOffset < s.offset + s.length);
    const what = segment?.kind === 'tensor' ? `tensor ${JSON.stringify(segment.name)}` : JSON.stringify(segment?.role ?? 'data').slice(1, -1);
    return `chunk ${chunkNumber} (${what}, bytes ${chunk.rawOffset}..${chunk.rawOffset + chunk.rawLength})`;
  }

  /** Tells the source that these chunks will be read next, in this order (a remote one fetches them ahead). */
  willReadChunks(chunkNumbers: readonly number[]): void {
    this.source.willRead?.(chunkNumbers.map((n) => codedRange(this.index.chunks[n]!)));
  }

  /** The container's local file, open, when it is one (any thread may read it: a worker restores runs of chunks from it). */
  file(): OpenFile | undefined {
    return fileOf(this.source);
  }

  /**
   * A chunk's coded bytes as a view, when the whole container is in memory (no copy); with
   * `sharedOnly`, only when that memory is shared, for a worker thread to read.
   */
  codedInMemory(chunkNumber: number, sharedOnly = false): Uint8Array | undefined {
    const chunk = this.index.chunks[chunkNumber]!;
    return viewInMemory(this.source, chunk.offset, codedLengthOf(chunk), sharedOnly);
  }

  /** Whether `bytes` are a view of the container in memory (codedInMemory), not a buffer to reuse. */
  holdsInMemory(bytes: Uint8Array): boolean {
    return isViewOf(this.source, bytes);
  }

  /** Where a chunk's coded bytes are when the container is a local file, for a thread to read them itself (`readAt`). */
  codedInFile(chunkNumber: number): InFile | undefined {
    const file = this.file();
    return file && { ...file, position: this.index.chunks[chunkNumber]!.offset };
  }

  /** Reads a chunk's coded bytes (into `into` when given). */
  readCoded(chunkNumber: number, into?: Uint8Array): Promise<Uint8Array> {
    const chunk = this.index.chunks[chunkNumber]!;
    const codedLength = codedLengthOf(chunk);
    if (!into) {
      if (this.coded.length < codedLength) this.coded = new Uint8Array(codedLength + (codedLength >> 2));
      into = this.coded;
    }
    return this.source.read(chunk.offset, codedLength, into);
  }

  /** The error for a chunk that failed to decode or to match its checksum. */
  failure(chunkNumber: number, outcome: 'corrupt' | 'checksum'): MithrilError {
    const what = this.describeChunk(chunkNumber);
    return outcome === 'corrupt'
      ? new MithrilError(this.source.name, `corrupted ${what}: cannot be decoded`, 'CORRUPT')
      : new MithrilError(this.source.name, `checksum mismatch in ${what}`, 'CHECKSUM');
  }
}
