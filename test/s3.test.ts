import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { readIndex } from '../src/index.js';
import { CLI, fixture, readFixture, safetensors, tempDir } from './helpers.js';
import { LocalS3 } from './s3-server.js';

/**
 * s3:// paths end to end, through the CLI, against a real S3-protocol server: s3rver on loopback,
 * started and stopped here, or the service MITHRIL_TEST_S3_ENDPOINT names (with
 * MITHRIL_TEST_S3_BUCKET and the usual AWS credentials), so that the same suite can be pointed at
 * a real one.
 */
const EXTERNAL = process.env.MITHRIL_TEST_S3_ENDPOINT;
const work = tempDir();
const data = join(work, 's3rver');
const bucket = EXTERNAL ? process.env.MITHRIL_TEST_S3_BUCKET ?? assert.fail('set MITHRIL_TEST_S3_BUCKET with MITHRIL_TEST_S3_ENDPOINT') : 'mithril-test';
// Keys of this run, under a prefix of their own (an external bucket may hold other things).
const prefix = `mithril-test-${process.pid}-${Date.now().toString(36)}/`;
const url = (key: string): string => `s3://${bucket}/${prefix}${key}`;

let server: LocalS3 | undefined;
let endpoint = EXTERNAL ?? '';
let port = 0;

/** Starts s3rver, on the port it had before if it ran already (its objects are kept in `data`). */
async function startServer(): Promise<void> {
  server = await LocalS3.start(data, bucket, port);
  ({ port, endpoint } = server);
}

async function killServer(): Promise<void> {
  await server!.kill();
  server = undefined;
}

const s3env = (): NodeJS.ProcessEnv => (EXTERNAL ? { AWS_ENDPOINT_URL: endpoint } : { AWS_ENDPOINT_URL: endpoint, ...LocalS3.env });

let client: S3Client | undefined;
const s3 = (): S3Client => (client ??= new S3Client({ endpoint, forcePathStyle: true, region: s3env().AWS_REGION ?? process.env.AWS_REGION, credentials: EXTERNAL ? undefined : { accessKeyId: LocalS3.env.AWS_ACCESS_KEY_ID, secretAccessKey: LocalS3.env.AWS_SECRET_ACCESS_KEY } }));

const keyOf = (s3url: string): string => s3url.slice(`s3://${bucket}/`.length);

async function exists(s3url: string): Promise<boolean> {
  try {
    await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(s3url) }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

const put = (s3url: string, body: Uint8Array) => s3().send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(s3url), Body: body }));

interface Run {
  code: number | null;
  stderr: string;
  stdout: string;
  /** Bytes and GET requests the command fetched from object storage. */
  fetched: { bytes: number; requests: number };
}

let runs = 0;
function mithril(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const stats = join(work, `fetched-${++runs}.json`);
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, ...s3env(), MITHRIL_DEBUG_S3_BYTES: stats, ...env } });
  const fetched = existsSync(stats) ? (JSON.parse(readFileSync(stats, 'utf8')) as Run['fetched']) : { bytes: 0, requests: 0 };
  return { code: run.status, stderr: run.stderr.toString(), stdout: run.stdout.toString(), fetched };
}

function assertOk(run: Run): void {
  assert.equal(run.code, 0, run.stderr);
}

/** A user error: one line on stderr naming `file`, exit status 1, no stack trace. */
function assertOneLine(run: Run, file: string, pattern: RegExp, code = 1): void {
  assert.equal(run.code, code, run.stderr);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.ok(lines[0]!.startsWith(`mithril: ${file}: `), run.stderr);
  assert.match(lines[0]!, pattern);
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const sameFile = (a: string, b: string): void => assert.equal(sha256(readFileSync(a)), sha256(readFileSync(b)));

/** A safetensors file of about `copies` x 610 KiB: the cnn fixture's tensors again and again, under new names. */
function bigCheckpoint(path: string, copies: number): void {
  const source = readFixture('cnn_epoch6.bf16.safetensors');
  const headerLength = Number(source.readBigUInt64LE(0));
  const header = JSON.parse(source.subarray(8, 8 + headerLength).toString()) as Record<string, { data_offsets: [number, number] }>;
  const tensors = source.subarray(8 + headerLength);
  const tiled: Record<string, unknown> = {};
  for (let i = 0; i < copies; i++) {
    for (const [name, info] of Object.entries(header)) {
      if (name !== '__metadata__') tiled[`copy${i}.${name}`] = { ...info, data_offsets: info.data_offsets.map((o) => o + i * tensors.length) };
    }
  }
  writeFileSync(path, safetensors(tiled, Buffer.concat(Array<Buffer>(copies).fill(tensors))));
}

/** Whether a multipart upload into `s3url` has stored a part: s3rver's folder, or the service's list. */
async function partStored(s3url: string): Promise<boolean> {
  if (EXTERNAL) {
    const listed = await s3().send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: keyOf(s3url) }));
    return (listed.Uploads ?? []).length > 0;
  }
  const uploads = join(data, bucket, '._S3rver_uploads');
  return existsSync(uploads) && readdirSync(uploads).some((id) => existsSync(join(uploads, id, '1.md5')));
}

