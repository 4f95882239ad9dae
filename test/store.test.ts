import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { storeAdd, storeGet, storeList, storeRm, storeVerify } from '../src/store/store.js';
import { CLI, fixture, readFixture, safetensors, tempDir } from './helpers.js';

const EPOCHS = [4, 5, 6].map((n) => `cnn_epoch${n}.bf16.safetensors`);

function mithril(cwd: string, args: string[], input?: Buffer): { code: number | null; stdout: Buffer; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, input });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr.toString() };
}

/** A store holding the three cnn epochs, added in order. */
async function cnnStore(maxDepth?: number): Promise<string> {
  const dir = join(tempDir(), 'run');
  for (const name of EPOCHS) await storeAdd(dir, fixture(name), { maxDepth });
  return dir;
}

describe('store', () => {
  it('chooses bases by itself, restores every entry bit-exactly, and beats coding each alone', async () => {
    const dir = await cnnStore();
    const entries = await storeList(dir);
    assert.deepEqual(entries.map((e) => [e.name, e.bases, e.depth]), [
      [EPOCHS[0], [], 0],
      [EPOCHS[1], [1], 1],
      [EPOCHS[2], [2, 1], 2],
    ]);
    const out = tempDir();
    for (const name of EPOCHS) {
      await storeGet(dir, name, { output: join(out, name) });
      assert.deepEqual(readFileSync(join(out, name)), readFixture(name));
    }
    const original = entries.reduce((sum, e) => sum + e.size, 0);
    const stored = entries.reduce((sum, e) => sum + e.stored, 0);
    // Alone each compresses 1.534x; as a history the deltas make it far smaller.
    assert.ok(original / stored > 2.2, `history ratio ${(original / stored).toFixed(3)}`);
    assert.deepEqual(await storeVerify(dir), { entries: 3, problems: [] });
  });

  it('--max-depth bounds the deltas a restore decodes: past it, a delta against the chain\'s start; at 0, keyframes', async () => {
    assert.deepEqual((await storeList(await cnnStore(1))).map((e) => [e.bases, e.depth]), [[[], 0], [[1], 1], [[1], 1]]);
    assert.deepEqual((await storeList(await cnnStore(0))).map((e) => [e.bases, e.depth]), [[[], 0], [[], 0], [[], 0]]);
  });

  it('the CLI: add from a file and from stdin, ls, get -c, one-line refusals', () => {
    const cwd = tempDir();
    copyFileSync(fixture(EPOCHS[0]!), join(cwd, 'e4.safetensors'));
    assert.equal(mithril(cwd, ['store', 'add', '-q', 'run', 'e4.safetensors']).code, 0);
    const stdin = mithril(cwd, ['store', 'add', 'run', '-', '--name', 'e5'], readFixture(EPOCHS[1]!));
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.match(stdin.stderr, /run: e5: .* delta, depth 1/);
    assert.match(mithril(cwd, ['store', 'add', 'run', '-'], readFixture(EPOCHS[2]!)).stderr, /^mithril: stdin: an entry read from standard input needs --name$/m);
    assert.match(mithril(cwd, ['store', 'add', 'run', 'e4.safetensors']).stderr, /^mithril: run: already has an entry named "e4\.safetensors"$/m);
    const ls = mithril(cwd, ['store', 'ls', 'run']).stdout.toString();
    assert.match(ls, /^e5\s.*e4\.safetensors\s+1\s/m);
    assert.match(ls, /^history\s/m);
    assert.deepEqual(mithril(cwd, ['store', 'get', 'run', 'e5', '-c']).stdout, readFixture(EPOCHS[1]!));
    writeFileSync(join(cwd, 'notes.txt'), 'hello');
    assert.match(mithril(cwd, ['store', 'ls', cwd]).stderr, /is not a mithril store \(no mithril-store\.json\)/);
    assert.match(mithril(cwd, ['store', 'get', 'run', 'nope']).stderr, /^mithril: run: has no entry named "nope"/m);
    for (const args of [['store', 'add', 'run', 'a', 'b', '--name', 'x'], ['store', 'add', 'run', 'a', '--max-depth', 'x']]) {
      const usage = mithril(cwd, args);
      assert.equal(usage.code, 2, usage.stderr);
      assert.match(usage.stderr, /^mithril: error: [^\n]+\n$/);
    }
  });

  it('rm in the middle of a chain re-codes what needed it, and every other entry still restores bit-exactly', async () => {
    const dir = await cnnStore();
    assert.deepEqual(await storeRm(dir, EPOCHS[1]!), { recoded: [EPOCHS[2]] });
    assert.deepEqual((await storeList(dir)).map((e) => [e.name, e.bases, e.depth]), [[EPOCHS[0], [], 0], [EPOCHS[2], [1], 1]]);
    const out = tempDir();
    await storeGet(dir, EPOCHS[2]!, { output: join(out, 'e6') });
    assert.deepEqual(readFileSync(join(out, 'e6')), readFixture(EPOCHS[2]!));
    assert.equal((await storeList(dir))[1]!.members[0]!.original.name, EPOCHS[2]);
    // Removing the keyframe makes the entry that needed it a keyframe.
    const run = mithril(dir, ['store', 'rm', '.', EPOCHS[0]!]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /removed; re-coded cnn_epoch6\.bf16\.safetensors/);
    assert.deepEqual((await storeList(dir)).map((e) => [e.name, e.bases, e.depth]), [[EPOCHS[2], [], 0]]);
    assert.deepEqual(readdirSync(join(dir, 'data')), ['00000003.2.mth']);
    assert.deepEqual(await storeVerify(dir), { entries: 1, problems: [] });
  });

  it('verify names a damaged entry and the entries that need it', async () => {
    const dir = await cnnStore();
    const victim = join(dir, 'data', '00000002.mth');
    const bytes = readFileSync(victim);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(victim, bytes);
    const { problems } = await storeVerify(dir);
    assert.deepEqual(problems.map((p) => [p.name, p.dependents]), [[EPOCHS[1], [EPOCHS[2]]], [EPOCHS[2], []]]);
    const run = mithril(dir, ['store', 'verify', '.']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\(needed by cnn_epoch6\.bf16\.safetensors\)/);
  });

  it('an add reads a base from the file it was added from while that holds the same bytes, else decodes it from the store', async () => {
    const work = tempDir();
    const dir = join(tempDir(), 'run');
    for (const name of EPOCHS.slice(0, 2)) {
      copyFileSync(fixture(name), join(work, name));
      await storeAdd(dir, join(work, name));
    }
    assert.deepEqual((await storeList(dir)).map((e) => e.members[0]!.source), EPOCHS.slice(0, 2).map((n) => join(work, n)));
    const damaged = join(dir, 'data', '00000002.mth');
    const bytes = readFileSync(damaged);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(damaged, bytes);
    // Read from the original, the base is whole: the add does not touch the damaged container.
    assert.deepEqual((await storeAdd(dir, fixture(EPOCHS[2]), { name: 'from-original' })).bases, [2, 1]);
    const changed = readFileSync(join(work, EPOCHS[1]!));
    changed[changed.length - 1] ^= 1;
    writeFileSync(join(work, EPOCHS[1]!), changed);
    await assert.rejects(storeAdd(dir, fixture(EPOCHS[2]), { name: 'through-store' }), /00000002\.mth: corrupted chunk/);
  });

  /** Starts adding a 384 MiB checkpoint to the cnn store and sends `signal` once its container is being written; the exit code. */
  async function interruptedAdd(dir: string, signal: NodeJS.Signals): Promise<number | null> {
    const big = join(tempDir(), 'big.safetensors');
    const data = randomBytes(384 * 1048576); // coded for about half a second after its output appears: time to be interrupted
    writeFileSync(big, safetensors({ w: { dtype: 'BF16', shape: [98304, 2048], data_offsets: [0, data.length] } }, data));
    const child = spawn(process.execPath, [CLI, 'store', 'add', '-q', '-T', '1', dir, big]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const started = Date.now();
    while (!readdirSync(join(dir, 'data')).some((n) => n.includes('.tmp-')) && Date.now() - started < 20000) await new Promise((r) => setTimeout(r, 2));
    child.kill(signal);
    return exited;
  }

  it('kill -9 during add leaves the store whole: the entry is absent, and the next add clears what it left', async () => {
    const dir = await cnnStore();
    await interruptedAdd(dir, 'SIGKILL');
    assert.equal((await storeList(dir)).length, 3);
    assert.deepEqual((await storeVerify(dir)).problems, []);
    await storeAdd(dir, fixture('ft_step10_layer0.bf16.safetensors'));
    assert.deepEqual(readdirSync(join(dir, 'data')).sort(), ['00000001.mth', '00000002.mth', '00000003.mth', '00000004.mth']);
  });

  it('SIGTERM during add removes its lock and temporary file at once', async () => {
    const dir = await cnnStore();
    assert.equal(await interruptedAdd(dir, 'SIGTERM'), 143);
    assert.deepEqual(readdirSync(dir).sort(), ['data', 'entries', 'mithril-store.json']);
    assert.deepEqual(readdirSync(join(dir, 'data')).sort(), ['00000001.mth', '00000002.mth', '00000003.mth']);
  });

  it('kill -9 at any moment of rm leaves every entry restorable, the removed one whole or gone', async () => {
    // The rm takes about 370 ms here, 200 of them starting up: the kills land before, in and after its work.
    for (const delay of [100, 200, 260, 320, 380]) {
      const dir = await cnnStore();
      const child = spawn(process.execPath, [CLI, 'store', 'rm', '-q', '-T', '1', dir, EPOCHS[1]!]);
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      await exited;
      assert.ok([2, 3].includes((await storeList(dir)).length));
      assert.deepEqual((await storeVerify(dir)).problems, [], `killed after ${delay} ms`);
      await storeAdd(dir, fixture('ft_step10_layer0.bf16.safetensors')); // clears what the rm left
      const files = new Set((await storeList(dir)).flatMap((e) => e.members.map((m) => m.file)));
      assert.deepEqual(readdirSync(join(dir, 'data')).filter((name) => !files.has(name)), [], 'no leftover after the next add');
    }
  });

  it('two adds at once both land, in turn, also into a store neither has made yet', async () => {
    // Exit codes, with what each add printed when it failed.
    const addAt = (dir: string, name: string) =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'store', 'add', '-q', dir, fixture(name)]);
        let stderr = '';
        child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
        child.on('close', (code) => resolve(`${code} ${stderr}`.trim()));
      });
    const fresh = join(tempDir(), 'new');
    assert.deepEqual(await Promise.all([addAt(fresh, EPOCHS[0]!), addAt(fresh, EPOCHS[1]!)]), ['0', '0']);
    assert.equal((await storeList(fresh)).length, 2);
    const dir = await cnnStore();
    assert.deepEqual(await Promise.all([addAt(dir, 'ft_step10_layer0.bf16.safetensors'), addAt(dir, 'ft_step20_layer0.bf16.safetensors')]), ['0', '0']);
    assert.deepEqual((await storeList(dir)).map((e) => e.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual((await storeVerify(dir)).problems, []);
  });
});
