/**
 * What the process keeps of its object storage use, readable without loading the AWS SDK (which
 * costs a local command a quarter of a second): the uploads to abort if it is interrupted, and
 * the bytes it fetched.
 */

let connected = false;

/**
 * Whether this process has talked to object storage: then a SIGPIPE is a connection the service
 * closed (the request is retried), not a signal to end on, and is ignored as Node ignores it.
 */
export const s3Connected = (): boolean => connected;

export function markS3Connected(): void {
  connected = true;
}

/** Bytes fetched from object storage by this process, and in how many GET requests (for tests and benchmarks). */
export const s3Fetched = { bytes: 0, requests: 0 };

/** Multipart uploads begun and neither completed nor aborted. */
export const pendingUploads = new Set<{ abort(): Promise<void> }>();

/** Aborts the uploads still open (on a signal); each ignores its own failure, as the process is ending. */
export async function abortPendingUploads(): Promise<void> {
  await Promise.all([...pendingUploads].map((upload) => upload.abort()));
}
