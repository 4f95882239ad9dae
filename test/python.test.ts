import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CLI } from './helpers.js';

/** The repo root (this file runs from dist/test/). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = '/usr/bin/python3';

describe('python package (python/, mithril_checkpoint)', () => {
  const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  // CI (.ci/run) installs python3-torch, so there a missing torch fails the test instead of skipping it.
  const skip = hasTorch || process.env.CI ? false : 'torch is not installed in /usr/bin/python3 (apt-get install python3-torch to run this check)';
  it('saves, loads and lists a training run through the CLI (python/tests)', { skip, timeout: 300_000 }, () => {
    assert.ok(hasTorch, 'torch is not installed in /usr/bin/python3: apt-get install python3-torch');
    const run = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', 'python/tests', '-v'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, MITHRIL_BIN: `"${process.execPath}" "${CLI}"`, PYTHONDONTWRITEBYTECODE: '1' },
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.doesNotMatch(run.stderr, /skipped/, run.stderr);
  });
});
