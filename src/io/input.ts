import { closeSync, createReadStream, fstatSync, openSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { MithrilError } from '../errors.js';
import { isS3Url } from './s3-url.js';
import { FileSource, type ByteSource } from './source.js';
import { writeAll } from './sink.js';

/** The name standard input goes by, in messages and on the command line. */
export const STDIN = '-';

/**
 * Opens an input for random access: a regular file as it is, an `s3://` object with ranged
 * requests; standard input (`-`) or any other
 * special file (a pipe, `<(…)`, a device) is first copied to a temporary file, since checkpoints
 * and containers both keep their directory at the end.
 */
export async function openInput(path: string): Promise<ByteSource> {
  // The SDK is loaded only when an object is named.
  if (isS3Url(path)) return (await import('./s3-source.js')).S3Source.open(path);
  const name = path === STDIN ? 'stdin' : path;
  const fd = path === STDIN ? 0 : openSync(path, 'r');
  const stat = fstatSync(fd);
  if (stat.isFile() || stat.isDirectory()) return new FileSource(name, fd);
  return spool(name, path === STDIN ? process.stdin : createReadStream('', { fd }));
}

/** Copies a stream into a temporary file in TMPDIR that is unlinked at once, so no exit path can leave it behind. */
async function spool(name: string, stream: Readable): Promise<FileSource> {
  const path = join(tmpdir(), `mithril-spool-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const fd = openSync(path, 'wx+', 0o600);
  unlinkSync(path);
  try {
    for await (const piece of stream) writeAll(fd, piece as Buffer);
  } catch (error) {
    stream.destroy();
    closeSync(fd);
    const code = (error as NodeJS.ErrnoException).code;
    throw code === 'ENOSPC' || code === 'EDQUOT' ? new MithrilError(name, `no space left in ${tmpdir()} to hold the input (set TMPDIR)`, 'NO_SPACE') : error;
  }
  return new FileSource(name, fd);
}
