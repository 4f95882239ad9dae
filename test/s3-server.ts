/**
 * A loopback S3-protocol server for test/s3.test.ts: s3rver, in a process of its own so that the
 * test can kill it mid-upload. Usage: node s3-server.js DATA_DIR BUCKET [PORT]; prints
 * {"port": N} once listening, and serves until killed.
 */
import { createRequire } from 'node:module';

interface S3rverServer {
  run(): Promise<{ port: number }>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;

const [directory, bucket, port] = process.argv.slice(2);
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
const server = new S3rver({ address: '127.0.0.1', port: Number(port ?? 0), directory, silent: true, configureBuckets: [{ name: bucket }] });
const address = await server.run();
console.log(JSON.stringify({ port: address.port }));
