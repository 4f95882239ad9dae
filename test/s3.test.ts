import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { assertOneLine, CLI, fixture, readFixture, safetensors, tempDir } from './helpers.js';
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
/** Runs the CLI without blocking this process (which may be serving a proxy). */
async function mithril(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const stats = join(work, `fetched-${++runs}.json`);
  const cli = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, ...s3env(), MITHRIL_DEBUG_S3_BYTES: stats, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  cli.stdout.on('data', (text: Buffer) => (stdout += text.toString()));
  cli.stderr.on('data', (text: Buffer) => (stderr += text.toString()));
  const code = await new Promise<number | null>((resolve) => cli.once('close', resolve));
  const fetched = existsSync(stats) ? (JSON.parse(readFileSync(stats, 'utf8')) as Run['fetched']) : { bytes: 0, requests: 0 };
  return { code, stderr, stdout, fetched };
}

function assertOk(run: Run): void {
  assert.equal(run.code, 0, run.stderr);
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
  const mine = (id: string): boolean => existsSync(join(uploads, id, 'key')) && readFileSync(join(uploads, id, 'key'), 'utf8') === keyOf(s3url);
  return existsSync(uploads) && readdirSync(uploads).some((id) => mine(id) && existsSync(join(uploads, id, '1.md5')));
}

/** Starts compressing `input` into `s3url` and calls `interrupt` once the first part is stored; resolves with the command's outcome. */
async function interruptedUpload(input: string, s3url: string, interrupt: (cli: ChildProcess) => Promise<void>): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const cli = spawn(process.execPath, [CLI, 'compress', '-q', '-T', '1', input, '-o', s3url], { cwd: work, env: { ...process.env, ...s3env() }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  cli.stderr!.on('data', (text: Buffer) => (stderr += text.toString()));
  const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => cli.once('exit', (code, signal) => resolve({ code, signal })));
  let finished = false;
  void done.then(() => (finished = true));
  try {
    while (!finished && !(await partStored(s3url))) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(!finished, `the upload finished before it could be interrupted: ${stderr}`);
    await interrupt(cli);
    return { ...(await done), stderr };
  } finally {
    // A failed check must not leave the upload running on (to write its object after the cleanup).
    if (!finished) cli.kill('SIGKILL');
  }
}

/** An S3 error answer: status and code, as a service sends them. */
type Fault = { status: number; code: string } | undefined;

/**
 * A proxy in front of the test server that answers some requests itself with an error, as a flaky
 * service (5xx) or a stricter one (conditional writes) would; `faults` counts those answers.
 */
