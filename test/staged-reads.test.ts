import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StagedReads } from '../src/io/staged-reads.js';
import { FileSource } from '../src/io/source.js';
import { tempDir } from './helpers.js';

describe('staged reads', () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 255);

  it('gives each range its bytes, through blocks, a gap and a range larger than a block', async () => {
    const path = join(tempDir(), 'in');
    writeFileSync(path, bytes);
    const source = new FileSource(path);
    const ranges = [
      { offset: 0, length: 100 },
      { offset: 100, length: 150 },
      { offset: 250, length: 100 }, // does not fit the first 300-byte block
      { offset: 400, length: 50 }, // after a gap: a new block
      { offset: 450, length: 400 }, // larger than a block
      { offset: 850, length: 150 },
    ];
    let reads = 0;
    const staged = new StagedReads((offset, length, into) => (reads++, source.readInBackground(offset, length, into)), ranges, 300);
    try {
      for (const [index, { offset, length }] of ranges.entries()) {
        const got = await staged.bytes(index);
        if (length > 300) assert.equal(got, undefined);
        else assert.deepEqual(got, bytes.subarray(offset, offset + length), `range ${index}`);
      }
      assert.equal(reads, 4, 'one read per block: [0, 250), [250, 350), [400, 450), [850, 1000)');
    } finally {
      await staged.settle();
      source.close();
    }
  });

  it('fails with the read that failed, and settles without throwing', async () => {
    const path = join(tempDir(), 'short');
    writeFileSync(path, bytes.subarray(0, 10));
    const fd = openSync(path, 'r');
    const source = new FileSource(path, fd);
    try {
      const staged = new StagedReads((offset, length, into) => source.readInBackground(offset, length, into), [{ offset: 0, length: 100 }], 300);
      await assert.rejects(staged.bytes(0), { code: 'TRUNCATED' });
      await staged.settle();
    } finally {
      closeSync(fd);
    }
  });
});
