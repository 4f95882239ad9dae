/**
 * Runs cases one at a time (each awaited to the end) and judges them: the target's property
 * (targets.ts), a time bound, and a memory bound — bytes allocated by JavaScript during the case
 * (alloc.ts), and the growth of `arrayBuffers` and of the RSS — each at most
 * 64 × the input's size + 256 MiB. Failing inputs are kept under test/fuzz/regressions/.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatedBytes, installAllocationCounter, resetAllocated } from './alloc.js';
import { corpus } from './corpus.js';
import { execute, generate, isTarget, type FailureKind, type FuzzCase, type Outcome, type Target } from './targets.js';

/** test/fuzz/regressions/ in the source tree (this file runs from dist/test/fuzz/). */
export const REGRESSIONS = fileURLToPath(new URL('../../../test/fuzz/regressions/', import.meta.url));

export interface Limits {
  /** Time bound per case, in ms. */
  timeMs: number;
  /** Memory bound per case: `factor` × input bytes + `slack` bytes. */
  factor: number;
  slack: number;
}

export const DEFAULT_LIMITS: Limits = { timeMs: 2000, factor: 64, slack: 256 * 1024 * 1024 };

export interface Verdict {
  status: Outcome['status'];
  kind?: FailureKind;
  detail: string;
  ms: number;
  allocated: number;
  arrayBuffersGrowth: number;
  rssGrowth: number;
}

export interface Counts {
  cases: number;
  ok: number;
  cleanError: number;
  failures: number;
  /** Slowest case (ms) and largest allocation (bytes) seen, for the report. */
  maxMs: number;
  maxAllocated: number;
}

export const emptyCounts = (): Counts => ({ cases: 0, ok: 0, cleanError: 0, failures: 0, maxMs: 0, maxAllocated: 0 });

export function addCounts(into: Counts, more: Counts): void {
  into.cases += more.cases;
  into.ok += more.ok;
  into.cleanError += more.cleanError;
  into.failures += more.failures;
  into.maxMs = Math.max(into.maxMs, more.maxMs);
  into.maxAllocated = Math.max(into.maxAllocated, more.maxAllocated);
}

export function count(into: Counts, v: Verdict): void {
  into.cases++;
  if (v.status === 'ok') into.ok++;
  else if (v.status === 'clean-error') into.cleanError++;
  else into.failures++;
  into.maxMs = Math.max(into.maxMs, v.ms);
  into.maxAllocated = Math.max(into.maxAllocated, v.allocated);
}

const MiB = 1024 * 1024;
const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;

/** Runs one input through its target, measuring time and memory. */
export async function judge(target: Target, corpusName: string, input: Uint8Array, limits: Limits = DEFAULT_LIMITS): Promise<Verdict> {
  installAllocationCounter();
  await corpus();
  const m0 = process.memoryUsage();
  resetAllocated();
  const t0 = performance.now();
  let outcome: Outcome;
  try {
    outcome = await execute(target, corpusName, input);
  } catch (e) {
    // execute judges the library's errors itself: anything reaching here is the harness's own.
    outcome = { status: 'failure', kind: 'harness', detail: `fuzz harness error: ${e instanceof Error ? e.stack : String(e)}` };
  }
  const ms = performance.now() - t0;
  const allocated = allocatedBytes();
  const m1 = process.memoryUsage();
  const verdict: Verdict = {
    status: outcome.status,
    ...(outcome.status === 'failure' ? { kind: outcome.kind } : {}),
    detail: outcome.detail,
    ms,
    allocated,
    arrayBuffersGrowth: m1.arrayBuffers - m0.arrayBuffers,
    rssGrowth: m1.rss - m0.rss,
  };
  if (verdict.status === 'failure') return verdict;
  const bound = limits.factor * input.length + limits.slack;
  const judged = (kind: FailureKind, detail: string): Verdict => ({ ...verdict, status: 'failure', kind, detail: `${detail} (the case itself ended: ${verdict.status}: ${verdict.detail})` });
  if (ms > limits.timeMs) return judged('slow', `took ${ms.toFixed(0)} ms (bound ${limits.timeMs} ms)`);
  if (allocated > bound) return judged('memory', `allocated ${mib(allocated)} for a ${input.length}-byte input (bound ${mib(bound)})`);
  if (verdict.arrayBuffersGrowth > bound) return judged('memory', `arrayBuffers grew by ${mib(verdict.arrayBuffersGrowth)} (bound ${mib(bound)})`);
  if (verdict.rssGrowth > bound) return judged('memory', `RSS grew by ${mib(verdict.rssGrowth)} (bound ${mib(bound)})`);
  return verdict;
}

