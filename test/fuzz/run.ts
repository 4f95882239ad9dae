/**
 * The fuzz runner:
 *
 *   node dist/test/fuzz/run.js [--cases N] [--seed S] [--target mth|safetensors|torch|pickle|all]
 *                              [--from C] [--jobs J] [--time-limit MS] [--hang-limit MS]
 *                              [--keep K] [--report FILE] [--no-save]
 *
 * Runs cases [C, C + N) of seed S for each target (N per target) in J worker processes (default 1),
 * prints the counts per target (cases, ok round trips, clean errors, failures) and one line per
 * failure, and keeps each failing input as test/fuzz/regressions/<target>-<seed>-<case>.bin with a
 * .json note (at most K per target and kind of failure, default 3; all are listed in the log).
 * A case is a failure if it breaks its target's property (see targets.ts), takes longer than the
 * time limit (default 2000 ms), allocates more than 64 × its input + 256 MiB, hangs (no progress
 * for the hang limit, default 30 s: the worker is killed) or kills its worker. Exit status 1 if any
 * case failed, 2 on bad arguments.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildJob, ChildMessage } from './child.js';
import { addCounts, DEFAULT_LIMITS, describeFailure, emptyCounts, REGRESSIONS, saveRegression, type Counts, type Limits } from './harness.js';
import { generate, isTarget, TARGETS, type FailureKind, type FuzzCase, type Target } from './targets.js';

interface Options {
  cases: number;
  seed: number;
  from: number;
  targets: Target[];
  jobs: number;
  limits: Limits;
  hangMs: number;
  keep: number;
  save: boolean;
  report?: string;
}

const USAGE = 'usage: node dist/test/fuzz/run.js [--cases N] [--seed S] [--target mth|safetensors|torch|pickle|all] [--from C] [--jobs J] [--time-limit MS] [--hang-limit MS] [--keep K] [--report FILE] [--no-save]';

function parseArgs(argv: string[]): Options {
  const o: Options = { cases: 1000, seed: 1, from: 0, targets: [...TARGETS], jobs: 1, limits: { ...DEFAULT_LIMITS }, hangMs: 30_000, keep: 3, save: true };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < min) usage(`${flag} needs an integer ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    switch (a) {
      case '--cases': o.cases = int(a, v, 0); i++; break;
      case '--seed': o.seed = int(a, v, 0); i++; break;
      case '--from': o.from = int(a, v, 0); i++; break;
      case '--jobs': o.jobs = int(a, v, 1); i++; break;
      case '--time-limit': o.limits.timeMs = int(a, v, 1); i++; break;
      case '--hang-limit': o.hangMs = int(a, v, 1000); i++; break;
      case '--keep': o.keep = int(a, v, 0); i++; break;
      case '--report': if (!v) usage('--report needs a file'); o.report = v; i++; break;
      case '--no-save': o.save = false; break;
      case '--target':
        if (v === 'all') o.targets = [...TARGETS];
        else if (v && v.split(',').every(isTarget)) o.targets = v.split(',') as Target[];
        else usage(`--target must be one of ${TARGETS.join(', ')} or all`);
        i++;
        break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  return o;
}

function usage(problem: string): never {
  console.error(`fuzz: ${problem}\n${USAGE}`);
  process.exit(2);
}

interface Unit {
  target: Target;
  from: number;
  to: number;
  skip: number[];
}

interface FailureRecord {
  target: Target;
  caseNo: number;
  kind: FailureKind;
  line: string;
  saved?: string;
}

async function main(o: Options): Promise<number> {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'mithril-fuzz-'));
  // The workers run a copy of dist/ taken now: a build during a long run (others share the tree)
  // would otherwise change the code under test, and the cases, from one work unit to the next.
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  cpSync(join(root, 'dist'), join(work, 'dist'), { recursive: true });
  for (const link of ['node_modules', 'fixtures', 'package.json']) symlinkSync(join(root, link), join(work, link));
  const childPath = join(work, 'dist', 'test', 'fuzz', 'child.js');
  const log = join(tmpdir(), `mithril-fuzz-seed${o.seed}-${process.pid}.log`);
  writeFileSync(log, `fuzz seed=${o.seed} from=${o.from} cases=${o.cases} targets=${o.targets.join(',')}\n`);

  // Work units of at most 5000 cases, spread over the workers.
  const units: Unit[] = [];
  const unitSize = Math.max(100, Math.min(5000, Math.ceil(o.cases / o.jobs)));
  for (const target of o.targets) {
    for (let at = o.from; at < o.from + o.cases; at += unitSize) units.push({ target, from: at, to: Math.min(o.from + o.cases, at + unitSize), skip: [] });
  }
  const counts = new Map<Target, Counts>(o.targets.map((t) => [t, emptyCounts()]));
  const failures: FailureRecord[] = [];
  const seenFailures = new Set<string>();
  /** Per kind of failure, the inputs kept so far (the smallest ones win). */
  const kept = new Map<string, { size: number; path: string; record: FailureRecord }[]>();
  const printedPerSignature = new Map<string, number>();

  // What makes failures "the same": the target, the kind, the message without names and numbers,
  // and for hangs, crashes, slow cases and memory, how the input was made.
  const signature = (c: FuzzCase, kind: FailureKind, detail: string): string => {
    const norm = (x: string): string => x.replace(/"(?:[^"\\]|\\.)*"/g, '…').replace(/[0-9a-f]{16}/g, '#').replace(/\d+/g, '#');
    const heavy = ['hang', 'crash', 'slow', 'memory'].includes(kind);
    let what = heavy ? detail.split(' (the case itself ended')[0]! : detail;
    const multiLine = /^(\w+) with a line break: (".*")$/s.exec(what);
    if (multiLine) {
      try {
        what = `${multiLine[1]} with a line break: ${JSON.parse(multiLine[2]!) as string}`;
      } catch {
        // keep it as it is
      }
    }
    const how = heavy ? ` [${norm(c.mutations.map((m) => m.split(' ').slice(0, 3).join(' ')).join('; ')).slice(0, 100)}]` : '';
    return `${c.target}|${kind}|${norm(what).slice(0, 140)}${how}`;
  };

  // One at a time: choosing which inputs to keep reads and changes `kept`.
  let recording = Promise.resolve();
  const recordFailure = (c: FuzzCase, kind: FailureKind, detail: string): Promise<void> => (recording = recording.then(() => record(c, kind, detail)));
  const record = async (c: FuzzCase, kind: FailureKind, detail: string): Promise<void> => {
    const key = `${c.target}:${c.caseNo}`;
    if (seenFailures.has(key)) return;
    seenFailures.add(key);
    const line = describeFailure(c, { kind, detail });
    const sig = signature(c, kind, detail);
    const entry: FailureRecord = { target: c.target, caseNo: c.caseNo, kind, line };
    failures.push(entry);
    if (o.save && o.keep > 0 && c.input.length > 0) {
      const list = kept.get(sig) ?? [];
      kept.set(sig, list);
      const largest = list.reduce<(typeof list)[number] | undefined>((a, b) => (!a || b.size > a.size ? b : a), undefined);
      if (list.length < o.keep || (largest && c.input.length < largest.size)) {
        if (list.length >= o.keep && largest) {
          rmSync(largest.path, { force: true });
          rmSync(largest.path.replace(/\.bin$/, '.json'), { force: true });
          delete largest.record.saved;
          list.splice(list.indexOf(largest), 1);
        }
        entry.saved = await saveRegression(c, { kind, detail });
        list.push({ size: c.input.length, path: entry.saved, record: entry });
      }
    }
    appendFileSync(log, `FAIL ${line}\n`);
    const printed = printedPerSignature.get(sig) ?? 0;
    printedPerSignature.set(sig, printed + 1);
    if (printed < 20) console.log(`FAIL ${line}`);
    else if (printed === 20) console.log(`     (more failures like the one above: see ${log})`);
  };

  // Hung or dead workers cannot send their input: it is made again here (cases are deterministic).
  const regenerate = async (target: Target, caseNo: number): Promise<FuzzCase> => {
    try {
      return await generate(target, o.seed, caseNo);
    } catch (e) {
      return { target, seed: o.seed, caseNo, corpus: '?', mutations: [`(could not be made again: ${String(e).slice(0, 200)})`], input: new Uint8Array(0) };
    }
  };

  const runUnit = (unit: Unit, slot: number): Promise<void> =>
    new Promise((resolve) => {
      const statusFile = join(work, `status-${slot}-${unit.target}-${unit.from}`);
      writeFileSync(statusFile, new Uint8Array(16));
      const job: ChildJob = { target: unit.target, seed: o.seed, from: unit.from, to: unit.to, skip: unit.skip, statusFile, limits: o.limits };
      const child: ChildProcess = fork(childPath, ['--fuzz-child', JSON.stringify(job)], {
        serialization: 'advanced',
        execArgv: ['--max-old-space-size=2048'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let next = unit.from;
      let done = false;
      let hung: number | undefined;
      let crashReported: number | undefined;
      const pending: Promise<void>[] = [];
      const status = (): { caseNo: number; since: number } => {
        const b = readFileSync(statusFile);
        const f = new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + 16));
        return { caseNo: f[0]!, since: f[1]! };
      };
      const watchdog = setInterval(() => {
        const s = status();
        if (s.since > 0 && Date.now() - s.since > o.hangMs && hung === undefined) {
          hung = s.caseNo;
          child.kill('SIGKILL');
        }
      }, 500);
      child.on('message', (m: ChildMessage) => {
        const c = counts.get(unit.target)!;
        if (m.type === 'progress' || m.type === 'done') {
          addCounts(c, m.counts);
          next = m.next;
          if (m.type === 'done') done = true;
        } else if (m.type === 'failure') {
          pending.push(recordFailure({ target: unit.target, seed: o.seed, caseNo: m.caseNo, corpus: m.corpus, mutations: m.mutations, input: m.input }, m.kind, m.detail));
        } else if (m.type === 'crash') {
          crashReported = m.caseNo;
          pending.push(
            regenerate(unit.target, m.caseNo).then((fc) => recordFailure(fc, 'crash', m.detail)),
          );
        }
      });
      child.on('exit', (code, signal) => {
        clearInterval(watchdog);
        void (async () => {
          await Promise.all(pending);
          if (!done) {
            const culprit = hung ?? crashReported ?? status().caseNo;
            const c = counts.get(unit.target)!;
            if (culprit >= next && culprit < unit.to) {
              c.cases++;
              c.failures++;
              if (crashReported === undefined) {
                const fc = await regenerate(unit.target, culprit);
                const detail = hung !== undefined ? `no progress for ${o.hangMs} ms: worker killed` : `worker died (exit code ${code}, signal ${signal})`;
                await recordFailure(fc, hung !== undefined ? 'hang' : 'crash', detail);
              }
              if (next < unit.to) queue.push({ ...unit, from: next, skip: [...unit.skip, culprit] });
            } else if (next < unit.to) {
              // Died outside any case (e.g. while starting): retry the rest once, skipping one case so it cannot loop.
              queue.push({ ...unit, from: next, skip: [...unit.skip, next] });
              console.log(`fuzz: a ${unit.target} worker died outside a case (code ${code}, signal ${signal}); case ${next} skipped`);
            }
          }
          resolve();
        })();
      });
    });

  const queue = [...units];
  const total = o.cases * o.targets.length;
  const progress = setInterval(() => {
    const done = [...counts.values()].reduce((n, c) => n + c.cases, 0);
    const s = (Date.now() - started) / 1000;
    process.stderr.write(`fuzz: ${done}/${total} cases, ${failures.length} failures, ${(done / s).toFixed(0)} cases/s, ${s.toFixed(0)} s\n`);
  }, 30_000);

  const workers = Array.from({ length: o.jobs }, async (_, slot) => {
    for (let unit = queue.shift(); unit; unit = queue.shift()) await runUnit(unit, slot);
  });
  await Promise.all(workers);
  // A worker may have requeued a unit after the others went idle.
  while (queue.length) await runUnit(queue.shift()!, 0);
  clearInterval(progress);
  rmSync(work, { recursive: true, force: true });

  const seconds = (Date.now() - started) / 1000;
  console.log(`\nfuzz seed ${o.seed}, cases ${o.from}..${o.from + o.cases - 1} per target, ${o.jobs} worker(s), ${seconds.toFixed(1)} s`);
  console.log('target        cases   ok-roundtrip  clean-error  failures  slowest-ms  max-alloc-MiB');
  for (const [t, c] of counts) {
    console.log(`${t.padEnd(12)} ${String(c.cases).padStart(6)}  ${String(c.ok).padStart(13)}  ${String(c.cleanError).padStart(11)}  ${String(c.failures).padStart(8)}  ${c.maxMs.toFixed(0).padStart(10)}  ${(c.maxAllocated / 2 ** 20).toFixed(1).padStart(13)}`);
  }
  if (failures.length) {
    const saved = failures.filter((f) => f.saved);
    console.log(`\n${failures.length} failure(s) of ${kept.size || printedPerSignature.size} kind(s); every one is listed in ${log}`);
    for (const f of saved) console.log(`kept ${f.saved}: ${f.kind} (${f.target} case ${f.caseNo})`);
    if (o.save) console.log(`(at most ${o.keep} inputs kept per kind of failure, the smallest, in ${REGRESSIONS})`);
  } else {
    console.log('\nno failures');
  }
  if (o.report) {
    writeFileSync(o.report, `${JSON.stringify({ seed: o.seed, from: o.from, cases: o.cases, jobs: o.jobs, seconds, counts: Object.fromEntries(counts), failures }, null, 2)}\n`);
  }
  return failures.length ? 1 : 0;
}

if (!process.env.NODE_TEST_CONTEXT) {
  process.exitCode = await main(parseArgs(process.argv.slice(2)));
}
