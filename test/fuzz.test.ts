/**
 * CI slice of the fuzzer (test/fuzz/): a fixed-seed run of every target, then every input kept in
 * test/fuzz/regressions/ replayed (each must now give a clean error or the exact original).
 * Longer runs: `node dist/test/fuzz/run.js --cases N` (see test/fuzz/run.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { corpus } from './fuzz/corpus.js';
import { count, describeFailure, emptyCounts, listRegressions, replayRegression, runCase, type RegressionNote } from './fuzz/harness.js';
import { replayInChild } from './fuzz/replay.js';
import { TARGETS, type Target } from './fuzz/targets.js';

const SEED = 20260601;
/** Cases per target: about 30 s in all on a 2-core machine (measured: 5-10 s per target). */
const SLICE: Record<Target, number> = { mth: 5000, safetensors: 4000, torch: 2500, pickle: 1500 };

await corpus();

describe(`fuzz slice (seed ${SEED})`, () => {
  for (const target of TARGETS) {
    it(`${target}: ${SLICE[target]} cases, every one a clean error or an exact round trip`, { timeout: 60_000 }, async (t) => {
      const counts = emptyCounts();
      const failures: string[] = [];
      const started = performance.now();
      for (let caseNo = 0; caseNo < SLICE[target]; caseNo++) {
        const { fuzzCase, verdict } = await runCase(target, SEED, caseNo);
        count(counts, verdict);
        if (verdict.status === 'failure') failures.push(describeFailure(fuzzCase, verdict));
      }
      t.diagnostic(
        `${counts.cases} cases: ${counts.ok} ok round trips, ${counts.cleanError} clean errors, ${counts.failures} failures; ` +
          `slowest ${counts.maxMs.toFixed(0)} ms, ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      assert.equal(failures.length, 0, `failures (reproduce: node dist/test/fuzz/run.js --target ${target} --seed ${SEED} --from CASE --cases 1):\n${failures.slice(0, 20).join('\n')}`);
    });
  }
});

describe('fuzz regressions (test/fuzz/regressions/)', () => {
  // Inputs that once hung, crashed, were slow or allocated too much replay in a child process
  // (deadline, heap limit): one that still does must fail its test, not take this process down.
  const heavy = new Set(['hang', 'crash', 'slow', 'memory']);
  for (const file of listRegressions()) {
    const note = JSON.parse(readFileSync(file.replace(/\.bin$/, '.json'), 'utf8')) as RegressionNote;
    it(basename(file), { timeout: 60_000 }, async () => {
      const { verdict } = heavy.has(note.failure ?? '') ? await replayInChild(file) : await replayRegression(file);
      assert.notEqual(
        verdict.status,
        'failure',
        `${note.target} input from ${note.corpus} (${note.mutations.join('; ')}) still fails: ${verdict.kind}: ${verdict.detail}` +
          `${note.note ? `\nnote: ${note.note}` : ''}`,
      );
    });
  }
});
