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

/** The first 1000 parts hold this much each, the next 1000 twice as much, and so on: 10,000 parts (the service's limit) reach far past any checkpoint. */
const FIRST_PART_BYTES = 8 << 20;
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
  private part: Uint8Array = new Uint8Array(FIRST_PART_BYTES);
  private filled = 0;
  private uploadId: string | undefined;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  private constructor(
    private readonly location: S3Location,
    private readonly force: boolean,
  ) {}

  get name(): string {
    return this.location.url;
  }

  static async open(url: string, force: boolean): Promise<S3Output> {
    const location = parseS3Url(url);
    if (location.key.endsWith('/')) throw new MithrilError(url, 'is a folder (a key ending in /), not an object', 'IS_DIRECTORY');
    const output = new S3Output(location, force);
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
      const created = await this.request(() => s3Client().send(new CreateMultipartUploadCommand({ Bucket: this.location.bucket, Key: this.location.key })));
      this.uploadId = created.UploadId;
      pending.add(this);
    }
    const PartNumber = this.parts.length + 1;
    const Body = this.part.subarray(0, this.filled);
    this.parts.push({ PartNumber });
    this.part = new Uint8Array(FIRST_PART_BYTES << Math.floor(this.parts.length / 1000));
    this.filled = 0;
    const upload = this.request(() => s3Client().send(new UploadPartCommand({ Bucket: this.location.bucket, Key: this.location.key, UploadId: this.uploadId, PartNumber, Body })))
      .then((done) => void (this.parts[PartNumber - 1]!.ETag = done.ETag))
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
    const uploadId = this.uploadId;
    this.uploadId = undefined;
    pending.delete(this);
    if (uploadId === undefined) return;
    await Promise.allSettled(this.inFlight);
    try {
      await s3Client().send(new AbortMultipartUploadCommand({ Bucket: this.location.bucket, Key: this.location.key, UploadId: uploadId }));
    } catch {
      // Unreachable service, or one without AbortMultipartUpload: its lifecycle rules must clean up (see README).
    }
  }
}
