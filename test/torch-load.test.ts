import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compressFile, decompressFile } from '../src/index.js';
import { fixture, tempDir } from './helpers.js';

/** A Python that has torch (Debian's python3-torch installs into /usr/bin/python3), if any. */
function pythonWithTorch(): string | undefined {
  return ['/usr/bin/python3', 'python3'].find((python) => spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
}

const COMPARE = `
import sys, torch
def walk(a, b, path):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), path
        return 1
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        return sum(walk(a[k], b[k], f"{path}.{k}") for k in a)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        return sum(walk(x, y, f"{path}.{i}") for i, (x, y) in enumerate(zip(a, b)))
    assert a == b, path
    return 0
print(walk(torch.load(sys.argv[1]), torch.load(sys.argv[2]), "checkpoint"))
`;

describe('torch.load', () => {
  const python = pythonWithTorch();
  // CI (.ci/run) installs torch, so there a missing torch fails the test instead of skipping it.
  const skip = python || process.env.CI ? false : 'torch is not installed (apt-get install python3-torch to run this check)';
  it('loads every restored .pt with tensors equal to the original', { skip }, async () => {
    const torchPython: string = python ?? assert.fail('torch is not installed: apt-get install python3-torch');
    const dir = tempDir();
    for (const [name, bases] of [['cnn_train_epoch6.pt', []], ['cnn_train_epoch6.pt', [fixture('cnn_train_epoch5.pt')]]] as const) {
      const packed = join(dir, 'x.mth');
      const restored = join(dir, 'restored.pt');
      await compressFile(fixture(name), { output: packed, force: true, bases: [...bases] });
      await decompressFile(packed, { output: restored, force: true, bases: [...bases] });
      const run = spawnSync(torchPython, ['-c', COMPARE, fixture(name), restored], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.ok(Number(run.stdout.trim()) >= 85, `compared ${run.stdout.trim()} tensors`);
    }
  });
});
