import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compress, decompress } from '../src/cli/commands.js';
import { syncBeforeRename } from '../src/io/atomic-file.js';
import { compressFile, decompressFile } from '../src/index.js';
import { CLI, fixture, tempDir } from './helpers.js';

/** fsync calls made during `work`: node:fs's function is wrapped, and the wrapper made what every `import { fsyncSync }` sees. */
async function fsyncsDuring(work: () => Promise<unknown>): Promise<number> {
  const original = fs.fsyncSync;
  let calls = 0;
  fs.fsyncSync = (fd) => {
    calls++;
    original(fd);
  };
  syncBuiltinESMExports();
  try {
    await work();
  } finally {
    fs.fsyncSync = original;
    syncBuiltinESMExports();
  }
  return calls;
}

const INPUT = fixture('cnn_epoch6.bf16.safetensors');

describe('sync before rename', () => {
  it('is needed exactly when a file is replaced or the caller asks (--sync, --rm)', () => {
    assert.equal(syncBeforeRename(false, false), false);
    assert.equal(syncBeforeRename(true, false), true);
    assert.equal(syncBeforeRename(false, true), true);
    assert.equal(syncBeforeRename(true, true), true);
  });

  it('a new output is renamed unsynced; one that replaces a file, or with sync, is synced first', async () => {
    const dir = tempDir();
    const packed = join(dir, 'm.mth');
    const restored = join(dir, 'm.safetensors');
    assert.equal(await fsyncsDuring(() => compressFile(INPUT, { output: packed })), 0);
    assert.equal(await fsyncsDuring(() => compressFile(INPUT, { output: packed, force: true })), 1);
    assert.equal(await fsyncsDuring(() => decompressFile(packed, { output: restored })), 0);
    assert.equal(await fsyncsDuring(() => decompressFile(packed, { output: join(dir, 'synced'), sync: true })), 1);
    assert.deepEqual(readFileSync(restored), readFileSync(INPUT));
  });

  it('the commands sync an output before --rm removes its input, and not otherwise', async () => {
    const dir = tempDir();
    const input = join(dir, 'm.safetensors');
    copyFileSync(INPUT, input);
    const flags = { quiet: true, base: [], chunkSize: 1048576, threads: 1 };
    assert.equal(await fsyncsDuring(() => compress([input], { ...flags, output: join(dir, 'kept.mth') })), 0);
    assert.equal(await fsyncsDuring(() => compress([input], { ...flags, rm: true })), 1);
    assert.equal(existsSync(input), false);
    assert.equal(await fsyncsDuring(() => decompress([`${input}.mth`], { ...flags, rm: true })), 1);
    assert.deepEqual(readFileSync(input), readFileSync(INPUT));
  });

  it('--sync is accepted by compress, decompress, extract and store get', () => {
    const dir = tempDir();
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
    writeFileSync(join(dir, 'm.safetensors'), readFileSync(INPUT));
    for (const args of [
      ['compress', '--sync', '-q', 'm.safetensors'],
      ['decompress', '--sync', '-q', 'm.safetensors.mth', '-o', 'back.safetensors'],
      ['extract', '--sync', 'm.safetensors.mth', 'bn1.num_batches_tracked', '-o', 't.raw'],
      ['store', 'add', '-q', 'store', 'm.safetensors'],
      ['store', 'get', '--sync', '-q', 'store', 'm.safetensors', '-o', 'got.safetensors'],
    ]) {
      const result = run(...args);
      assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
    }
    assert.deepEqual(readFileSync(join(dir, 'got.safetensors')), readFileSync(INPUT));
  });
});
