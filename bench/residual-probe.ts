/**
 * Measures the residual codec (src/delta/residual-encode.ts) on real checkpoint pairs and chains:
 * `node dist/bench/residual-probe.js [fixtures dir] [--low-rank]` (default ../shared/fixtures;
 * --low-rank: chunks of whole matrix rows may get a low-rank sign model, as with `--best`).
 *
 * Float tensors are paired by name (same dtype and shape), cut into chunks of up to 1 MiB, coded
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
import { readSafetensorsLayout } from '../src/formats/safetensors.js';
import { BufferSource } from '../src/io/source.js';

const MiB = 1024 * 1024;
const CHUNK = MiB;
const RUNS = 5;
const FLOAT = new Set(['BF16', 'F16', 'F32']);

// As the product does before its first chunk (see src/delta/warm-up.ts).
warmUpResidualCoder();

const args = process.argv.slice(2);
const lowRank = args.includes('--low-rank');
const root = resolve(args.find((a) => !a.startsWith('--')) ?? fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url)));

interface Tensor {
  dtype: DeltaDtype;
  shape: string;
  /** Elements per row: the product of all dimensions but the first. */
  rowLength: number;
  bytes: Uint8Array;
}

const cache = new Map<string, Map<string, Tensor>>();
async function tensors(file: string): Promise<Map<string, Tensor>> {
  let found = cache.get(file);
  if (found) return found;
  const bytes = readFileSync(join(root, file));
  const layout = (await readSafetensorsLayout(new BufferSource(bytes, file)));
  found = new Map();
  for (const seg of layout.segments) {
    if (seg.kind !== 'tensor' || !FLOAT.has(seg.dtype)) continue;
    found.set(seg.name, { dtype: seg.dtype as DeltaDtype, shape: seg.shape.join('x'), rowLength: seg.shape.slice(1).reduce((a, d) => a * d, 1), bytes: bytes.subarray(seg.offset, seg.offset + seg.length) });
  }
  cache.set(file, found);
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

async function chunksOf(baseFile: string, nextFile: string, prevFile?: string): Promise<Chunk[]> {
  const base = (await tensors(baseFile));
  const prev = prevFile ? (await tensors(prevFile)) : undefined;
  const out: Chunk[] = [];
  for (const [name, t] of (await tensors(nextFile))) {
    const b = base.get(name);
    const p = prev?.get(name);
    if (!b || b.dtype !== t.dtype || b.shape !== t.shape) continue;
    if (prev && (!p || p.dtype !== t.dtype || p.shape !== t.shape)) continue;
    const size = t.dtype === 'F32' ? 4 : 2;
    const step = Math.floor(CHUNK / size) * size;
    for (let at = 0; at < t.bytes.length; at += step) {
      const end = Math.min(t.bytes.length, at + step);
      out.push({
        dtype: t.dtype,
        base: b.bytes.subarray(at, end),
        next: t.bytes.subarray(at, end),
        prev: p?.bytes.subarray(at, end),
        ...(lowRank && at % (t.rowLength * size) === 0 && (end - at) % (t.rowLength * size) === 0 ? { rowLength: t.rowLength } : {}),
        coded: new Uint8Array(0),
      });
    }
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
