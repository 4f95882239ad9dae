/**
 * A fuzz worker process (forked by run.ts): runs cases [from, to) of one target and seed, reports
 * counts and failures over IPC, and writes the case it is on (and when it started it) to a status
 * file, so that the parent can name the case if this process hangs or dies.
 *
 * Does nothing unless forked with `--fuzz-child` (node --test runs every file under dist/test/).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { addCounts, count, emptyCounts, runCase, type Counts, type Limits } from './harness.js';
import type { FailureKind, Target } from './targets.js';

export interface ChildJob {
  target: Target;
  seed: number;
  from: number;
  to: number;
  /** Cases not to run (they hung or crashed a previous worker). */
  skip: number[];
  statusFile: string;
  limits: Limits;
}

export type ChildMessage =
  | { type: 'progress'; next: number; counts: Counts }
  | { type: 'failure'; caseNo: number; corpus: string; mutations: string[]; kind: FailureKind; detail: string; input: Uint8Array }
  | { type: 'crash'; caseNo: number; detail: string }
  | { type: 'done'; next: number; counts: Counts };

async function main(job: ChildJob): Promise<void> {
  const send = (m: ChildMessage): Promise<void> => new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
  const status = openSync(job.statusFile, 'w');
  const record = new Float64Array(2);
  let current = -1;
  const crashed = (e: unknown): void => {
    const detail = e instanceof Error ? `${e.name}: ${e.message}`.replace(/\s+/g, ' ') : String(e);
    process.send!({ type: 'crash', caseNo: current, detail: `uncaught in the worker: ${detail}` } satisfies ChildMessage, undefined, {}, () => process.exit(70));
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);

  const skip = new Set(job.skip);
  let counts = emptyCounts();
  let lastReport = performance.now();
  for (let caseNo = job.from; caseNo < job.to; caseNo++) {
    if (skip.has(caseNo)) continue;
    current = caseNo;
    record[0] = caseNo;
    record[1] = Date.now();
    writeSync(status, new Uint8Array(record.buffer), 0, 16, 0);
    const { fuzzCase, verdict } = await runCase(job.target, job.seed, caseNo, job.limits);
    count(counts, verdict);
    if (verdict.status === 'failure') {
      await send({ type: 'failure', caseNo, corpus: fuzzCase.corpus, mutations: fuzzCase.mutations, kind: verdict.kind!, detail: verdict.detail, input: fuzzCase.input });
    }
    if (counts.cases >= 200 || performance.now() - lastReport > 2000) {
      await send({ type: 'progress', next: caseNo + 1, counts });
      counts = emptyCounts();
      lastReport = performance.now();
    }
  }
  closeSync(status);
  const total = emptyCounts();
  addCounts(total, counts);
  await send({ type: 'done', next: job.to, counts: total });
  process.disconnect();
}

if (process.argv[2] === '--fuzz-child' && process.send && !process.env.NODE_TEST_CONTEXT) {
  await main(JSON.parse(process.argv[3]!) as ChildJob);
}
