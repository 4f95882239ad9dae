import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { asS3Error, s3Client, statusOf } from '../io/s3.js';
import { parseS3Url, S3_PREFIX } from '../io/s3-url.js';
import { processRuns } from '../io/temporaries.js';
import type { StoreBackend } from './backend.js';

/** How long a writer's lock holds without being renewed: a writer that died frees the store after this. */
const LEASE_MS = 60_000;

interface LockRecord {
  owner: string;
  host: string;
  pid: number;
  expires: number;
}

/**
 * A store under a prefix of a bucket: one object per file, small ones written whole by PUT
 * (exclusively with If-None-Match where the service supports it), a copy made by the service, and
 * a lock object leased for a minute at a time and renewed while its writer runs.
 */
export class S3Backend implements StoreBackend {
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(readonly root: string) {
    const { bucket, key } = parseS3Url(root.endsWith('/') ? root : `${root}/`);
    this.bucket = bucket;
    this.prefix = key;
  }

  path(name: string): string {
    return `${S3_PREFIX}${this.bucket}/${this.prefix}${name}`;
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  private async send<T>(name: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw asS3Error(this.path(name), error);
    }
  }

  async state(): Promise<'missing' | 'empty' | 'used'> {
    const listed = await this.send('', () => s3Client().send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 })));
    return listed.KeyCount ? 'used' : 'missing'; // a prefix has no existence of its own
  }

  async prepare(): Promise<void> {}

  async read(name: string): Promise<string | undefined> {
    try {
      const got = await s3Client().send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
      return await got.Body!.transformToString('utf8');
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw asS3Error(this.path(name), error);
    }
  }

  async write(name: string, text: string, exclusive: boolean): Promise<boolean> {
    const put = (IfNoneMatch?: string) => s3Client().send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(name), Body: text, ContentType: 'application/json', IfNoneMatch }));
    if (!exclusive) {
      await this.send(name, () => put());
      return true;
    }
    // Asked first as well: a service that ignores If-None-Match (s3rver) narrows the race to this window.
    if (await this.exists(name)) return false;
    try {
      await put('*');
      return true;
    } catch (error) {
      if (statusOf(error) === 412) return false;
      if (statusOf(error) !== 501) throw asS3Error(this.path(name), error);
      await this.send(name, () => put());
      return true;
    }
  }

  private async exists(name: string): Promise<boolean> {
    try {
      await s3Client().send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw asS3Error(this.path(name), error);
    }
  }

  async list(folder: string): Promise<string[]> {
    const names: string[] = [];
    const Prefix = this.key(`${folder}/`);
    let ContinuationToken: string | undefined;
    do {
      const page = await this.send(folder, () => s3Client().send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken })));
      for (const object of page.Contents ?? []) if (object.Key && !object.Key.slice(Prefix.length).includes('/')) names.push(object.Key.slice(Prefix.length));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return names;
  }

  async remove(name: string): Promise<void> {
    await this.send(name, () => s3Client().send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(name) })));
  }

  async link(from: string, to: string): Promise<void> {
    await this.send(to, () => s3Client().send(new CopyObjectCommand({ Bucket: this.bucket, Key: this.key(to), CopySource: `${this.bucket}/${this.key(from).split('/').map(encodeURIComponent).join('/')}` })));
  }

  scratch(name: string): string {
    return join(tmpdir(), name);
  }

  async lock<T>(work: () => Promise<T>): Promise<T> {
    const mine: LockRecord = { owner: `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`, host: hostname(), pid: process.pid, expires: 0 };
    const text = () => JSON.stringify({ ...mine, expires: Date.now() + LEASE_MS });
    for (;;) {
      if (await this.write('lock', text(), true)) {
        // Read back after a moment: of two writers that both saw no lock (a service without conditional writes), the later PUT wins.
        await new Promise((resolve) => setTimeout(resolve, 100));
        if ((await this.holder())?.owner === mine.owner) break;
      } else {
        const holder = await this.holder();
        if (holder && stale(holder)) await this.remove('lock');
        else await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    const renew = setInterval(() => void this.write('lock', text(), false).catch(() => undefined), LEASE_MS / 3);
    try {
      return await work();
    } finally {
      clearInterval(renew);
      if ((await this.holder())?.owner === mine.owner) await this.remove('lock');
    }
  }

  private async holder(): Promise<LockRecord | undefined> {
    const text = await this.read('lock');
    try {
      return text === undefined ? undefined : (JSON.parse(text) as LockRecord);
    } catch {
      return { owner: '', host: '', pid: 0, expires: 0 }; // damaged: stale
    }
  }
}

/** A lock whose lease ran out, or whose holder on this machine is no longer running. */
function stale(lock: LockRecord): boolean {
  if (Date.now() > lock.expires) return true;
  return lock.host === hostname() && !processRuns(lock.pid);
}
