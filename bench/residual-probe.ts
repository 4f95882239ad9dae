/**
 * Measures the residual codec (src/delta/residual-encode.ts) on real checkpoint pairs and chains:
 * `node dist/bench/residual-probe.js [fixtures dir] [--low-rank]` (default ../shared/fixtures;
 * --low-rank: chunks of whole matrix rows may get a low-rank sign model, as with `--best`).
 *
 * Chunks are planned and paired with the product's own code (src/chunks/: name, dtype and shape;
 * 1 MiB chunks of whole rows; --low-rank uses its row rule), coded
 * with encodeResidual against the base (and, for two-base rows, with prev = the checkpoint before
 * the base and beta fitted per chunk with fitBeta), checked to decode bit-exactly, and timed (best
 * of 5 after a warm-up, single thread; the machine's speed varies, so compare runs with care).
 * ratio = float tensor bytes / coded bytes; a chain row sums its links.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fitBeta } from '../src/delta/beta.js';
import { decodeResidual } from '../src/delta/residual-decode.js';
import { encodeResidual } from '../src/delta/residual-encode.js';
import { warmUpResidualCoder } from '../src/delta/warm-up.js';
import type { DeltaDtype } from '../src/dtypes.js';
import { detectLayout } from '../src/formats/detect.js';
import type { Layout } from '../src/formats/layout.js';
import { BufferSource } from '../src/io/source.js';
import { openBase, type BaseCheckpoint } from '../src/chunks/bases.js';
import { pairChunk, rowLengthOf } from '../src/chunks/pairing.js';
import { DEFAULT_CHUNK_SIZE, planChunks, SMALL_TENSOR_WITH_BASES } from '../src/chunks/plan.js';

const MiB = 1024 * 1024;
const RUNS = 5;

// As the product does before its first chunk (see src/delta/warm-up.ts).
warmUpResidualCoder();

const args = process.argv.slice(2);
const lowRank = args.includes('--low-rank');
const root = resolve(args.find((a) => !a.startsWith('--')) ?? fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url)));

/** A checkpoint read once: its bytes, its layout, and the same opened as a base. */
const cache = new Map<string, { bytes: Uint8Array; layout: Layout; base: BaseCheckpoint }>();
async function checkpoint(file: string): Promise<{ bytes: Uint8Array; layout: Layout; base: BaseCheckpoint }> {
  let found = cache.get(file);
  if (!found) {
    const bytes = readFileSync(join(root, file));
    found = { bytes, layout: await detectLayout(new BufferSource(bytes, file)), base: await openBase(new BufferSource(bytes, file)) };
    cache.set(file, found);
  }
  return found;
}

interface Chunk {
  dtype: DeltaDtype;
  base: Uint8Array;
  next: Uint8Array;
  prev?: Uint8Array;
  beta?: number;
  rowLength?: number;
  coded: Uint8Array;
}

interface Row {
  label: string;
  bytes: number;
  coded: number;
  encode: number;
  decode: number;
  fit: number;
}

/** The chunks the product would code as deltas: its own planning, pairing and row rule. */
async function chunksOf(baseFile: string, nextFile: string, prevFile?: string): Promise<Chunk[]> {
  const next = await checkpoint(nextFile);
  const bases = [(await checkpoint(baseFile)).base, ...(prevFile ? [(await checkpoint(prevFile)).base] : [])];
  const fresh = { take: (size: number) => new Uint8Array(size) };
  const out: Chunk[] = [];
  for (const chunk of planChunks(next.layout, DEFAULT_CHUNK_SIZE, SMALL_TENSOR_WITH_BASES)) {
    const { base, prev } = await pairChunk(chunk, bases, fresh);
    if (!base || (prevFile && !prev)) continue;
    const rowLength = lowRank ? rowLengthOf(chunk) : undefined;
    out.push({
      dtype: chunk.dtype as DeltaDtype,
      base: base.bytes,
      next: next.bytes.subarray(chunk.offset, chunk.offset + chunk.length),
      prev: prev?.bytes,
      ...(rowLength !== undefined ? { rowLength } : {}),
      coded: new Uint8Array(0),
    });
  }
  return out;
}

function best(fn: () => void): number {
  fn();
  let t = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    fn();
    t = Math.min(t, performance.now() - start);
  }
  return t / 1000;
}

