import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readSafetensorsLayout } from '../src/formats/safetensors.js';
import { compressFile, decompressFile } from '../src/index.js';
import { BufferSource } from '../src/io/source.js';
import { MiB } from './measure.js';

/** Big files live outside the repo and are built once. */
const CACHE = join(tmpdir(), 'mithril-bench-big');

/** A safetensors file of about `gib` GiB: the real tensors of `source`, repeated under new names. */
export async function bigFile(source: string, gib: number): Promise<string> {
  const path = join(CACHE, `${source.split('/').pop()!.replace(/\.safetensors$/, '')}.x${gib}GiB.safetensors`);
  if (existsSync(path)) return path;
  mkdirSync(CACHE, { recursive: true });
  const file = readFileSync(source);
  const tensors = (await readSafetensorsLayout(new BufferSource(file))).segments.flatMap((s) => (s.kind === 'tensor' ? [s] : []));
  const perCopy = tensors.reduce((sum, t) => sum + t.length, 0);
  const copies = Math.ceil((gib * 1024 * MiB) / perCopy);
  const header: Record<string, unknown> = {};
  let at = 0;
  for (let copy = 0; copy < copies; copy++) {
    for (const t of tensors) {
      header[`copy${copy}.${t.name}`] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.length] };
      at += t.length;
    }
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const temp = `${path}.partial`;
  const fd = openSync(temp, 'w');
  writeSync(fd, prefix);
  writeSync(fd, json);
  for (let copy = 0; copy < copies; copy++) for (const t of tensors) writeSync(fd, file, t.offset, t.length);
  closeSync(fd);
  renameSync(temp, path);
  return path;
}

export interface BigRow {
  what: string;
  ratio: number;
  compressMiBs: number;
  decompressMiBs: number;
  /** Peak RSS of the compress and of the decompress process, MiB. */
  peakRssMiB: [number, number];
}

/** Child side: one file-to-file compress or decompress with `threads`, reporting seconds and peak RSS. */
export async function runBigOne(mode: string, input: string, output: string, threads: number): Promise<void> {
  const start = performance.now();
  if (mode === 'compress') await compressFile(input, { output, force: true, threads });
  else await decompressFile(input, { output, force: true, threads });
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(JSON.stringify({ seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

/**
 * Reads the file once so that every run finds it in the page cache. In pieces: a forked child
 * inherits its parent's peak RSS on Linux, so the parent must stay small for children's figures.
 */
export function warmPageCache(file: string): void {
  const fd = openSync(file, 'r');
  const buffer = new Uint8Array(16 * MiB);
  try {
    while (readSync(fd, buffer) > 0);
  } finally {
    closeSync(fd);
  }
}

const GNU_TIME = '/usr/bin/time';

/** Runs a command (under GNU time where installed, for its peak RSS in MiB; NaN without it). */
function timed(command: string, args: string[]): { seconds: number; peakRssMiB: number } {
  const withTime = existsSync(GNU_TIME);
  const start = performance.now();
  const run = withTime
    ? spawnSync(GNU_TIME, ['-f', '%M', command, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
    : spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${run.stderr?.trim().split('\n').pop() ?? run.error?.message}`);
  return { seconds, peakRssMiB: withTime ? Number(run.stderr.trim().split('\n').pop()) / 1024 : NaN };
}

/** Runs runBigOne in a child of `script` (`--big-one`), for its own peak RSS. */
export function runBigChild(script: string, mode: string, input: string, output: string, threads: number): { seconds: number; peakRssMiB: number } {
  const run = spawnSync(process.execPath, [script, '--big-one', mode, input, output, String(threads)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`mithril ${mode} -T ${threads} failed: ${run.stderr.trim().split('\n').pop()}`);
  return JSON.parse(run.stdout.trim()) as { seconds: number; peakRssMiB: number };
}

/** End to end, file to file, page cache warm: mithril with 1 and all threads against `zstd -1 -T0`. */
export function measureBig(file: string, script: string, threads: number): BigRow[] {
  const size = statSync(file).size;
  const packed = `${file}.bench.mth`;
  const restored = `${file}.bench.out`;
  const rows: BigRow[] = [];
  // Each output is new, as zstd's are: replacing a file would sync it first (syncBeforeRename), which zstd -f never does.
  const child = (mode: string, input: string, output: string, t: number) => {
    rmSync(output, { force: true });
    return runBigChild(script, mode, input, output, t);
  };
  try {
    warmPageCache(file);
    for (const t of [...new Set([1, threads])]) {
      const c = child('compress', file, packed, t);
      const d = child('decompress', packed, restored, t);
      if (statSync(restored).size !== size) throw new Error('restored size differs');
      rows.push({ what: `mithril -T ${t}`, ratio: size / statSync(packed).size, compressMiBs: size / MiB / c.seconds, decompressMiBs: size / MiB / d.seconds, peakRssMiB: [c.peakRssMiB, d.peakRssMiB] });
    }
    const zc = timed('zstd', ['-1', '-T0', '-q', '-f', file, '-o', `${packed}.zst`]);
    const zd = timed('zstd', ['-d', '-T0', '-q', '-f', `${packed}.zst`, '-o', restored]);
    rows.push({ what: 'zstd -1 -T0 (CLI)', ratio: size / statSync(`${packed}.zst`).size, compressMiBs: size / MiB / zc.seconds, decompressMiBs: size / MiB / zd.seconds, peakRssMiB: [zc.peakRssMiB, zd.peakRssMiB] });
  } finally {
    for (const path of [packed, `${packed}.zst`, restored]) rmSync(path, { force: true });
  }
  return rows;
}

export function bigMarkdown(file: string, rows: BigRow[]): string {
  const size = (statSync(file).size / MiB / 1024).toFixed(2);
  return [
    `${file} (${size} GiB)`,
    '',
    '| tool | ratio | compress MiB/s | decompress MiB/s | peak RSS MiB (compress / decompress) |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.what} | ${r.ratio.toFixed(4)} | ${Math.round(r.compressMiBs)} | ${Math.round(r.decompressMiBs)} | ${Math.round(r.peakRssMiB[0])} / ${Math.round(r.peakRssMiB[1])} |`),
  ].join('\n');
}