async function faultyProxy(target: string, fault: (req: IncomingMessage) => Fault): Promise<{ endpoint: string; faults: () => number; close: () => Promise<void> }> {
  let faults = 0;
  const proxy = createServer((req, res) => {
    const answer = fault(req);
    if (answer) {
      faults++;
      req.resume();
      req.on('end', () => res.writeHead(answer.status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${answer.code}</Code><Message>injected by the test</Message></Error>`));
      return;
    }
    const { hostname, port: targetPort } = new URL(target);
    const forward = request({ hostname, port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answered) => {
      res.writeHead(answered.statusCode!, answered.headers);
      answered.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    faults: () => faults,
    close: () => new Promise((resolve) => proxy.close(() => resolve())),
  };
}

/** Runs `use` with the CLI pointed at a faulty proxy in front of the test server. */
async function throughProxy(fault: (req: IncomingMessage) => Fault, use: (env: NodeJS.ProcessEnv) => Promise<void>): Promise<number> {
  const proxy = await faultyProxy(endpoint, fault);
  try {
    await use({ AWS_ENDPOINT_URL: proxy.endpoint });
    return proxy.faults();
  } finally {
    await proxy.close();
  }
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

  it('compresses a local file into a bucket and restores it from there, bit-exact', async () => {
    const target = url('cnn.safetensors.mth');
    assertOk(await mithril(['compress', '-q', fixture('cnn_epoch6.bf16.safetensors'), '-o', target]));
    // No -o: restored into the current folder under the key's name, without .mth.
    assertOk(await mithril(['decompress', '-q', target]));
    sameFile(join(work, 'cnn.safetensors'), fixture('cnn_epoch6.bf16.safetensors'));
    const verified = await mithril(['verify', target]);
    assertOk(verified);
    assert.match(verified.stdout, /: ok \(625022 bytes/);
  });

  it('compresses an object into another object (torch.save .pt), and --endpoint stands for AWS_ENDPOINT_URL', async () => {
    const original = url('train/cnn_train_epoch6.pt');
    await put(original, readFixture('cnn_train_epoch6.pt'));
    assertOk(await mithril(['compress', '-q', original, '-o', url('train/cnn_train_epoch6.pt.mth')]));
    const restored = join(work, 'restored.pt');
    assertOk(await mithril(['decompress', '-q', '--endpoint', endpoint, url('train/cnn_train_epoch6.pt.mth'), '-o', restored], { AWS_ENDPOINT_URL: undefined }));
    sameFile(restored, fixture('cnn_train_epoch6.pt'));
  });

  it('streams a 65 MiB checkpoint up and down; info and extract fetch only the index and the chunks they need', async () => {
    const local = join(work, 'big.safetensors.mth');
    assertOk(await mithril(['compress', '-q', big, '-o', bigUrl]));
    assertOk(await mithril(['compress', '-q', big, '-o', local]));
    const size = readFileSync(local).length;

    const info = await mithril(['info', bigUrl]);
    assertOk(info);
    const { index } = await readIndex(local);
    console.log(`info: fetched ${info.fetched.bytes} bytes in ${info.fetched.requests} GETs of a ${size}-byte object`);
    assert.ok(info.fetched.bytes < size / 100, `info fetched ${info.fetched.bytes} of ${size} bytes`);
    assert.equal(info.fetched.requests, 2, 'one GET for the header, one for the footer with the index');

    const tensor = index.segments.filter((s) => s.kind === 'tensor' && s.name.startsWith('copy77.')).sort((a, b) => b.length - a.length)[0]!;
    const name = tensor.kind === 'tensor' ? tensor.name : '';
    const chunks = index.chunks.filter((c) => c.rawOffset + c.rawLength > tensor.offset && c.rawOffset < tensor.offset + tensor.length);
    const chunkBytes = chunks.reduce((sum, c) => sum + c.streams.reduce((s, stream) => s + stream.codedLength, 0), 0);
    const extracted = await mithril(['extract', bigUrl, name, '-o', join(work, 'tensor.raw')]);
    assertOk(extracted);
    console.log(`extract ${name}: fetched ${extracted.fetched.bytes} bytes; index ${info.fetched.bytes} + its chunks ${chunkBytes}`);
    assert.ok(extracted.fetched.bytes <= info.fetched.bytes + chunkBytes + 64 * 1024, `extract fetched ${extracted.fetched.bytes}`);
    assert.deepEqual(readFileSync(join(work, 'tensor.raw')), readFileSync(big).subarray(tensor.offset, tensor.offset + tensor.length));

    const restored = join(work, 'big.restored');
    const down = await mithril(['decompress', '-q', bigUrl, '-o', restored]);
    assertOk(down);
    sameFile(restored, big);
    // Each byte once, give or take the header and the 64 KiB read from the end with the index.
    assert.ok(down.fetched.bytes <= size + 64 * 1024, `decompress fetched ${down.fetched.bytes} of ${size} bytes`);
  });

  it('codes against bases in the bucket (an original, then its .mth), fetching only what it needs', async () => {
    const base = url('epoch5.safetensors');
    await put(base, readFixture('cnn_epoch5.bf16.safetensors'));
    assertOk(await mithril(['compress', '-q', base, '-o', url('epoch5.safetensors.mth')]));
    const delta = url('epoch6.delta.mth');
    assertOk(await mithril(['compress', '-q', '--base', base, fixture('cnn_epoch6.bf16.safetensors'), '-o', delta]));
    const restored = join(work, 'epoch6.from-delta');
    assertOk(await mithril(['decompress', '-q', '--base', url('epoch5.safetensors.mth'), delta, '-o', restored]));
    sameFile(restored, fixture('cnn_epoch6.bf16.safetensors'));
    assertOneLine(await mithril(['decompress', '-q', delta, '-o', join(work, 'no-base')]), delta, /base/);
  });

  it('-o s3://bucket/prefix/ writes inside the prefix, for several inputs', async () => {
    const inputs = [fixture('ft_step10_layer0.bf16.safetensors'), fixture('ft_step20_layer0.bf16.safetensors')];
    assertOk(await mithril(['compress', '-q', ...inputs, '-o', url('many/')]));
    for (const name of ['ft_step10_layer0.bf16.safetensors', 'ft_step20_layer0.bf16.safetensors']) assert.equal(await exists(url(`many/${name}.mth`)), true);
    assertOk(await mithril(['decompress', '-q', url('many/ft_step20_layer0.bf16.safetensors.mth'), '-o', `${work}/`]));
    sameFile(join(work, 'ft_step20_layer0.bf16.safetensors'), fixture('ft_step20_layer0.bf16.safetensors'));
  });

  it('never replaces an existing object without -f', async () => {
    const target = url('exists.mth');
    assertOk(await mithril(['compress', '-q', fixture('ft_step10_layer0.bf16.safetensors'), '-o', target]));
    assertOneLine(await mithril(['compress', '-q', fixture('ft_step20_layer0.bf16.safetensors'), '-o', target]), target, /already exists \(use -f to overwrite\)/);
    assertOk(await mithril(['compress', '-q', '-f', fixture('ft_step20_layer0.bf16.safetensors'), '-o', target]));
    assertOk(await mithril(['decompress', '-q', target, '-o', join(work, 'step20')]));
    sameFile(join(work, 'step20'), fixture('ft_step20_layer0.bf16.safetensors'));
  });

  it('a missing key, a missing bucket, refused credentials: one line each', async () => {
    assertOneLine(await mithril(['info', url('missing.mth')]), url('missing.mth'), /no such object/);
    const nowhere = `s3://mithril-no-such-bucket-${process.pid}/k.mth`;
    assertOneLine(await mithril(['info', nowhere]), nowhere, /no such bucket/);
    assertOneLine(await mithril(['compress', '-q', fixture('ft_step10_layer0.bf16.safetensors'), '-o', nowhere]), nowhere, /no such bucket/);
    // s3rver checks the access key id but not SigV4 signatures, so a wrong secret alone would pass there.
    assertOneLine(await mithril(['info', url('cnn.safetensors.mth')], { AWS_ACCESS_KEY_ID: 'NOT-A-KEY' }), url('cnn.safetensors.mth'), /access denied/);
  });

  it('transient 5xx answers are retried; a lasting one is one line naming the URL', async (t) => {
    if (EXTERNAL) return t.skip('the faulty proxy speaks plain HTTP to the loopback server only');
    let requests = 0;
    // Every third request fails, never twice in a row: each succeeds on a retry.
    const flaky = (): Fault => (++requests % 3 === 0 ? { status: 503, code: 'SlowDown' } : undefined);
    const target = url('flaky.mth');
    const injected = await throughProxy(flaky, async (env) => {
      assertOk(await mithril(['compress', '-q', big, '-o', target], env));
      assertOk(await mithril(['decompress', '-q', target, '-o', join(work, 'flaky.out')], env));
    });
    assert.ok(injected >= 3, `only ${injected} faults injected`);
    sameFile(join(work, 'flaky.out'), big);
    await throughProxy(() => ({ status: 500, code: 'InternalError' }), async (env) => {
      assertOneLine(await mithril(['info', target], env), target, /answered HTTP 500/);
    });
  });

  it('a service with conditional writes refuses a key made meanwhile; one without them (501) is written after a last check', async (t) => {
    if (EXTERNAL) return t.skip('the faulty proxy speaks plain HTTP to the loopback server only');
    // s3rver ignores If-None-Match: the proxy answers as a service that has it would when another writer got there first.
    const racing = (req: IncomingMessage): Fault => (req.headers['if-none-match'] === '*' ? { status: 412, code: 'PreconditionFailed' } : undefined);
    for (const [name, input] of [['raced-put.mth', fixture('ft_step10_layer0.bf16.safetensors')], ['raced-multipart.mth', big]] as const) {
      await throughProxy(racing, async (env) => assertOneLine(await mithril(['compress', '-q', input, '-o', url(name)], env), url(name), /already exists/));
      assert.equal(await exists(url(name)), false);
    }
    const lacking = (req: IncomingMessage): Fault => (req.headers['if-none-match'] === '*' ? { status: 501, code: 'NotImplemented' } : undefined);
    const injected = await throughProxy(lacking, async (env) => assertOk(await mithril(['compress', '-q', fixture('ft_step10_layer0.bf16.safetensors'), '-o', url('no-conditional.mth')], env)));
    assert.equal(injected, 1);
    assert.equal(await exists(url('no-conditional.mth')), true);
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
