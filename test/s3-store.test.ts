import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, fixture, safetensors, tempDir } from './helpers.js';
import { LocalS3 } from './s3-server.js';

/**
 * A store under an s3:// prefix, through the CLI, against s3rver on loopback (or the service
 * MITHRIL_TEST_S3_ENDPOINT names, with MITHRIL_TEST_S3_BUCKET and the usual AWS credentials).
 */
const EXTERNAL = process.env.MITHRIL_TEST_S3_ENDPOINT;
const work = tempDir();
const bucket = EXTERNAL ? process.env.MITHRIL_TEST_S3_BUCKET! : 'mithril-store-test';
const prefix = `s3://${bucket}/mithril-store-${process.pid}-${Date.now().toString(36)}`;
let server: LocalS3 | undefined;
let env: NodeJS.ProcessEnv = {};

before(async () => {
  if (!EXTERNAL) server = await LocalS3.start(join(work, 's3rver'), bucket);
  env = EXTERNAL ? { AWS_ENDPOINT_URL: EXTERNAL } : { AWS_ENDPOINT_URL: server!.endpoint, ...LocalS3.env };
});
after(async () => server?.kill());

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function mithril(args: string[], cwd = work): Promise<Run> & { kill: (signal: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env } });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr })));
  return Object.assign(done, { kill: (signal: NodeJS.Signals) => void child.kill(signal) });
}

const EPOCHS = [4, 5, 6].map((n) => `cnn_epoch${n}.bf16.safetensors`);

async function entries(store: string): Promise<{ name: string; bases: number[]; stored: number; members: { path: string; stored: number }[] }[]> {
  const run = await mithril(['store', 'ls', store, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.toString().trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

describe('store under an s3:// prefix', () => {
  it('adds files and folders, restores them bit-exactly, verifies, and removes an entry in the middle', async () => {
    const store = `${prefix}/run`;
    for (const name of EPOCHS) assert.equal((await mithril(['store', 'add', '-q', store, fixture(name)])).code, 0);
    for (const epoch of [5, 6]) {
      const folder = join(work, `checkpoint-${epoch}`);
      mkdirSync(folder, { recursive: true });
      copyFileSync(fixture(`cnn_epoch${epoch}.bf16.safetensors`), join(folder, 'model.safetensors'));
      writeFileSync(join(folder, 'config.json'), '{"channels": 64}\n');
      const add = await mithril(['store', 'add', '-q', store, folder]);
      assert.equal(add.code, 0, add.stderr);
    }
    const listed = await entries(store);
    assert.deepEqual(listed.map((e) => [e.name, e.bases]), [[EPOCHS[0], []], [EPOCHS[1], [1]], [EPOCHS[2], [2, 1]], ['checkpoint-5', []], ['checkpoint-6', [4]]]);
    assert.equal(listed[4]!.members.find((m) => m.path === 'config.json')!.stored, 0, 'an unchanged file is copied by the service');
    const got = await mithril(['store', 'get', store, EPOCHS[2]!, '-c']);
    assert.deepEqual(got.stdout, readFileSync(fixture(EPOCHS[2]!)));
    assert.equal((await mithril(['store', 'get', '-q', store, 'checkpoint-6', '-o', 'restored'])).code, 0);
    assert.deepEqual(readFileSync(join(work, 'restored', 'model.safetensors')), readFileSync(fixture('cnn_epoch6.bf16.safetensors')));
    assert.equal(readFileSync(join(work, 'restored', 'config.json'), 'utf8'), '{"channels": 64}\n');
    const rm = await mithril(['store', 'rm', store, EPOCHS[1]!]);
    assert.match(rm.stderr, /removed; re-coded cnn_epoch6\.bf16\.safetensors/);
    assert.deepEqual((await mithril(['store', 'get', store, EPOCHS[2]!, '-c'])).stdout, readFileSync(fixture(EPOCHS[2]!)));
    const verify = await mithril(['store', 'verify', store]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout.toString(), /ok \(4 entries\)/);
  });

  it('two adds at once both land, one after the other', async () => {
    const store = `${prefix}/together`;
    assert.equal((await mithril(['store', 'add', '-q', store, fixture(EPOCHS[0]!)])).code, 0);
    const runs = await Promise.all([mithril(['store', 'add', '-q', store, fixture(EPOCHS[1]!)]), mithril(['store', 'add', '-q', store, fixture(EPOCHS[2]!)])]);
    assert.deepEqual(runs.map((r) => r.code), [0, 0], runs.map((r) => r.stderr).join(''));
    assert.equal((await entries(store)).length, 3);
    assert.equal((await mithril(['store', 'verify', store])).code, 0);
  });

  it('kill -9 during an add leaves the store whole, and the next add goes ahead at once', async () => {
    const store = `${prefix}/killed`;
    assert.equal((await mithril(['store', 'add', '-q', store, fixture(EPOCHS[0]!)])).code, 0);
    const big = join(work, 'big.safetensors');
    const data = randomBytes(160 * 1048576); // coded and uploaded for several seconds: the kill lands mid-add
    writeFileSync(big, safetensors({ w: { dtype: 'BF16', shape: [81920, 1024], data_offsets: [0, data.length] } }, data));
    const add = mithril(['store', 'add', '-q', '-T', '1', store, big]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    add.kill('SIGKILL');
    await add;
    const started = Date.now();
    const next = await mithril(['store', 'add', '-q', store, fixture(EPOCHS[1]!)]);
    assert.equal(next.code, 0, next.stderr);
    assert.ok(Date.now() - started < 20_000, 'the dead writer\'s lock was taken over, not waited out');
    assert.deepEqual((await entries(store)).map((e) => e.name), [EPOCHS[0], EPOCHS[1]]);
    assert.equal((await mithril(['store', 'verify', store])).code, 0);
  });

  it('refuses a prefix that holds no store, and names a missing bucket', async () => {
    assert.match((await mithril(['store', 'ls', `${prefix}/nothing`])).stderr, /^mithril: s3:\/\/[^:]+\/nothing: no such store\n$/);
    assert.match((await mithril(['store', 'ls', 's3://no-such-bucket-here/run'])).stderr, /^mithril: s3:\/\/no-such-bucket-here\/run\/?: no such bucket\n$/);
  });
});
