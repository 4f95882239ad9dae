import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertOneLine, CLI, fixture, tempDir } from './helpers.js';

function mithril(cwd: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('mithril CLI', () => {
  it('compress, info, verify, decompress: the original bytes come back', () => {
    const dir = tempDir();
    copyFileSync(fixture('cnn_epoch6.bf16.safetensors'), join(dir, 'm.safetensors'));
    const original = readFileSync(join(dir, 'm.safetensors'));

    const compress = mithril(dir, 'compress', 'm.safetensors');
    assert.equal(compress.code, 0, compress.stderr);
    assert.match(compress.stderr, /m\.safetensors: 610\.4 KiB -> \d+\.\d KiB \(ratio 1\.5\d+\) => m\.safetensors\.mth/);

    const info = mithril(dir, 'info', 'm.safetensors.mth');
    assert.equal(info.code, 0);
    assert.match(info.stdout, /BF16\s+47\s/);
    assert.match(info.stdout, /exponent/);
    const json = JSON.parse(mithril(dir, 'info', '--json', 'm.safetensors.mth').stdout);
    assert.equal(json.source.size, 625022);
    assert.equal(json.tensors.length, 56);

    const verify = mithril(dir, 'verify', '--json', 'm.safetensors.mth');
    assert.equal(verify.code, 0);
    assert.equal(JSON.parse(verify.stdout).ok, true);

    assertOneLine(mithril(dir, 'decompress', 'm.safetensors.mth'), 'm.safetensors', /already exists \(use -f to overwrite\)/);
    const restore = mithril(dir, 'decompress', '-f', '-q', 'm.safetensors.mth');
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(restore.stderr, '');
    assert.deepEqual(readFileSync(join(dir, 'm.safetensors')), original);

    const renamed = mithril(dir, 'decompress', 'm.safetensors.mth', '-o', 'copy.bin');
    assert.equal(renamed.code, 0);
    assert.deepEqual(readFileSync(join(dir, 'copy.bin')), original);
  });

  it('delta: compress and decompress --base, with the base required and checked', () => {
    const dir = tempDir();
    copyFileSync(fixture('cnn_epoch6.bf16.safetensors'), join(dir, 'e6.safetensors'));
    copyFileSync(fixture('cnn_epoch5.bf16.safetensors'), join(dir, 'e5.safetensors'));
    copyFileSync(fixture('cnn_epoch4.bf16.safetensors'), join(dir, 'e4.safetensors'));
    const compress = mithril(dir, 'compress', 'e6.safetensors', '--base', 'e5.safetensors');
    assert.equal(compress.code, 0, compress.stderr);
    assert.match(mithril(dir, 'info', 'e6.safetensors.mth').stdout, /base: "e5\.safetensors" \(625022 bytes, xxh64 [0-9a-f]{16}\)/);
    assertOneLine(mithril(dir, 'verify', 'e6.safetensors.mth'), 'e6.safetensors.mth', /needs base "e5\.safetensors"/);
    assertOneLine(mithril(dir, 'verify', 'e6.safetensors.mth', '--base', 'e4.safetensors'), 'e4.safetensors', /is not a base of e6\.safetensors\.mth/);
    assertOneLine(mithril(dir, 'compress', '-f', 'e6.safetensors', '--base', 'nope.safetensors'), 'nope.safetensors', /no such file/);
    assert.equal(mithril(dir, 'compress', 'e6.safetensors', '--base', 'a', '--base', 'b', '--base', 'c').code, 2);
    const restore = mithril(dir, 'decompress', 'e6.safetensors.mth', '-o', 'back.safetensors', '--base', 'e5.safetensors');
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(readFileSync(join(dir, 'back.safetensors')), readFileSync(join(dir, 'e6.safetensors')));
  });

  it('usage errors exit 2', () => {
    const dir = tempDir();
    assert.equal(mithril(dir, 'frobnicate').code, 2);
    assert.equal(mithril(dir, 'compress').code, 2);
    assert.equal(mithril(dir, 'compress', '-o', 'x', 'a', 'b').code, 2);
    assert.equal(mithril(dir, 'compress', '--chunk-size', 'lots', 'a').code, 2);
  });

  it('bad input gets one line, exit 1, and no output file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.safetensors'), readFileSync(fixture('cnn_epoch6.bf16.safetensors')).subarray(0, 100_000));
    assertOneLine(mithril(dir, 'compress', 'bad.safetensors'), 'bad.safetensors', /exceeds file size|beyond the end of file/);
    assertOneLine(mithril(dir, 'compress', 'missing.safetensors'), 'missing.safetensors', /no such file/);

    copyFileSync(fixture('cnn_epoch6.bf16.safetensors'), join(dir, 'good.safetensors'));
    assert.equal(mithril(dir, 'compress', '-q', 'good.safetensors').code, 0);
    const damaged = readFileSync(join(dir, 'good.safetensors.mth'));
    damaged[damaged.length >> 1]! ^= 0xff;
    writeFileSync(join(dir, 'damaged.safetensors.mth'), damaged);
    assertOneLine(mithril(dir, 'decompress', 'damaged.safetensors.mth'), 'damaged.safetensors.mth', /chunk \d+ \(tensor/);
    assertOneLine(mithril(dir, 'verify', 'damaged.safetensors.mth'), 'damaged.safetensors.mth', /chunk \d+/);
    assertOneLine(mithril(dir, 'decompress', 'good.safetensors'), 'good.safetensors', /not a mithril file/);

    assert.deepEqual(readdirSync(dir).sort(), ['bad.safetensors', 'damaged.safetensors.mth', 'good.safetensors', 'good.safetensors.mth']);
  });

  it('keeps going over several files and reports each failure', () => {
    const dir = tempDir();
    copyFileSync(fixture('cnn_epoch6.fp32.safetensors'), join(dir, 'a.safetensors'));
    const result = mithril(dir, 'compress', '-q', 'nope.safetensors', 'a.safetensors');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /nope\.safetensors: no such file/);
    assert.ok(readdirSync(dir).includes('a.safetensors.mth'));
  });
});