/** Starts compressing `input` into `s3url` and calls `interrupt` once the first part is stored; resolves with the command's outcome. */
async function interruptedUpload(input: string, s3url: string, interrupt: (cli: ChildProcess) => Promise<void>): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const cli = spawn(process.execPath, [CLI, 'compress', '-q', '-T', '1', input, '-o', s3url], { cwd: work, env: { ...process.env, ...s3env() }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  cli.stderr!.on('data', (text: Buffer) => (stderr += text.toString()));
  const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => cli.once('exit', (code, signal) => resolve({ code, signal })));
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished && !(await partStored(s3url))) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(!finished, `the upload finished before it could be interrupted: ${stderr}`);
  await interrupt(cli);
  return { ...(await done), stderr };
}

describe('object storage (s3://)', { timeout: 300_000 }, () => {
  const big = join(work, 'big.safetensors');
  const bigUrl = url('big.safetensors.mth');

  before(async () => {
    if (!EXTERNAL) await startServer();
    bigCheckpoint(big, 110);
  });

  after(async () => {
    try {
      const listed = await s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      const Objects = (listed.Contents ?? []).map(({ Key }) => ({ Key }));
      if (EXTERNAL && Objects.length) await s3().send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects } }));
    } finally {
      client?.destroy();
      if (server) await killServer();
    }
  });

  it('compresses a local file into a bucket and restores it from there, bit-exact', () => {
    const target = url('cnn.safetensors.mth');
    assertOk(mithril(['compress', '-q', fixture('cnn_epoch6.bf16.safetensors'), '-o', target]));
    // No -o: restored into the current folder under the key's name, without .mth.
    assertOk(mithril(['decompress', '-q', target]));
    sameFile(join(work, 'cnn.safetensors'), fixture('cnn_epoch6.bf16.safetensors'));
    const verified = mithril(['verify', target]);
    assertOk(verified);
    assert.match(verified.stdout, /: ok \(625022 bytes/);
  });

  it('compresses an object into another object (torch.save .pt), and --endpoint stands for AWS_ENDPOINT_URL', async () => {
    const original = url('train/cnn_train_epoch6.pt');
    await put(original, readFixture('cnn_train_epoch6.pt'));
    assertOk(mithril(['compress', '-q', original, '-o', url('train/cnn_train_epoch6.pt.mth')]));
    const restored = join(work, 'restored.pt');
    assertOk(mithril(['decompress', '-q', '--endpoint', endpoint, url('train/cnn_train_epoch6.pt.mth'), '-o', restored], { AWS_ENDPOINT_URL: undefined }));
    sameFile(restored, fixture('cnn_train_epoch6.pt'));
  });

  it('streams a 65 MiB checkpoint up and down; info and extract fetch only the index and the chunks they need', async () => {
    const local = join(work, 'big.safetensors.mth');
    assertOk(mithril(['compress', '-q', big, '-o', bigUrl]));
    assertOk(mithril(['compress', '-q', big, '-o', local]));
    const size = readFileSync(local).length;

    const info = mithril(['info', bigUrl]);
    assertOk(info);
    const { index } = await readIndex(local);
    console.log(`info: fetched ${info.fetched.bytes} bytes in ${info.fetched.requests} GETs of a ${size}-byte object`);
    assert.ok(info.fetched.bytes < size / 100, `info fetched ${info.fetched.bytes} of ${size} bytes`);

    const tensor = index.segments.filter((s) => s.kind === 'tensor' && s.name.startsWith('copy77.')).sort((a, b) => b.length - a.length)[0]!;
    const name = tensor.kind === 'tensor' ? tensor.name : '';
    const chunks = index.chunks.filter((c) => c.rawOffset + c.rawLength > tensor.offset && c.rawOffset < tensor.offset + tensor.length);
    const chunkBytes = chunks.reduce((sum, c) => sum + c.streams.reduce((s, stream) => s + stream.codedLength, 0), 0);
    const extracted = mithril(['extract', bigUrl, name, '-o', join(work, 'tensor.raw')]);
    assertOk(extracted);
    console.log(`extract ${name}: fetched ${extracted.fetched.bytes} bytes; index ${info.fetched.bytes} + its chunks ${chunkBytes}`);
    assert.ok(extracted.fetched.bytes <= info.fetched.bytes + chunkBytes + 64 * 1024, `extract fetched ${extracted.fetched.bytes}`);
    assert.deepEqual(readFileSync(join(work, 'tensor.raw')), readFileSync(big).subarray(tensor.offset, tensor.offset + tensor.length));

    const restored = join(work, 'big.restored');
    const down = mithril(['decompress', '-q', bigUrl, '-o', restored]);
    assertOk(down);
    sameFile(restored, big);
    // Each byte once, give or take the header and footer read again with the index.
    assert.ok(down.fetched.bytes <= size + 64 * 1024, `decompress fetched ${down.fetched.bytes} of ${size} bytes`);
  });

  it('codes against bases in the bucket (an original, then its .mth), fetching only what it needs', async () => {
    const base = url('epoch5.safetensors');
    await put(base, readFixture('cnn_epoch5.bf16.safetensors'));
    assertOk(mithril(['compress', '-q', base, '-o', url('epoch5.safetensors.mth')]));
    const delta = url('epoch6.delta.mth');
    assertOk(mithril(['compress', '-q', '--base', base, fixture('cnn_epoch6.bf16.safetensors'), '-o', delta]));
    const restored = join(work, 'epoch6.from-delta');
    assertOk(mithril(['decompress', '-q', '--base', url('epoch5.safetensors.mth'), delta, '-o', restored]));
    sameFile(restored, fixture('cnn_epoch6.bf16.safetensors'));
    assertOneLine(mithril(['decompress', '-q', delta, '-o', join(work, 'no-base')]), delta, /base/);
  });

  it('never replaces an existing object without -f', () => {
    const target = url('exists.mth');
    assertOk(mithril(['compress', '-q', fixture('ft_step10_layer0.bf16.safetensors'), '-o', target]));
    assertOneLine(mithril(['compress', '-q', fixture('ft_step20_layer0.bf16.safetensors'), '-o', target]), target, /already exists \(use -f to overwrite\)/);
    assertOk(mithril(['compress', '-q', '-f', fixture('ft_step20_layer0.bf16.safetensors'), '-o', target]));
    assertOk(mithril(['decompress', '-q', target, '-o', join(work, 'step20')]));
    sameFile(join(work, 'step20'), fixture('ft_step20_layer0.bf16.safetensors'));
  });

  it('a missing key, a missing bucket, refused credentials: one line each', () => {
    assertOneLine(mithril(['info', url('missing.mth')]), url('missing.mth'), /no such object/);
    const nowhere = `s3://mithril-no-such-bucket-${process.pid}/k.mth`;
    assertOneLine(mithril(['info', nowhere]), nowhere, /no such bucket/);
    assertOneLine(mithril(['compress', '-q', fixture('ft_step10_layer0.bf16.safetensors'), '-o', nowhere]), nowhere, /no such bucket/);
    // s3rver checks the access key id but not SigV4 signatures, so a wrong secret alone would pass there.
    assertOneLine(mithril(['info', url('cnn.safetensors.mth')], { AWS_ACCESS_KEY_ID: 'NOT-A-KEY' }), url('cnn.safetensors.mth'), /access denied/);
  });

  it('interrupted by a signal mid-upload: no object appears', async () => {
    const target = url('signalled.mth');
    const outcome = await interruptedUpload(big, target, async (cli) => void cli.kill('SIGTERM'));
    assert.equal(outcome.code, 143, outcome.stderr);
    assert.equal(await exists(target), false);
    // s3rver has no ListMultipartUploads; a real service must show the upload aborted.
    if (EXTERNAL) assert.equal(await partStored(target), false);
  });

  it('the server killed mid-upload: one line naming the URL, exit 1, and no object once it is back', async (t) => {
    if (EXTERNAL) return t.skip('an external service cannot be killed from here');
    const target = url('killed.mth');
    const outcome = await interruptedUpload(big, target, killServer);
    assert.equal(outcome.code, 1, outcome.stderr);
    const lines = outcome.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, outcome.stderr);
    assert.match(lines[0]!, new RegExp(`^mithril: ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot reach http://127\\.0\\.0\\.1:${port}`));
    await startServer();
    assert.equal(await exists(target), false);
  });
});
