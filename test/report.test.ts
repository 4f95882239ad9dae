import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readIndex, summarize } from '../src/index.js';
import { CLI, fixture, tempDir } from './helpers.js';

const mithril = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const SIZE = /^\d+ B$|^\d+\.\d (KiB|MiB|GiB)$/;

// --best mixes coders in the BF16 exponent plane, the larger share (zstd19) not the first one used.
const packed = join(tempDir(), 'm.safetensors.mth');
const compress = mithril('compress', '--best', '-o', packed, fixture('cnn_epoch6.bf16.safetensors'));
assert.equal(compress.status, 0, compress.stderr);
const info = mithril('info', packed);
assert.equal(info.status, 0, info.stderr);
const [heading, dtypeTable, planeTable] = info.stdout.split('\n\n') as [string, string, string];
const header = heading.split('\n')[0]!;
const rows = (table: string): string[] => table.split('\n').slice(1);

describe('mithril info', () => {
  it('summarize((await readIndex(file))) works through the library entry', async () => {
    const summary = summarize((await readIndex(packed)));
    assert.equal(summary.format, 'safetensors');
    assert.equal(summary.source.size, 625022);
    assert.equal(summary.compressedSize, statSync(packed).size);
    assert.equal(summary.tensors.length, 56);
    assert.equal(summary.dtypes.find((d) => d.dtype === 'BF16')?.tensors, 47);
  });

  it('lists coder shares largest first', () => {
    const shares = rows(planeTable).map((row) => /\d\.\d{4}\s+(\S.*)$/.exec(row)![1]!.split(', ').map((share) => Number(/ (\d+)%$/.exec(share)![1])));
    assert.ok(shares.some((s) => s.length > 1), planeTable);
    for (const s of shares) assert.deepEqual(s, [...s].sort((a, b) => b - a), planeTable);
  });

  it('counts no tensors in opaque bytes', () => {
    assert.match(dtypeTable, /^opaque\s+-\s/m);
    for (const row of rows(dtypeTable)) assert.doesNotMatch(row, /^\S+\s+0\s/);
  });

  it('prints sizes in one style: exact bytes only where they identify the original', () => {
    assert.match(header, /: safetensors checkpoint "cnn_epoch6\.bf16\.safetensors" \(625022 bytes, xxh64 [0-9a-f]{16}\), 610\.4 KiB -> \d+\.\d KiB \(ratio 1\.\d{4}\)$/);
    assert.match(compress.stderr, /cnn_epoch6\.bf16\.safetensors: 610\.4 KiB -> \d+\.\d KiB \(ratio 1\.\d{4}\) => .*m\.safetensors\.mth/);
    for (const row of rows(dtypeTable)) for (const cell of row.split(/\s{2,}/).slice(2, 4)) assert.match(cell, SIZE, row);
    for (const row of rows(planeTable)) for (const cell of row.split(/\s{2,}/).slice(2, 4)) assert.match(cell, SIZE, row);
    const tensors = rows(mithril('info', '--tensors', packed).stdout.trimEnd().split('\n\n').at(-1)!);
    assert.equal(tensors.length, 56);
    for (const row of tensors) assert.match(row.split(/\s{2,}/).at(-1)!, SIZE, row);
  });
});
