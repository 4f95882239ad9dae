import { basename } from 'node:path';
import { checksumOfSource } from '../checksum.js';
import { hasContainerMagic, HEADER_SIZE, type SourceRecord } from '../container/format.js';
import { ContainerReader, describeSource } from '../container/reader.js';
import type { ChunkRecord } from '../container/format.js';
import { readChunk } from './decode.js';
import { MithrilError } from '../errors.js';
import { detectLayout } from '../formats/detect.js';
import type { TensorSegment } from '../formats/layout.js';
import { fileOf, readAt, type ByteSource, type OpenFile } from '../io/source.js';

/**
 * An earlier checkpoint that a new one is coded against: the original file, or its `.mth`.
 * Either way its identity is that of the original bytes, so both forms are interchangeable.
 */
export interface BaseCheckpoint {
  readonly identity: SourceRecord;
  /** The base's tensors by name. */
  readonly tensors: ReadonlyMap<string, TensorSegment>;
  /**
   * Original bytes [offset, offset + length) of the base, into `into` when given, else into a new
   * array of their own (either may be transferred to a worker).
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Throws if the base file changed since it was opened. */
  checkUnchanged(): Promise<void>;
  /** Its original bytes as a local file, when it is one: any thread may read them there (baseInFile). */
  readonly file?: OpenFile;
  close(): void;
}

/** What reading a base's bytes needs: a BaseCheckpoint, or a base file another thread opened (baseInFile). */
export type BaseBytes = Pick<BaseCheckpoint, 'read'>;

/** A base's original bytes read from its file, as a worker thread reads them (BaseCheckpoint.file). */
export function baseInFile(file: OpenFile): BaseBytes {
  return { read: async (offset, length, into) => readAt(file.fd, into ? into.subarray(0, length) : new Uint8Array(length), offset, file.name, file.size) };
}

function tensorsByName(segments: readonly { kind: string }[]): Map<string, TensorSegment> {
  const tensors = new Map<string, TensorSegment>();
  for (const segment of segments) if (segment.kind === 'tensor') tensors.set((segment as TensorSegment).name, segment as TensorSegment);
  return tensors;
}

/** A base given as the original checkpoint file: hashed once to establish its identity. */
class RawBase implements BaseCheckpoint {
  private constructor(
    private readonly source: ByteSource,
    readonly identity: SourceRecord,
    readonly tensors: Map<string, TensorSegment>,
  ) {}

  static async open(source: ByteSource): Promise<RawBase> {
    const tensors = tensorsByName((await detectLayout(source)).segments);
    return new RawBase(source, { name: basename(source.name), ...(await checksumOfSource(source)) }, tensors);
  }

  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.source.read(offset, length, into ?? new Uint8Array(length));
  }
  get file(): OpenFile | undefined {
    return fileOf(this.source);
  }

  checkUnchanged(): Promise<void> {
    return this.source.checkUnchanged();
  }

  close(): void {
    this.source.close();
  }
}

/**
 * A base given as a `.mth` container: read by decoding (and checking) the chunks that hold a range.
 * A delta-coded container reads through its own bases in turn, so a chain of deltas can be a base;
 * each link keeps one decoded chunk, so memory grows with the chain's depth, not its size.
 */
class ContainerBase implements BaseCheckpoint {
  readonly identity: SourceRecord;
  readonly tensors: Map<string, TensorSegment>;
  private cached: { number: number; bytes: Uint8Array } | undefined;

  private constructor(
    private readonly source: ByteSource,
    private readonly reader: ContainerReader,
    private readonly bases: readonly BaseCheckpoint[],
  ) {
    this.identity = reader.index.source;
    this.tensors = tensorsByName(reader.index.segments);
  }