async function measure(label: string, baseFile: string, nextFile: string, prevFile?: string): Promise<Row> {
  const chunks = (await chunksOf(baseFile, nextFile, prevFile));
  const fit = prevFile
    ? best(() => {
        for (const c of chunks) c.beta = fitBeta(c.dtype, c.base, c.prev!, c.next);
      })
    : 0;
  const options = (c: Chunk) => (c.prev ? { prev: c.prev, beta: c.beta } : undefined);
  const encode = best(() => {
    for (const c of chunks) c.coded = encodeResidual(c.dtype, c.base, c.next, { ...options(c), rowLength: c.rowLength });
  });
  const dsts = chunks.map((c) => new Uint8Array(c.next.length));
  const decode = best(() => {
    chunks.forEach((c, i) => decodeResidual(c.dtype, c.base, c.coded, dsts[i]!, options(c)));
  });
  let bytes = 0;
  let coded = 0;
  chunks.forEach((c, i) => {
    if (Buffer.compare(dsts[i]!, c.next) !== 0) throw new Error(`${label}: chunk ${i} did not round-trip`);
    bytes += c.next.length;
    coded += c.coded.length;
  });
  return { label, bytes, coded, encode: bytes / MiB / encode, decode: bytes / MiB / decode, fit: fit > 0 ? bytes / MiB / fit : 0 };
}

function print(rows: Row[], title: string): void {
  console.log(`\n${title}`);
  console.log('| pair | float MiB | coded MiB | ratio | encode MiB/s | decode MiB/s | fitBeta MiB/s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.label} | ${(r.bytes / MiB).toFixed(2)} | ${(r.coded / MiB).toFixed(3)} | ${(r.bytes / r.coded).toFixed(3)} | ${r.encode.toFixed(0)} | ${r.decode.toFixed(0)} | ${r.fit ? r.fit.toFixed(0) : '—'} |`,
    );
  }
}

function chain(label: string, rows: Row[]): Row {
  const sum = (f: (r: Row) => number) => rows.reduce((a, r) => a + f(r), 0);
  const bytes = sum((r) => r.bytes);
  return {
    label,
    bytes,
    coded: sum((r) => r.coded),
    encode: bytes / sum((r) => r.bytes / r.encode),
    decode: bytes / sum((r) => r.bytes / r.decode),
    fit: 0,
  };
}

if (!existsSync(root)) {
  console.error(`residual-probe: fixtures not found at ${root} (pass the directory as an argument)`);
  process.exit(1);
}

const gpt = (s: number, dt = 'bf16') => `gpt/gpt_step${s}.${dt}.safetensors`;
const pt = (s: number) => `frequent/pt_step${s}.bf16.safetensors`;
const ft = (s: number) => `finetune/ft_step${s}.bf16.safetensors`;
const cnn = (e: number, dt: string) => `cnn/cnn_epoch${e}.${dt}.safetensors`;

const pairs: Row[] = [
  await measure('gpt 400→500 bf16', gpt(400), gpt(500)),
  await measure('gpt 400→500 fp32', gpt(400, 'fp32'), gpt(500, 'fp32')),
  await measure('cnn 5→6 bf16', cnn(5, 'bf16'), cnn(6, 'bf16')),
  await measure('cnn 5→6 fp32', cnn(5, 'fp32'), cnn(6, 'fp32')),
  await measure('cnn (4)→5→6 bf16, two bases', cnn(5, 'bf16'), cnn(6, 'bf16'), cnn(4, 'bf16')),
  await measure('cnn (4)→5→6 fp32, two bases', cnn(5, 'fp32'), cnn(6, 'fp32'), cnn(4, 'fp32')),
];
print(pairs, 'Pairs');

const pt1 = [await measure('gpt500→pt510', gpt(500), pt(510)), await measure('pt510→pt520', pt(510), pt(520))];
const pt2 = [await measure('(400)→gpt500→pt510, two bases', gpt(500), pt(510), gpt(400)), await measure('(500)→pt510→pt520, two bases', pt(510), pt(520), gpt(500))];
const ft1 = [await measure('gpt500→ft10', gpt(500), ft(10)), await measure('ft10→ft20', ft(10), ft(20)), await measure('ft20→ft30', ft(20), ft(30))];
const ft2 = [
  await measure('(400)→gpt500→ft10, two bases', gpt(500), ft(10), gpt(400)),
  await measure('(500)→ft10→ft20, two bases', ft(10), ft(20), gpt(500)),
  await measure('(ft10)→ft20→ft30, two bases', ft(20), ft(30), ft(10)),
];
print(
  [...pt1, ...pt2, chain('chain 500→pt510→pt520, one base', pt1), chain('chain 500→pt510→pt520, two bases', pt2)],
  'Pre-training every 10 steps (frequent/)',
);
print(
  [...ft1, ...ft2, chain('chain 500→ft10→ft20→ft30, one base', ft1), chain('chain 500→ft10→ft20→ft30, two bases', ft2)],
  'Fine-tune chain (finetune/)',
);
