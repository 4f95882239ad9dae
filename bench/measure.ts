import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openBase } from '../src/chunks/bases.js';
import { compressBuffer, compressFile, decompressBuffer, decompressFile } from '../src/index.js';
import { BufferSource } from '../src/io/source.js';

export const MiB = 1024 * 1024;
const RUNS = 5;

export interface Codec {
  ratio: number;
  compressMiBs: number;
  decompressMiBs: number;
}

export type FileCodec = Codec & { peakRssMiB: number };

/** Runs `fn` once to warm up, then `RUNS` times; returns the fastest time in seconds. */
export async function bestTime(fn: () => unknown): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await fn();
    best = Math.min(best, performance.now() - start);
  }
  return best / 1000;
}

export function speed(bytes: number, seconds: number): number {
  return bytes / MiB / seconds;
}

/** How hard mithril works: `--fast`, the default (with bases: the strong delta coder) or `--best`. */
export type Level = 'fast' | 'default' | 'best';

const levelOptions = (level: Level): { fast: boolean; best: boolean } => ({ fast: level === 'fast', best: level === 'best' });

/** mithril file to file (optionally against base checkpoints), checked byte-identical. */
export async function measureMithril(path: string, size: number, bases: string[], level: Level = 'default'): Promise<FileCodec> {
  const dir = mkdtempSync(join(tmpdir(), 'mithril-bench-'));
  try {
    const packed = join(dir, 'checkpoint.mth');
    const restored = join(dir, 'restored');
    const compressSeconds = await bestTime(() => compressFile(path, { output: packed, force: true, bases, ...levelOptions(level) }));
    const decompressSeconds = await bestTime(() => decompressFile(packed, { output: restored, force: true, bases }));
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


/** The codec alone, buffer to buffer (bases read into memory and hashed before timing). */
export async function measureMithrilInMemory(input: Uint8Array, basePaths: readonly string[] = [], level: Level = 'default'): Promise<Codec> {
  const bases = await Promise.all(basePaths.map(async (path) => ({ path, base: await openBase(new BufferSource(readFileSync(path), path)) })));
  let packed: Uint8Array = new Uint8Array(0);
  const compressSeconds = await bestTime(async () => (packed = await compressBuffer(input, { bases: bases.map((b) => b.base), ...levelOptions(level) })));
  let restored: Uint8Array = new Uint8Array(0);
  const decompressSeconds = await bestTime(async () => (restored = await decompressBuffer(packed, { bases })));
  if (Buffer.compare(input, restored) !== 0) throw new Error('in-memory round trip is not byte-identical');
  return { ratio: input.length / packed.length, compressMiBs: speed(input.length, compressSeconds), decompressMiBs: speed(input.length, decompressSeconds) };
}
