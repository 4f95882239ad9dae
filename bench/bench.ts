/**
 * Benchmark: `npm run bench [-- [--json] files…]`.
 *
 * Each file is measured in its own child process (`--one <file>`) so peak RSS is per file.
 * The child times mithril file→file compress and decompress (warm-up, then best of 3), checks the
 * round trip is byte-identical, then the codec alone buffer to buffer, then whole-file single-frame
 * zstd -1 and -3 on the same bytes. Peak RSS is that of the file-to-file runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { compressBuffer, compressFile, decompressBuffer, decompressFile } from '../src/index.js';

const { CCtx, DCtx, compressBound } = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;

const MiB = 1024 * 1024;
const RUNS = 3;

interface Codec {
  ratio: number;
  compressMiBs: number;
  decompressMiBs: number;
}

interface Result {
  file: string;
  size: number;
  mithril: Codec & { peakRssMiB: number };
  /** The codec alone, buffer to buffer: no file reads, writes or fsync. */
  mithrilInMemory: Codec;
  zstd1: Codec;
  zstd3: Codec;
}

/** Runs `fn` once to warm up, then `RUNS` times; returns the fastest time in seconds. */
async function bestTime(fn: () => unknown): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await fn();
    best = Math.min(best, performance.now() - start);
  }
  return best / 1000;
}

function speed(bytes: number, seconds: number): number {
  return bytes / MiB / seconds;
}

async function measureMithril(path: string, size: number): Promise<Result['mithril']> {
  const dir = mkdtempSync(join(tmpdir(), 'mithril-bench-'));
  try {
    const packed = join(dir, 'checkpoint.mth');
    const restored = join(dir, 'restored');
    const compressSeconds = await bestTime(() => compressFile(path, { output: packed, force: true }));
    const decompressSeconds = await bestTime(() => decompressFile(packed, { output: restored, force: true }));
    // Taken before the check below reads both files into memory, so it covers mithril only (plus Node itself).
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    if (Buffer.compare(readFileSync(path), readFileSync(restored)) !== 0) throw new Error('round trip is not byte-identical');
    return {
      ratio: size / statSync(packed).size,
      compressMiBs: speed(size, compressSeconds),
      decompressMiBs: speed(size, decompressSeconds),
      peakRssMiB,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureMithrilInMemory(input: Buffer): Promise<Codec> {
  let packed: Uint8Array = new Uint8Array(0);
  const compressSeconds = await bestTime(async () => (packed = await compressBuffer(input)));
  let restored: Uint8Array = new Uint8Array(0);
  const decompressSeconds = await bestTime(async () => (restored = await decompressBuffer(packed)));
  if (Buffer.compare(input, restored) !== 0) throw new Error('in-memory round trip is not byte-identical');
  return { ratio: input.length / packed.length, compressMiBs: speed(input.length, compressSeconds), decompressMiBs: speed(input.length, decompressSeconds) };
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
  const mithril = await measureMithril(path, size);
  const input = readFileSync(path);
  const result: Result = { file: name, size, mithril, mithrilInMemory: await measureMithrilInMemory(input), zstd1: await measureZstd(input, 1), zstd3: await measureZstd(input, 3) };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function findSafetensors(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((entry) => entry.endsWith('.safetensors'))
    .map((entry) => join(dir, entry))
    .filter((path) => statSync(path).isFile())
    .sort();
}

/** Parent side: spawns one child per file; throws a one-line error naming the file on failure. */
function runChild(path: string, name: string): Result {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--one', path, '--name', name], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (child.status !== 0) {
    const reason = child.stderr.trim().split('\n').pop()?.replace(/^bench: /, '') || (child.signal ?? `exit code ${child.status}`);
    throw new Error(`${name}: benchmark failed: ${reason}`);
  }
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as Result;
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
  const one = flag(args, '--one');
  if (one !== undefined) return runOne(one, flag(args, '--name') ?? one);

  const repo = fileURLToPath(new URL('../../', import.meta.url));
  const shared = resolve(repo, '../shared/fixtures');
  const root = existsSync(shared) ? shared : join(repo, 'fixtures');
  const given = args.filter((arg) => !arg.startsWith('--'));
  const files = given.length > 0 ? given.map((file) => resolve(file)) : findSafetensors(root);
  if (files.length === 0) throw new Error(`no .safetensors files found under ${root}`);

  const results = files.map((path) => runChild(path, displayName(root, path)));
  if (args.includes('--json')) {
    process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  } else {
    process.stdout.write(`node ${process.version} · ${cpus()[0]?.model ?? 'unknown CPU'} · ${new Date().toISOString()}\n\n`);
    process.stdout.write(markdown(results) + '\n');
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
