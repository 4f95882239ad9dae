import { MithrilError } from '../errors.js';

/** Object storage addresses: `s3://bucket/key`, read and written through any S3-compatible service. */
export const S3_PREFIX = 's3://';

export const isS3Url = (path: string): boolean => path.startsWith(S3_PREFIX);

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
  /** As given, for messages. */
  readonly url: string;
}

/** Splits `s3://bucket/key`; an object needs both a bucket and a key. */
export function parseS3Url(url: string): S3Location {
  const rest = url.slice(S3_PREFIX.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const key = slash < 0 ? '' : rest.slice(slash + 1);
  if (bucket === '' || key === '') throw new MithrilError(url, 'expected s3://bucket/key', 'USAGE');
  return { bucket, key, url };
}

/** The last part of the key, as a local file name. */
export const s3BaseName = (url: string): string => url.slice(url.lastIndexOf('/') + 1);
