import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { MithrilError } from '../errors.js';
import { asS3Error, notFound, s3Client, statusOf } from './s3.js';
import { s3Fetched } from './s3-process.js';
import { parseS3Url, type S3Location } from './s3-url.js';
import type { ByteRange, ByteSource } from './source.js';

/** Ranges announced by willRead are fetched in pieces of at most this size... */
const PIECE_BYTES = 4 << 20;
/** ...this many ahead of the reader at most: the memory a read-ahead holds is bounded, whatever the object's size. */
const PIECES_AHEAD = 4;
/** A body cut off mid-way (a reset after the headers) is not retried by the SDK: it is here. */
const BODY_ATTEMPTS = 3;

/** A piece of the announced ranges, fetched once its turn comes within the read-ahead. */
interface Piece {
  offset: number;
  length: number;
  data?: Promise<Uint8Array>;
  buffer?: Uint8Array;
}

/**
 * An object read with ranged GETs: a read the caller announced (willRead) is served from pieces
 * fetched ahead in parallel; any other read fetches exactly its bytes, so `info` and `extract`
 * fetch only what they read. Every GET names the ETag seen at open, so a replaced object fails.
 */
export class S3Source implements ByteSource {
  private pieces: Piece[] = [];
  /** Buffers of pieces already read, reused: fresh ones would pile up faster than they are collected. */
  private spare: Uint8Array[] = [];
  private closed = false;

  private constructor(
    private readonly location: S3Location,
    readonly size: number,
    private readonly etag: string | undefined,
  ) {}

  get name(): string {
    return this.location.url;
  }

  static async open(url: string): Promise<S3Source> {
    const location = parseS3Url(url);
    if (location.key.endsWith('/')) throw new MithrilError(url, 'is a folder (a key ending in /), not an object', 'IS_DIRECTORY');
    try {
      const head = await s3Client().send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }));
      return new S3Source(location, head.ContentLength ?? 0, head.ETag);
    } catch (error) {
      throw statusOf(error) === 404 ? await notFound(location) : asS3Error(url, error);
    }
  }

  willRead(ranges: readonly ByteRange[]): void {
    const pieces: Piece[] = [];
    for (const { offset, length } of ranges) {
      for (let at = offset; at < offset + length; ) {
        const last = pieces[pieces.length - 1];
        const take = Math.min(offset + length - at, PIECE_BYTES);
        // Contiguous ranges (consecutive chunks) share pieces, so small chunks do not cost a request each.
        if (last && last.offset + last.length === at && last.length < PIECE_BYTES) {
          const joined = Math.min(take, PIECE_BYTES - last.length);
          last.length += joined;
          at += joined;
        } else {
          pieces.push({ offset: at, length: take });
          at += take;
        }
      }
    }
    this.pieces = pieces;
  }

  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new MithrilError(this.name, `unexpected end of object (wanted ${length} bytes at offset ${offset}, size ${this.size})`, 'TRUNCATED');
    }
    const target = into ? into.subarray(0, length) : new Uint8Array(length);
    if (length === 0) return target;
    while (this.pieces.length && this.pieces[0]!.offset + this.pieces[0]!.length <= offset) this.pieces.shift();
    if (!this.announced(offset, length)) {
      await this.fetch(offset, length, target);
      return target;
    }
    this.fetchAhead();
    const end = offset + length;
    for (const piece of this.pieces) {
      if (piece.offset >= end) break;
      const data = await (piece.data ?? this.fetchPiece(piece));
      const from = Math.max(offset, piece.offset);
      target.set(data.subarray(from - piece.offset, Math.min(end, piece.offset + piece.length) - piece.offset), from - offset);
    }
    while (this.pieces.length && this.pieces[0]!.offset + this.pieces[0]!.length <= end) {
      const { buffer } = this.pieces.shift()!;
      if (buffer) this.spare.push(buffer);
    }
    this.fetchAhead();
    return target;
  }

  /** Whether the announced pieces at the front cover these bytes without a gap. */
  private announced(offset: number, length: number): boolean {
    let at = offset;
    for (const piece of this.pieces) {
      if (piece.offset > at) return false;
      at = piece.offset + piece.length;
      if (at >= offset + length) return true;
    }
    return false;
  }

  private fetchAhead(): void {
    for (const piece of this.pieces.slice(0, PIECES_AHEAD)) {
      if (piece.data || this.closed) continue;
      // Awaited when read; a piece never read (the command failed first) must not crash the process.
      this.fetchPiece(piece).catch(() => {});
    }
  }

  private fetchPiece(piece: Piece): Promise<Uint8Array> {
    piece.buffer = this.spare.pop() ?? new Uint8Array(PIECE_BYTES);
    piece.data = this.fetch(piece.offset, piece.length, piece.buffer.subarray(0, piece.length));
    return piece.data;
  }

  /** One ranged GET into `target`; a body cut off mid-way is asked for again. */
  private async fetch(offset: number, length: number, target: Uint8Array): Promise<Uint8Array> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.get(offset, length, target);
      } catch (error) {
        const mapped = asS3Error(this.name, error);
        if (attempt >= BODY_ATTEMPTS || statusOf(error) !== undefined || mapped.code !== 'REMOTE' || !(error as { bodyCutOff?: boolean }).bodyCutOff) throw mapped;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  private async get(offset: number, length: number, target: Uint8Array): Promise<Uint8Array> {
    const range = `bytes=${offset}-${offset + length - 1}`;
    let response;
    try {
      response = await s3Client().send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.location.key, Range: range, IfMatch: this.etag }));
    } catch (error) {
      if (statusOf(error) === 412) throw this.changed();
      throw error;
    }
    s3Fetched.requests++;
    let done = 0;
    try {
      for await (const piece of response.Body as AsyncIterable<Uint8Array>) {
        if (done + piece.length > length) throw new MithrilError(this.name, `the service sent more than the ${length} bytes asked for at offset ${offset}`, 'REMOTE');
        target.set(piece, done);
        done += piece.length;
        s3Fetched.bytes += piece.length;
      }
    } catch (error) {
      if (error instanceof MithrilError) throw error;
      throw Object.assign(error as Error, { bodyCutOff: true });
    }
    if (done !== length) throw new MithrilError(this.name, `unexpected end of object (wanted ${length} bytes at offset ${offset}, got ${done})`, 'TRUNCATED');
    return target;
  }

  private changed(): MithrilError {
    return new MithrilError(this.name, 'changed while being read; nothing was written', 'CHANGED');
  }

  async checkUnchanged(): Promise<void> {
    try {
      const head = await s3Client().send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.location.key }));
      if (head.ETag !== this.etag || head.ContentLength !== this.size) throw this.changed();
    } catch (error) {
      throw statusOf(error) === 404 ? this.changed() : asS3Error(this.name, error);
    }
  }

  close(): void {
    this.closed = true;
    this.pieces = [];
    this.spare = [];
  }
}
