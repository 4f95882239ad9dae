import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { MithrilError } from '../errors.js';
import { markS3Connected } from './s3-process.js';
import type { S3Location } from './s3-url.js';

/** Tries per request, the first included: transient failures (5xx, resets, timeouts) are retried with the SDK's backoff. */
const MAX_ATTEMPTS = 5;
let endpointOption: string | undefined;
let client: S3Client | undefined;

/** The `--endpoint` given on the command line, which wins over AWS_ENDPOINT_URL(_S3). */
export function setS3Endpoint(endpoint: string | undefined): void {
  if (endpoint === endpointOption) return;
  endpointOption = endpoint;
  client = undefined;
}

const customEndpoint = (): string | undefined => endpointOption || process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;

/**
 * The one client of the process: credentials, region and endpoint come from the SDK's standard
 * chain (environment, ~/.aws files, instance roles); a custom endpoint (MinIO, R2, a test server)
 * is addressed path-style, since such services rarely have a DNS name per bucket.
 */
export function s3Client(): S3Client {
  // The pinned SDK runs on Node 20; its multi-line notice about later versions would break our one-line output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  markS3Connected();
  client ??= new S3Client({
    ...(endpointOption !== undefined ? { endpoint: endpointOption } : {}),
    forcePathStyle: customEndpoint() !== undefined,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  });
  return client;
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError', 'RequestTimeout']);

/** The HTTP status of a failed request, if the service answered at all. */
export const statusOf = (error: unknown): number | undefined => (error as SdkError | null)?.$metadata?.httpStatusCode;

/**
 * One line for a failed request on `url`: a missing bucket or key, refused credentials and an
 * unreachable service each say so; anything else names the service's error.
 */
export function asS3Error(url: string, error: unknown): MithrilError {
  if (error instanceof MithrilError) return error;
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? e.code ?? 'Error';
  const status = statusOf(error);
  if (name === 'NoSuchBucket') return new MithrilError(url, 'no such bucket', 'NOT_FOUND');
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new MithrilError(url, 'no such object', 'NOT_FOUND');
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden'].includes(name) || status === 403) {
    const why = ['Unknown', 'Forbidden', 'Error'].includes(name) ? '' : ` (${name})`;
    return new MithrilError(url, `access denied${why}: check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and the bucket's permissions`, 'PERMISSION');
  }
  if (name === 'CredentialsProviderError') return new MithrilError(url, 'no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE', 'PERMISSION');
  if (/region is missing/i.test(e.message ?? '')) return new MithrilError(url, 'no region set: set AWS_REGION', 'USAGE');
  const where = customEndpoint() ?? 'the storage service';
  if (NETWORK_CODES.has(name) || NETWORK_CODES.has(e.code ?? '')) {
    return new MithrilError(url, `cannot reach ${where} (${e.code ?? name}), gave up after retrying`, 'REMOTE');
  }
  // An answer without a body (to a HEAD) leaves the SDK only the status to go by.
  if (name === 'Unknown' || name === 'UnknownError') return new MithrilError(url, `${where} answered HTTP ${status ?? '(no status)'}`, 'REMOTE');
  const said = (e.message ?? '').replace(/\s+/g, ' ').trim();
  return new MithrilError(url, `${where} answered ${name}${status ? ` (HTTP ${status})` : ''}${said && said !== name ? `: ${said}` : ''}`, 'REMOTE');
}

/** A 404 on a HEAD says nothing about which is missing: asks the bucket, so that the message can name it. */
export async function notFound(location: S3Location): Promise<MithrilError> {
  try {
    await s3Client().send(new HeadBucketCommand({ Bucket: location.bucket }));
  } catch (error) {
    if (statusOf(error) === 404) return new MithrilError(location.url, 'no such bucket', 'NOT_FOUND');
    return asS3Error(location.url, error);
  }
  return new MithrilError(location.url, 'no such object', 'NOT_FOUND');
}
