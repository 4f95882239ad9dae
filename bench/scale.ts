/**
 * `npm run bench -- --scale [--big-size GiB] [--runs N]`: 1 against 2 threads, in memory and file
 * to file, with `zstd` one thread each, `cp` and `dd conv=fsync` in the same run, every figure
 * interleaved over N runs (min and median): other processes share the cores, so only figures of
 * the same minute compare. CPU seconds are the process's (all threads): under contention they
 * show whether the work itself scales when the wall clock cannot.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { compressBuffer, decompressBuffer, decompressInto } from '../src/index.js';
import { MiB } from './measure.js';

const { CCtx, DCtx, compressBound } = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;

interface Sample {
  seconds: number;
  cpuSeconds: number;
  faults: number;
}

type Runs = Map<string, Sample[]>;

function record(runs: Runs, what: string, sample: Sample): void {
  runs.set(what, [...(runs.get(what) ?? []), sample]);
}

/** Times `fn` in this process: wall and CPU seconds (all threads), and page faults. */
async function inProcess(fn: () => unknown): Promise<Sample> {
  const [cpu, faults, start] = [process.cpuUsage(), process.resourceUsage().minorPageFault, performance.now()];
  await fn();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - start) / 1000, cpuSeconds: (used.user + used.system) / 1e6, faults: process.resourceUsage().minorPageFault - faults };
}

/** Times a command: wall seconds, and its CPU seconds and page faults from GNU time. */
function command(file: string, args: string[]): Sample {
  const start = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S %R', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(`${file} ${args.join(' ')} failed: ${run.stderr.trim().split('\n').pop()}`);
  const [user, system, faults] = run.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds, cpuSeconds: user! + system!, faults: faults! };
}

/**
 * The bound on what two threads can give here: zstd-napi decompressing a half of the file in each
 * of two workers against one worker doing both halves, memory written before, no messages per chunk.
 */
async function zstdHalves(input: Uint8Array): Promise<(workers: 1 | 2) => Promise<unknown>> {
  const half = input.length >> 1;
  const jobs = [0, 1].map((k) => {
    const frame = new Uint8Array(new SharedArrayBuffer(compressBound(half)));
    const length = new CCtx().compress(frame, input.subarray(k * half, (k + 1) * half), 1);
    return { frame: frame.subarray(0, length), out: new Uint8Array(new SharedArrayBuffer(half)).fill(1) };
  });
  const binding = createRequire(import.meta.url).resolve('zstd-napi/binding.js');
  const code = `const { parentPort } = require('node:worker_threads'); const d = new (require(${JSON.stringify(binding)}).DCtx)();
    parentPort.on('message', (jobs) => parentPort.postMessage(jobs.map(({ frame, out }) => d.decompress(out, frame))));`;
  const workers = [0, 1].map(() => new Worker(code, { eval: true }));
  for (const worker of workers) worker.unref();
  const run = (worker: Worker, part: typeof jobs): Promise<unknown> => new Promise((resolve) => (worker.once('message', resolve), worker.postMessage(part)));
  return (count) => (count === 1 ? run(workers[0]!, jobs) : Promise.all(jobs.map((job, k) => run(workers[k]!, [job]))));
}

/** In memory, in this process: the library's own steady state (workers and buffers reused from call to call). */
async function inMemory(file: string, runs: number): Promise<Runs> {
  const input = readFileSync(file);
  const out: Runs = new Map();
  const cctx = new CCtx();
  const dctx = new DCtx();
  const reused = new Uint8Array(new SharedArrayBuffer(input.length)).fill(1);
  const frame = new Uint8Array(compressBound(input.length)).fill(1);
  const frameLength = cctx.compress(frame, input, 1);
  const halves = await zstdHalves(input);
  let sharedPacked: Uint8Array | undefined;
  for (let run = 0; run <= runs; run++) {
    const samples: [string, Sample][] = [];
    for (const threads of [1, 2]) {
      let packed: Uint8Array = new Uint8Array(0);
      samples.push([`compressBuffer -T ${threads}`, await inProcess(async () => (packed = await compressBuffer(input, { threads, workerMinBytes: 1 })))]);
      samples.push([`decompressInto, reused memory -T ${threads}`, await inProcess(() => decompressInto(packed, reused, { threads, workerMinBytes: 1 }))]);
      // Any number of threads makes the same container: it is copied into shared memory once.
      if (!sharedPacked) {
        sharedPacked = new Uint8Array(new SharedArrayBuffer(packed.length));
        sharedPacked.set(packed);
      }
      const sharedContainer = sharedPacked;
      samples.push([`decompressInto, reused memory, container in shared memory -T ${threads}`, await inProcess(() => decompressInto(sharedContainer, reused, { threads, workerMinBytes: 1 }))]);
      if (threads === 1) samples.push(['decompressBuffer, fresh memory -T 1', await inProcess(() => decompressBuffer(packed))]);
    }
    samples.push(['zstd-napi level 1 compress, reused memory', await inProcess(() => cctx.compress(frame, input, 1))]);
    samples.push(['zstd-napi level 1 compress, fresh memory', await inProcess(() => cctx.compress(new Uint8Array(compressBound(input.length)), input, 1))]);
    samples.push(['zstd-napi decompress, reused memory', await inProcess(() => dctx.decompress(reused, frame.subarray(0, frameLength)))]);
    samples.push(['zstd-napi decompress, fresh memory', await inProcess(() => dctx.decompress(new Uint8Array(input.length), frame.subarray(0, frameLength)))]);
    samples.push(['bound: zstd-napi decompress in 1 worker', await inProcess(() => halves(1))]);
    samples.push(['bound: zstd-napi decompress in 2 workers, a half each', await inProcess(() => halves(2))]);
    // The first round warms up (modules, workers, buffers) and is not kept.
    if (run > 0) for (const [what, sample] of samples) record(out, what, sample);
  }
  return out;
}

