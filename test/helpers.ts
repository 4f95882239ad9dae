import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContainerReader } from '../src/container/reader.js';
import { BufferSource } from '../src/io/source.js';

/** Real checkpoints bundled with the repo (see fixtures/README.md). */
export const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
/** The command as installed: the bundle the package's bin names. */
export const CLI = fileURLToPath(new URL('../src/bundle/main.js', import.meta.url));

export const fixture = (name: string): string => join(FIXTURES, name);
export const readFixture = (name: string): Buffer => readFileSync(fixture(name));
/** The folders tempDir made, removed when the test process exits (tests leave nothing in the temp folder). */
const tempDirs: string[] = [];
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mithril-test-'));
  tempDirs.push(dir);
  return dir;
}

/** Builds a safetensors file from a JSON header object and the data buffer, padded like the official writer. */
export function safetensors(header: Record<string, unknown>, data: Uint8Array): Buffer {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([prefix, Buffer.from(json), data]);
}

/** Seeded PRNG (mulberry32): deterministic tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A user error: one line on stderr starting `mithril: FILE: ` and matching `pattern`, exit status `code`, no stack trace. */
export function assertOneLine(run: { code: number | null; stderr: string }, file: string, pattern: RegExp, code = 1): void {
  assert.equal(run.code, code, run.stderr);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.ok(lines[0]!.startsWith(`mithril: ${file}: `), run.stderr);
  assert.match(lines[0]!, pattern);
}

/**
 * Flips a bit of the first (or `after` the given chunk, the next) chunk's plane stored raw (bf16
 * sign and mantissa) in the container `packed`: it still decodes, to wrong bytes that only its
 * checksum sees. Returns the chunk's number.
 */
export async function damageRawPlane(packed: string, after = -1): Promise<number> {
  const bytes = readFileSync(packed);
  const { index } = await ContainerReader.open(new BufferSource(bytes, packed));
  const number = index.chunks.findIndex((c, n) => n > after && c.streams.some((s) => s.coder === 'raw' && s.codedLength > 0));
  const chunk = index.chunks[number]!;
  const at = chunk.offset + chunk.streams.slice(0, chunk.streams.findIndex((s) => s.coder === 'raw')).reduce((sum, s) => sum + s.codedLength, 0);
  bytes[at] ^= 0x01;
  writeFileSync(packed, bytes);
  return number;
}
