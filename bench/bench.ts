/**
 * Benchmark: `npm run bench [-- [--json] files…]`.
 *
 * Each file is measured in its own child process (`--one <file>`) so peak RSS is per file; so is
 * each delta chain of the shared fixtures (`--delta-one <n>`), run by default or with `--delta`.
 * `--big [--big-size GiB]` instead builds (once, outside the repo) multi-GiB files from the real
 * tensors and measures mithril end to end with 1 and all threads against the zstd CLI.
 * `--s3 [--big-size GiB]` builds such a file (default 0.5 GiB) and compares file→file with file→s3
 * and s3→file against s3rver on loopback in the same run, plus the bytes `info` and `extract` fetch.
 * `--scale [--big-size GiB] [--runs N]` measures 1 against 2 threads on such a file (1 GiB by
 * default), in memory and file to file, beside zstd, cp and dd conv=fsync (bench/scale.ts).
 * The child times mithril file→file compress and decompress (warm-up, then best of 3), checks the
 * round trip is byte-identical, then the codec alone buffer to buffer, then whole-file single-frame
 * zstd -1 and -3 on the same bytes. Peak RSS is that of the file-to-file runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { defaultThreads } from '../src/parallel/executor.js';
import { bigFile, bigMarkdown, measureBig, runBigOne } from './big.js';
import { measureS3 } from './s3.js';
import { deltaCases, deltaMarkdown, measureDelta, type DeltaResult } from './delta.js';
import { measureScale } from './scale.js';
import { historyCases, historyMarkdown, measureHistoryAdds, restoreDeepest, type HistoryResult } from './history.js';
import { bestTime, measureMithril, measureMithrilInMemory, MiB, speed, type Codec, type FileCodec } from './measure.js';

const { CCtx, DCtx, compressBound } = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;


interface Result {
  file: string;
  size: number;
  mithril: FileCodec;
  /** The codec alone, buffer to buffer: no file reads, writes or fsync. */
  mithrilInMemory: Codec;
  zstd1: Codec;
  zstd3: Codec;
}

async function measureZstd(input: Buffer, level: number): Promise<Codec> {
  const cctx = new CCtx();
  const dctx = new DCtx();
  const packed = new Uint8Array(compressBound(input.length));
  const restored = new Uint8Array(input.length);
  let packedSize = 0;
  const compressSeconds = await bestTime(() => (packedSize = cctx.compress(packed, input, level)));
  const frame = packed.subarray(0, packedSize);
  const decompressSeconds = await bestTime(() => dctx.decompress(restored, frame));
  if (Buffer.compare(input, restored) !== 0) throw new Error(`zstd -${level} round trip is not byte-identical`);
  return { ratio: input.length / packedSize, compressMiBs: speed(input.length, compressSeconds), decompressMiBs: speed(input.length, decompressSeconds) };
}

