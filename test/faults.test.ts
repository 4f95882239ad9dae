import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compressFile, decompressFile, MithrilError } from '../src/index.js';
import { fixture, tempDir } from './helpers.js';

const isMithrilError = (pattern: RegExp) => (e: unknown) => e instanceof MithrilError && pattern.test(e.message) && !e.message.includes('\n');

/** A small RAM disk, if this process may mount one (root on Linux); undefined otherwise. */
function smallDisk(bytes: number): string | undefined {
  const dir = tempDir();
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' });
  return mounted.status === 0 ? dir : undefined;
}

describe('faults', () => {
  const disk = smallDisk(256 * 1024);
  it('a full disk gives one clear error and leaves no partial output', { skip: disk ? false : 'cannot mount a tmpfs here (needs root)' }, async () => {
    try {
      await assert.rejects(compressFile(fixture('cnn_epoch6.fp32.safetensors'), { output: join(disk!, 'out.mth') }), isMithrilError(/out\.mth: no space left on device/));
      assert.deepEqual(readdirSync(disk!), []);
      const packed = join(tempDir(), 'm.mth');
      await compressFile(fixture('cnn_epoch6.fp32.safetensors'), { output: packed });
      // With worker threads, the workers write the restored chunks themselves.
      for (const threads of [1, 2]) {
        await assert.rejects(decompressFile(packed, { output: join(disk!, 'restored'), threads }), isMithrilError(/restored: no space left on device/));
        assert.deepEqual(readdirSync(disk!), []);
      }
    } finally {
      spawnSync('umount', [disk!]);
      rmdirSync(disk!);
    }
  });

  it('an input that changes while being read is refused, with nothing written', async () => {
    const dir = tempDir();
    const input = join(dir, 'm.safetensors');
    copyFileSync(fixture('cnn_epoch6.bf16.safetensors'), input);
    let appended = false;
    const onProgress = (): void => {
      if (!appended) appendFileSync(input, 'more');
      appended = true;
    };
    await assert.rejects(compressFile(input, { onProgress }), isMithrilError(/m\.safetensors: changed while being read/));
    assert.deepEqual(readdirSync(dir), ['m.safetensors']);
  });

  it('an unreadable input (a folder) gives one clear error', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'folder.safetensors'));
    await assert.rejects(compressFile(join(dir, 'folder.safetensors')), isMithrilError(/folder\.safetensors: is a directory/));
  });
});