  static async open(source: ByteSource, bases: readonly GivenBase[], start?: Uint8Array): Promise<ContainerBase> {
    const reader = await ContainerReader.open(source, start);
    if (reader.index.bases?.length && !bases.length) {
      throw new MithrilError(source.name, 'is itself delta-coded: give its original file as the base instead', 'NEEDS_BASE');
    }
    return new ContainerBase(source, reader, matchBases(reader, bases));
  }

  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const out = into ? into.subarray(0, length) : new Uint8Array(length);
    const chunks = this.reader.index.chunks;
    let number = this.chunkAt(offset);
    for (let done = 0; done < length; number++) {
      const chunk = chunks[number]!;
      const bytes = await this.decoded(number);
      const from = offset + done - chunk.rawOffset;
      const take = Math.min(length - done, chunk.rawLength - from);
      out.set(bytes.subarray(from, from + take), done);
      done += take;
    }
    return out;
  }

  checkUnchanged(): Promise<void> {
    return this.source.checkUnchanged();
  }

  close(): void {
    this.source.close();
  }

  private chunkAt(offset: number): number {
    const chunks = this.reader.index.chunks;
    let low = 0;
    let high = chunks.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (chunks[mid]!.rawOffset <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  private async decoded(number: number): Promise<Uint8Array> {
    if (this.cached?.number !== number) {
      const bytes = new Uint8Array(this.reader.index.chunks[number]!.rawLength);
      await readChunk(this.reader, number, bytes, await refBytes(this.reader.index.chunks[number]!, this.bases));
      this.cached = { number, bytes };
    }
    return this.cached.bytes;
  }
}

/** A base checkpoint with the path it was given by, for messages. */
export interface GivenBase {
  path: string;
  base: BaseCheckpoint;
}

/**
 * Opens a base: an original checkpoint, or a `.mth` container; a delta-coded container needs its
 * own `bases` (opened the same way, so a whole chain of deltas can serve). They stay open as long
 * as it does; closing them is the caller's.
 */
export async function openBase(source: ByteSource, bases: readonly GivenBase[] = []): Promise<BaseCheckpoint> {
  // The bytes that tell a container go on to open it: one read (one request to object storage) fewer.
  const start = await source.read(0, Math.min(HEADER_SIZE, source.size));
  return hasContainerMagic(start) ? ContainerBase.open(source, bases, start) : RawBase.open(source);
}

/** An original checkpoint file (not a container) as a base. */
export const openOriginal = (source: ByteSource): Promise<BaseCheckpoint> => RawBase.open(source);

/**
 * The bases a delta-coded container needs, in the order of its index, from those given (in any
 * order, matched by the identity of their original bytes); a base that is not one of them, or a
 * missing one, is an error.
 */
export function matchBases(reader: ContainerReader, given: readonly GivenBase[]): BaseCheckpoint[] {
  const expected = reader.index.bases ?? [];
  const matched: (BaseCheckpoint | undefined)[] = expected.map(() => undefined);
  for (const { path, base } of given) {
    const at = expected.findIndex((e) => e.size === base.identity.size && e.xxh64 === base.identity.xxh64);
    if (at < 0) {
      const wanted = expected.length ? `expected ${expected.map(describeSource).join(' or ')}` : `${reader.name} was compressed without a base`;
      throw new MithrilError(path, `is not a base of ${reader.name} (${wanted})`, 'WRONG_BASE');
    }
    matched[at] = base;
  }
  const missing = expected.filter((_, i) => !matched[i]);
  if (missing.length) throw new MithrilError(reader.name, `needs base ${missing.map(describeSource).join(' and ')}: give it with --base`, 'NEEDS_BASE');
  return matched as BaseCheckpoint[];
}

/** For a delta chunk, the base bytes each of its refs names (in buffers from `pool` when given); none otherwise. */
export function refBytes(chunk: ChunkRecord, bases: readonly BaseBytes[], pool?: { take(size: number): Uint8Array }): Promise<Uint8Array[]> {
  return Promise.all((chunk.delta?.refs ?? []).map((ref) => bases[ref.base]!.read(ref.offset, chunk.rawLength, pool?.take(chunk.rawLength))));
}
