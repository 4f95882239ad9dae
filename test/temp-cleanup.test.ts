import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

describe('test hygiene', () => {
  it('a test file that makes temp folders leaves none behind', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mithril-cleanup-'));
    try {
      // roundtrip.test.js compresses and restores real checkpoints in temp folders.
      // Without NODE_TEST_CONTEXT (set for this file by the runner) the child reports as a top-level run.
      const { NODE_TEST_CONTEXT: _, ...env } = process.env;
      const run = spawnSync(process.execPath, ['--test', fileURLToPath(new URL('roundtrip.test.js', import.meta.url))], { env: { ...env, TMPDIR: tmp }, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stdout);
      assert.match(run.stdout, /^# pass [1-9]/m);
      assert.deepEqual(readdirSync(tmp), []);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