/** Child side: measures one file and writes its JSON result to stdout. */
async function runOne(path: string, name: string): Promise<void> {
  const size = statSync(path).size;
  const mithril = await measureMithril(path, size, []);
  const input = readFileSync(path);
  const result: Result = { file: name, size, mithril, mithrilInMemory: await measureMithrilInMemory(input), zstd1: await measureZstd(input, 1), zstd3: await measureZstd(input, 3) };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function findCheckpoints(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((entry) => entry.endsWith('.safetensors') || entry.endsWith('.pt'))
    .map((entry) => join(dir, entry))
    .filter((path) => statSync(path).isFile())
    .sort();
}

/** Parent side: runs `args` in a child of this script and returns its JSON; a failure is one line naming `name`. */
function runChild<T>(args: string[], name: string): T {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (child.status !== 0) {
    const reason = child.stderr.trim().split('\n').pop()?.replace(/^bench: /, '') || (child.signal ?? `exit code ${child.status}`);
    throw new Error(`${name}: benchmark failed: ${reason}`);
  }
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as T;
}

function markdown(results: Result[]): string {
  const f4 = (n: number): string => n.toFixed(4);
  const int = (n: number): string => Math.round(n).toString();
  const rows = [
    '| file | size MiB | mithril ratio | mithril file→file comp / decomp MiB/s | mithril in memory comp / decomp MiB/s | peak RSS MiB | zstd -1 ratio | zstd -1 comp / decomp MiB/s | zstd -3 ratio | zstd -3 comp / decomp MiB/s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const { mithril: m, mithrilInMemory: mm, zstd1: z1, zstd3: z3 } = r;
    rows.push(
      `| ${r.file} | ${(r.size / MiB).toFixed(2)} | ${f4(m.ratio)} | ${int(m.compressMiBs)} / ${int(m.decompressMiBs)} | ${int(mm.compressMiBs)} / ${int(mm.decompressMiBs)} | ${int(m.peakRssMiB)} ` +
        `| ${f4(z1.ratio)} | ${int(z1.compressMiBs)} / ${int(z1.decompressMiBs)} | ${f4(z3.ratio)} | ${int(z3.compressMiBs)} / ${int(z3.decompressMiBs)} |`,
    );
  }
  return rows.join('\n');
}

/** Path relative to the fixtures root, else to the working directory, else absolute. */
function displayName(root: string, path: string): string {
  for (const base of [root, process.cwd()]) {
    const name = relative(base, path);
    if (!name.startsWith('..') && !isAbsolute(name)) return name;
  }
  return path;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(args: string[]): Promise<void> {
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  const shared = resolve(repo, '../shared/fixtures');
  const one = flag(args, '--one');
  if (one !== undefined) return runOne(one, flag(args, '--name') ?? one);
  const bigOne = args.indexOf('--big-one');
  if (bigOne >= 0) {
    const [mode, input, output, threads] = args.slice(bigOne + 1);
    return runBigOne(mode!, input!, output!, Number(threads));
  }
  const machine = () => `node ${process.version} · ${cpus()[0]?.model ?? 'unknown CPU'} · ${cpus().length} cores · ${new Date().toISOString()}\n`;
  const bf16Source = existsSync(shared) ? join(shared, 'gpt/gpt_step500.bf16.safetensors') : join(repo, 'fixtures/cnn_epoch6.bf16.safetensors');
  if (args.includes('--s3')) {
    const file = await bigFile(bf16Source, Number(flag(args, '--big-size') ?? 0.5));
    process.stdout.write(machine() + '\n' + (await measureS3(file, fileURLToPath(import.meta.url), defaultThreads())) + '\n');
    return;
  }
  if (args.includes('--scale')) {
    const file = await bigFile(bf16Source, Number(flag(args, '--big-size') ?? 1));
    process.stdout.write(machine() + '\n' + (await measureScale(file, Number(flag(args, '--runs') ?? 5))) + '\n');
    return;
  }
  if (args.includes('--big')) {
    const gib = Number(flag(args, '--big-size') ?? 2);
    const sources = existsSync(shared)
      ? [join(shared, 'gpt/gpt_step500.bf16.safetensors'), join(shared, 'gpt/gpt_step500.fp32.safetensors')]
      : [join(repo, 'fixtures/cnn_epoch6.bf16.safetensors'), join(repo, 'fixtures/cnn_epoch6.fp32.safetensors')];
    process.stdout.write(machine());
    for (const source of sources) {
      const file = (await bigFile(source, gib));
      process.stdout.write('\n' + bigMarkdown(file, measureBig(file, fileURLToPath(import.meta.url), defaultThreads())) + '\n');
    }
    return;
  }
  const historyOne = flag(args, '--history-one');
  if (historyOne !== undefined) {
    process.stdout.write(JSON.stringify(await measureHistoryAdds(historyCases(shared)[Number(historyOne)]!)) + '\n');
    return;
  }
  const restoreOne = flag(args, '--history-restore');
  if (restoreOne !== undefined) {
    process.stdout.write(JSON.stringify(await restoreDeepest(restoreOne)) + '\n');
    return;
  }
  const deltaOne = flag(args, '--delta-one');
  if (deltaOne !== undefined) {
    process.stdout.write(JSON.stringify(await measureDelta(deltaCases(shared)[Number(deltaOne)]!)) + '\n');
    return;
  }

  const root = existsSync(shared) ? shared : join(repo, 'fixtures');
  const given = args.filter((arg) => !arg.startsWith('--'));
  const files = given.length > 0 ? given.map((file) => resolve(file)) : findCheckpoints(root);
  if (files.length === 0) throw new Error(`no .safetensors or .pt files found under ${root}`);

  const results = files.map((path) => runChild<Result>(['--one', path, '--name', displayName(root, path)], displayName(root, path)));
  // The delta chains need the shared fixtures; they run by default or with --delta.
  const cases = existsSync(shared) && (given.length === 0 || args.includes('--delta')) ? deltaCases(shared) : [];
  const deltas = cases.map((c, i) => runChild<DeltaResult>(['--delta-one', String(i)], c.title));
  // Each history is added in one process and its deepest entry restored in another, for its own peak RSS.
  const wantHistory = existsSync(shared) && (given.length === 0 || args.includes('--history'));
  const histories: HistoryResult[] = !wantHistory ? [] : historyCases(shared).map((c, i) => {
    const { dir, result } = runChild<{ dir: string; result: Omit<HistoryResult, 'deepest'> }>(['--history-one', String(i)], c.title);
    return { ...result, deepest: runChild<HistoryResult['deepest']>(['--history-restore', dir], c.title) };
  });
  if (args.includes('--json')) {
    process.stdout.write(JSON.stringify({ single: results, delta: deltas, history: histories }, null, 2) + '\n');
  } else {
    process.stdout.write(`node ${process.version} · ${cpus()[0]?.model ?? 'unknown CPU'} · ${new Date().toISOString()}\n\n`);
    process.stdout.write(markdown(results) + '\n');
    if (deltas.length) process.stdout.write('\n' + deltaMarkdown(deltas) + '\n');
    if (histories.length) process.stdout.write('\n' + historyMarkdown(histories) + '\n');
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
