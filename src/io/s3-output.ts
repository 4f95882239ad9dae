import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { MithrilError } from '../errors.js';
import { asS3Error, notFound, s3Client, statusOf } from './s3.js';
import { pendingUploads as pending } from './s3-process.js';
import { parseS3Url, type S3Location } from './s3-url.js';
import type { ByteSink } from './sink.js';

/** The least a part may hold (the service's rule for all parts but the last). */
const MIN_PART_BYTES = 5 << 20;
/** An upload may have 10,000 parts: parts are sized for the expected size to take this many... */
const PLANNED_PARTS = 9000;
/** ...and past them double every this many, in case the output is larger than expected. */
const PARTS_PER_DOUBLING = 250;
/** Parts being uploaded at once: with the part being filled, the memory an upload holds. */
const PARTS_IN_FLIGHT = 4;

/**
 * An object written with a multipart upload, completed only once every byte is written, so that
 * no reader ever sees part of it; an object smaller than one part is one PUT. Without `force` an
 * existing key is refused at open and again at the end, by the service itself where it supports
 * conditional writes (If-None-Match).
 */
export class S3Output {
  readonly atomic = true;
  readonly sink: ByteSink = { write: (bytes) => this.write(bytes) };
  private readonly partBytes: number;
  private part: Uint8Array;
  /** Buffers of parts already sent, reused: fresh ones would pile up faster than they are collected. */
  private readonly spare: Uint8Array[] = [];
  private filled = 0;
  private uploadId: string | undefined;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private creating: Promise<{ UploadId?: string }> | undefined;

  private constructor(
    private readonly location: S3Location,
    private readonly force: boolean,
    expectedSize: number,
  ) {
    this.partBytes = Math.max(MIN_PART_BYTES, Math.ceil(expectedSize / PLANNED_PARTS));
    this.part = new Uint8Array(this.partBytes);
  }

  get name(): string {
    return this.location.url;
  }

  /** `expectedSize` sizes the parts (it need not be exact): memory is 5 parts of max(5 MiB, expectedSize / 9000). */
  static async open(url: string, force: boolean, expectedSize: number): Promise<S3Output> {
    const location = parseS3Url(url);
    if (location.key.endsWith('/')) throw new MithrilError(url, 'is a folder (a key ending in /), not an object', 'IS_DIRECTORY');
    const output = new S3Output(location, force, expectedSize);
    // Also the first sign of a missing bucket or refused credentials, before any work is done.
    if (!force && (await output.exists())) throw output.existsError();
    return output;
  }

  private async exists(): Promise<boolean> {
    try {
      await s3Client().send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.location.key }));
      return true;
    } catch (error) {
      if (statusOf(error) !== 404) throw asS3Error(this.name, error);
      const missing = await notFound(this.location);
      if (missing.problem === 'no such bucket') throw missing;
      return false;
    }
  }

  private existsError(): MithrilError {
    return new MithrilError(this.name, 'already exists (use -f to overwrite)', 'EXISTS');
  }

  private async write(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length; ) {
      if (this.failure) throw this.failure;
      const take = Math.min(bytes.length - done, this.part.length - this.filled);
      this.part.set(bytes.subarray(done, done + take), this.filled);
      this.filled += take;
      done += take;
      if (this.filled === this.part.length) await this.sendPart();
    }
  }

  /** Starts uploading the filled part, waiting first while too many are in flight. */
  private async sendPart(): Promise<void> {
    while (this.inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    if (this.uploadId === undefined) {
      // Known as pending before the service answers, so that a signal meanwhile still aborts it.
      pending.add(this);
      this.creating = this.request(() => s3Client().send(new CreateMultipartUploadCommand({ Bucket: this.location.bucket, Key: this.location.key })));
      this.uploadId = (await this.creating).UploadId;
      if (this.failure) throw this.failure;
    }
    const PartNumber = this.parts.length + 1;
    const Body = this.part.subarray(0, this.filled);
    this.parts.push({ PartNumber });
    const sent = this.part;
    const size = this.partBytes * 2 ** Math.max(0, Math.floor((this.parts.length - PLANNED_PARTS) / PARTS_PER_DOUBLING) + 1);
    this.part = this.spare.pop() ?? new Uint8Array(size);
    if (this.part.length !== size) this.part = new Uint8Array(size);
    this.filled = 0;
    const upload = this.request(() => s3Client().send(new UploadPartCommand({ Bucket: this.location.bucket, Key: this.location.key, UploadId: this.uploadId, PartNumber, Body })))
      .then((done) => {
        this.parts[PartNumber - 1]!.ETag = done.ETag;
        this.spare.push(sent);
      })
      .catch((error: unknown) => void (this.failure ??= error))
      .finally(() => this.inFlight.delete(upload));
    this.inFlight.add(upload);
  }

  private async request<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw asS3Error(this.name, error);
    }
  }

  async commit(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.uploadId === undefined) {
      const Body = this.part.subarray(0, this.filled);
      await this.conditional((IfNoneMatch) => s3Client().send(new PutObjectCommand({ Bucket: this.location.bucket, Key: this.location.key, Body, IfNoneMatch })));
      return;
    }
    if (this.filled > 0) await this.sendPart();
    while (this.inFlight.size) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const MultipartUpload = { Parts: this.parts };
    const { bucket: Bucket, key: Key } = this.location;
    await this.conditional((IfNoneMatch) => s3Client().send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: this.uploadId, MultipartUpload, IfNoneMatch })));
    pending.delete(this);
  }

  /**
   * Writes with If-None-Match: * unless forced, so the service refuses to replace an object made
   * meanwhile. A service that does not implement the header (501) is asked again without it,
   * after one more existence check: a narrower window, not none.
   */
  private async conditional(write: (ifNoneMatch: string | undefined) => Promise<unknown>): Promise<void> {
    try {
      await write(this.force ? undefined : '*');
    } catch (error) {
      if (statusOf(error) === 412) throw this.existsError();
      if (statusOf(error) !== 501 || this.force) throw asS3Error(this.name, error);
      if (await this.exists()) throw this.existsError();
      await this.request(() => write(undefined));
    }
  }

  /** Gives up: the multipart upload is aborted, so the service drops its parts; if that fails too, nothing was made visible anyway. */
  async abort(): Promise<void> {
    // A signal aborts while the command goes on until the exit: nothing may be written after.
    this.failure ??= new MithrilError(this.name, 'upload aborted', 'REMOTE');
    pending.delete(this);
    await this.creating?.catch(() => undefined);
    const uploadId = this.uploadId;
    this.uploadId = undefined;
    if (uploadId === undefined) return;
    await Promise.allSettled(this.inFlight);
    try {
      await s3Client().send(new AbortMultipartUploadCommand({ Bucket: this.location.bucket, Key: this.location.key, UploadId: uploadId }));
    } catch {
      // Unreachable service, or one without AbortMultipartUpload: its lifecycle rules must clean up (see README).
    }
  }
}