const NODE_START = 'node -e 0';
const sortedSeconds = (samples: Sample[]): number[] => samples.map((s) => s.seconds).sort((a, b) => a - b);

/** The command as users run it (the bundle, from V8's code cache). */
const CLI = fileURLToPath(new URL('../src/bundle/main.js', import.meta.url));

/** File to file, each command in its own process, page cache warm, outputs beside the input. */
function fileToFile(file: string, runs: number): Runs {
  const [packed, restored, zst] = [`${file}.scale.mth`, `${file}.scale.out`, `${file}.scale.zst`];
  const out: Runs = new Map();
  // Each output is new, as zstd's are: replacing a file would sync it first (syncBeforeRename), which zstd -f never does.
  const node = (mode: string, input: string, output: string, threads: number): Sample => {
    rmSync(output, { force: true });
    return command(process.execPath, [CLI, mode, '-q', '-T', String(threads), input, '-o', output]);
  };
  try {
    for (let run = 0; run <= runs; run++) {
      const samples: [string, Sample][] = [
        ['cp', command('cp', [file, restored])],
        ['dd conv=fsync', command('dd', [`if=${file}`, `of=${restored}`, 'bs=16M', 'conv=fsync', 'status=none'])],
        ['zstd -1 -T1', command('zstd', ['-1', '-T1', '-q', '-f', file, '-o', zst])],
        ['zstd -d -T1', command('zstd', ['-d', '-T1', '-q', '-f', zst, '-o', restored])],
        // Node's own start, which every mithril command pays (NODE_EXTRA_CA_CERTS adds ~40 ms here: docs/DESIGN.md, "Start-up").
        [NODE_START, command(process.execPath, ['-e', '0'])],
      ];
      for (const threads of [1, 2]) {
        samples.push([`mithril compress -T ${threads}`, node('compress', file, packed, threads)]);
        samples.push([`mithril decompress -T ${threads}`, node('decompress', packed, restored, threads)]);
      }
      if (statSync(restored).size !== statSync(file).size) throw new Error('restored size differs');
      if (run > 0) for (const [what, sample] of samples) record(out, what, sample);
    }
  } finally {
    for (const path of [packed, restored, zst]) rmSync(path, { force: true });
  }
  return out;
}

export async function measureScale(file: string, runs: number): Promise<string> {
  const size = statSync(file).size;
  const all = [...(await inMemory(file, runs)), ...fileToFile(file, runs)];
  const rows = all.filter(([what]) => what !== NODE_START);
  const nodeStart = sortedSeconds(all.find(([what]) => what === NODE_START)![1]);
  const sorted = (values: number[]): number[] => [...values].sort((a, b) => a - b);
  const median = (values: number[]): number => sorted(values)[values.length >> 1]!;
  const speed = (seconds: number): number => Math.round(size / MiB / seconds);
  const best = new Map(rows.map(([what, samples]) => [what, speed(sortedSeconds(samples)[0]!)]));
  const ratio = (a: string, b: string): string => (best.get(a)! / best.get(b)!).toFixed(2);
  return [
    `${file} (${(size / MiB).toFixed(0)} MiB), ${runs} interleaved runs after one warm-up; NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}`,
    '',
    '| what | MiB/s max | MiB/s median | CPU s median | page faults median |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([what, samples]) => {
      const seconds = sortedSeconds(samples);
      return `| ${what} | ${speed(seconds[0]!)} | ${speed(median(seconds))} | ${median(samples.map((s) => s.cpuSeconds)).toFixed(2)} | ${median(samples.map((s) => s.faults))} |`;
    }),
    '',
    `2 threads / 1, best runs: in memory compress ${ratio('compressBuffer -T 2', 'compressBuffer -T 1')}, decompress ${ratio('decompressInto, reused memory -T 2', 'decompressInto, reused memory -T 1')} ` +
      `(container in shared memory ${ratio('decompressInto, reused memory, container in shared memory -T 2', 'decompressInto, reused memory, container in shared memory -T 1')}); ` +
      `file to file compress ${ratio('mithril compress -T 2', 'mithril compress -T 1')}, decompress ${ratio('mithril decompress -T 2', 'mithril decompress -T 1')}; ` +
      `bound, zstd-napi alone ${ratio('bound: zstd-napi decompress in 2 workers, a half each', 'bound: zstd-napi decompress in 1 worker')}`,
    `${NODE_START} (Node's start, in every mithril command): min ${Math.round(nodeStart[0]! * 1000)} ms, median ${Math.round(nodeStart[nodeStart.length >> 1]! * 1000)} ms`,
    `mithril -T 1 / zstd -T1, file to file: compress ${ratio('mithril compress -T 1', 'zstd -1 -T1')}, decompress ${ratio('mithril decompress -T 1', 'zstd -d -T1')}; ` +
      `in memory (fresh / fresh, reused / reused): compress ${ratio('compressBuffer -T 1', 'zstd-napi level 1 compress, fresh memory')}, ` +
      `decompress ${ratio('decompressBuffer, fresh memory -T 1', 'zstd-napi decompress, fresh memory')} / ${ratio('decompressInto, reused memory -T 1', 'zstd-napi decompress, reused memory')}`,
  ].join('\n');
}
