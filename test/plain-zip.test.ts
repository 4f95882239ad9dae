import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildZip } from './fuzz/builders.js';
import { CLI, fixture, tempDir } from './helpers.js';

const mithril = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });

/** A zip of text files in a top folder, laid out like torch's archives but without data.pkl. */
function plainZip(): Uint8Array {
  const text = (s: string): Uint8Array => new TextEncoder().encode(s.repeat(50));
  return buildZip([
    { name: 'notes/readme.txt', data: text('a plain zip of text files\n') },
    { name: 'notes/data/0', data: text('not a storage\n') },
    { name: 'notes/version', data: text('3\n') },
  ]);
}

describe('a zip that is not a torch.save checkpoint', () => {
  it('compress refuses it with one line naming the file, writing nothing', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'archive.zip'), plainZip());
    const run = mithril(dir, 'compress', 'archive.zip');
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stderr, 'mithril: archive.zip: a zip archive but not a torch.save checkpoint (no data.pkl record)\n');
    assert.deepEqual(readdirSync(dir), ['archive.zip']);
  });

  it('compress -r leaves it alone and compresses the torch checkpoint beside it', () => {
    const dir = tempDir();
    const model = join(dir, 'model');
    mkdirSync(model);
    writeFileSync(join(model, 'archive.zip'), plainZip());
    copyFileSync(fixture('cnn_train_epoch6.pt'), join(model, 'training.pt'));
    const run = mithril(dir, 'compress', '-r', '-q', 'model');
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(readdirSync(model).sort(), ['archive.zip', 'training.pt', 'training.pt.mth']);
    assert.deepEqual(readFileSync(join(model, 'archive.zip')), Buffer.from(plainZip()));
  });
});
