import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readSafetensorsLayout } from '../src/formats/safetensors.js';
import { BufferSource } from '../src/io/source.js';
import { CLI, fixture, readFixture, safetensors, tempDir } from './helpers.js';

function mithril(cwd: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A Hugging Face style sharded model: the real cnn tensors in two shards, an index and a README. */
async function shardedModel(dir: string): Promise<void> {
  const file = readFixture('cnn_epoch6.bf16.safetensors');
  const tensors = (await readSafetensorsLayout(new BufferSource(file))).segments.flatMap((s) => (s.kind === 'tensor' ? [s] : []));
  const half = tensors.length >> 1;
  const weightMap: Record<string, string> = {};
  for (const [k, shard] of [tensors.slice(0, half), tensors.slice(half)].entries()) {
    const name = `model-0000${k + 1}-of-00002.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let at = 0;
    for (const t of shard) {
      header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.length] };
      weightMap[t.name] = name;
      at += t.length;
    }
    writeFileSync(join(dir, name), safetensors(header, Buffer.concat(shard.map((t) => file.subarray(t.offset, t.offset + t.length)))));
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2));
  writeFileSync(join(dir, 'README.md'), '# a model\n');
}

const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().filter((f) => !f.endsWith('/')).map((f) => {
    try {
      return [f, readFileSync(join(dir, f)).toString('base64')];
    } catch {
      return [f, 'dir'];
    }
  }));

describe('folders and tensors', () => {
  it('compress -r / decompress -r round-trip a sharded model folder exactly, other files untouched', async () => {
    const dir = tempDir();
    const model = join(dir, 'model');
    mkdirSync(join(model, 'sub'), { recursive: true });
    (await shardedModel(model));
    copyFileSync(fixture('cnn_train_epoch6.pt'), join(model, 'sub', 'training.pt'));
    const before = snapshot(model);

    const compress = mithril(dir, 'compress', '-r', '--rm', '-q', 'model');
    assert.equal(compress.code, 0, compress.stderr);
    assert.deepEqual(readdirSync(model).sort(), ['README.md', 'model-00001-of-00002.safetensors.mth', 'model-00002-of-00002.safetensors.mth', 'model.safetensors.index.json', 'sub']);
    assert.deepEqual(readdirSync(join(model, 'sub')), ['training.pt.mth']);

    const info = mithril(dir, 'info', '-r', 'model');
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /model-00001-of-00002\.safetensors\.mth\s+safetensors/);
    assert.match(info.stdout, /training\.pt\.mth\s+torch\s+85/);
    assert.match(info.stdout, /^total\s/m);
    assert.equal(mithril(dir, 'verify', '-r', '-q', 'model').code, 0);

    const decompress = mithril(dir, 'decompress', '-r', '--rm', '-q', 'model');
    assert.equal(decompress.code, 0, decompress.stderr);
    assert.deepEqual(snapshot(model), before);
  });

  it('extract writes one tensor, raw or as .npy, decoding only its chunks', async () => {
    const dir = tempDir();
    copyFileSync(fixture('cnn_epoch6.fp32.safetensors'), join(dir, 'm.safetensors'));
    assert.equal(mithril(dir, 'compress', '-q', 'm.safetensors').code, 0);
    const file = readFileSync(join(dir, 'm.safetensors'));
    const fc = (await readSafetensorsLayout(new BufferSource(file))).segments.find((s) => s.kind === 'tensor' && s.name === 'fc.weight')!;

    assert.equal(mithril(dir, 'extract', 'm.safetensors.mth', 'fc.weight').code, 0);
    assert.deepEqual(readFileSync(join(dir, 'fc.weight.raw')), file.subarray(fc.offset, fc.offset + fc.length));

    assert.equal(mithril(dir, 'extract', 'm.safetensors.mth', 'fc.weight', '--format', 'npy', '-o', 'fc.npy').code, 0);
    const npy = readFileSync(join(dir, 'fc.npy'));
    assert.equal(npy.subarray(0, 6).toString('latin1'), '\x93NUMPY');
    const headerLength = npy.readUInt16LE(8);
    assert.equal((10 + headerLength) % 64, 0);
    assert.match(npy.subarray(10, 10 + headerLength).toString(), /'descr': '<f4', 'fortran_order': False, 'shape': \(11, 128\)/);
    assert.deepEqual(npy.subarray(10 + headerLength), file.subarray(fc.offset, fc.offset + fc.length));

    const missing = mithril(dir, 'extract', 'm.safetensors.mth', 'no.such.tensor');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^mithril: m\.safetensors\.mth: has no tensor named "no\.such\.tensor"/);
  });
});
