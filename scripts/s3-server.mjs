/**
 * A loopback S3-protocol server for the s3 tests and `npm run bench -- --s3`: s3rver (a dev
 * dependency), in a process of its own so that a test can kill it mid-upload.
 * Usage: node scripts/s3-server.mjs DATA_DIR BUCKET [PORT]; prints {"port": N} once listening on
 * 127.0.0.1, and serves until killed.
 */
import S3rver from 's3rver';

const [directory, bucket, port] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: Number(port ?? 0), directory, silent: true, configureBuckets: [{ name: bucket }] });
const address = await server.run();
console.log(JSON.stringify({ port: address.port }));