export interface CaseResult {
  fuzzCase: FuzzCase;
  verdict: Verdict;
}

/** Generates and judges case `caseNo`. */
export async function runCase(target: Target, seed: number, caseNo: number, limits: Limits = DEFAULT_LIMITS): Promise<CaseResult> {
  let fuzzCase: FuzzCase;
  try {
    fuzzCase = await generate(target, seed, caseNo);
  } catch (e) {
    const detail = `the fuzzer could not make this case: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    fuzzCase = { target, seed, caseNo, corpus: '?', mutations: ['(none: generation failed)'], input: new Uint8Array(0) };
    return { fuzzCase, verdict: { status: 'failure', kind: 'harness', detail, ms: 0, allocated: 0, arrayBuffersGrowth: 0, rssGrowth: 0 } };
  }
  return { fuzzCase, verdict: await judge(target, fuzzCase.corpus, fuzzCase.input, limits) };
}

/** One line describing a failure: its id, how it was made, and what happened. */
export function describeFailure(c: Pick<FuzzCase, 'target' | 'seed' | 'caseNo' | 'corpus' | 'mutations'>, v: Pick<Verdict, 'kind' | 'detail'>): string {
  const made = c.mutations.join('; ').replace(/\s+/g, ' ');
  return `${c.target} seed=${c.seed} case=${c.caseNo} [${c.corpus}: ${made.length > 300 ? `${made.slice(0, 300)}...` : made}] ${v.kind}: ${v.detail.replace(/\s+/g, ' ')}`;
}

// ---------------------------------------------------------------------------------------------
// Regressions: <target>-<seed>-<case>.bin with a .json note beside it.

export interface RegressionNote {
  target: Target;
  seed: number;
  case: number;
  /** The seed input the case was made from (its original, bases and wrapping come from corpus.ts). */
  corpus: string;
  /** For mth: the checkpoint the container holds, and the bases it is decoded with. */
  original?: string;
  bases?: string[];
  mutations: string[];
  failure: FailureKind | undefined;
  detail: string;
  /** A human diagnosis, added after the fact. */
  note?: string;
}

export async function saveRegression(c: FuzzCase, v: Pick<Verdict, 'kind' | 'detail'>, dir = REGRESSIONS): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const base = `${c.target}-${c.seed}-${c.caseNo}`;
  const note: RegressionNote = { target: c.target, seed: c.seed, case: c.caseNo, corpus: c.corpus, mutations: c.mutations, failure: v.kind, detail: v.detail };
  if (c.target === 'mth') {
    const seed = (await corpus()).mth.find((s) => s.name === c.corpus);
    if (seed) {
      note.original = c.corpus.replace(/(\+delta.*)?\.mth$/, '');
      note.bases = seed.baseNames;
    }
  }
  writeFileSync(join(dir, `${base}.bin`), c.input);
  writeFileSync(join(dir, `${base}.json`), `${JSON.stringify(note, null, 2)}\n`);
  return join(dir, `${base}.bin`);
}

/** Every kept regression: the .bin files that have a .json note. */
export function listRegressions(dir = REGRESSIONS): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.bin') && names.includes(n.replace(/\.bin$/, '.json'))).sort().map((n) => join(dir, n));
}

/** Replays a kept input: it must now give a clean error or the exact original. */
export async function replayRegression(binPath: string, limits: Limits = DEFAULT_LIMITS): Promise<{ note: RegressionNote; verdict: Verdict }> {
  const note = JSON.parse(readFileSync(binPath.replace(/\.bin$/, '.json'), 'utf8')) as RegressionNote;
  if (!isTarget(note.target)) throw new Error(`${binPath}: unknown target ${JSON.stringify(note.target)}`);
  const input = new Uint8Array(readFileSync(binPath));
  return { note, verdict: await judge(note.target, note.corpus, input, limits) };
}
