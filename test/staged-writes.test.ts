import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StagedWrites } from '../src/io/staged-writes.js';
import { tempDir } from './helpers.js';

/** Pieces of `bytes` given to StagedWrites in this order, each filled only once its room is given. */
async function writeStaged(path: string, bufferSize: number, bytes: Uint8Array, pieces: [number, number][]): Promise<void> {
  const fd = openSync(path, 'w');
  try {
    const staged = new StagedWrites(fd, bufferSize);
    for (const [at, length] of pieces) (await staged.room(at, length)).set(bytes.subarray(at, at + length));
    await staged.finish();
  } finally {
    closeSync(fd);
  }
}

describe('staged writes', () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 255);

  it('writes every piece at its place, through full buffers and jumps in position', async () => {
    const path = join(tempDir(), 'out');
    // 300 + 300 fill a 700-byte buffer only partly and the next 300 do not fit; the last piece goes back before the one before it.
    await writeStaged(path, 700, bytes, [[0, 300], [300, 300], [600, 300], [900, 100], [800, 100]]);
    assert.deepEqual(readFileSync(path), Buffer.from(bytes));
  });

  it('fails when a write fails, and settles without throwing', async () => {
    const path = join(tempDir(), 'read-only');
    closeSync(openSync(path, 'w'));
    const fd = openSync(path, 'r'); // writing into a descriptor opened for reading fails with EBADF
    try {
      const staged = new StagedWrites(fd, 16);
      (await staged.room(0, 16)).fill(1);
      await assert.rejects(staged.finish(), { code: 'EBADF' });
      await staged.settle();
    } finally {
      closeSync(fd);
    }
  });
});
