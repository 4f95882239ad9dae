import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitBeta } from '../src/delta/beta.js';
import { decodeResidual } from '../src/delta/residual-decode.js';
import { encodeResidual, type ResidualOptions } from '../src/delta/residual-encode.js';
import type { DeltaDtype } from '../src/dtypes.js';
import { readSafetensorsLayout } from '../src/formats/safetensors.js';
import { BufferSource } from '../src/io/source.js';
import { readFixture, rng } from './helpers.js';

interface Tensor {
  dtype: string;
  bytes: Uint8Array;
}

/** The float tensors of a fixture checkpoint by name. */
async function floatTensors(file: string): Promise<Map<string, Tensor>> {
  const bytes = readFixture(file);
  const out = new Map<string, Tensor>();
  for (const seg of (await readSafetensorsLayout(new BufferSource(bytes, file))).segments) {
    if (seg.kind === 'tensor' && ['BF16', 'F16', 'F32'].includes(seg.dtype)) {
      out.set(seg.name, { dtype: seg.dtype, bytes: bytes.subarray(seg.offset, seg.offset + seg.length) });
    }
  }
  return out;
}

/** Real pairs: the same tensor at CNN epochs 5 and 6. */
async function pairs(precision: 'bf16' | 'fp32'): Promise<Array<[string, Uint8Array, Uint8Array]>> {
  const base = (await floatTensors(`cnn_epoch5.${precision}.safetensors`));
  const next = (await floatTensors(`cnn_epoch6.${precision}.safetensors`));
  return [...next].map(([name, t]) => [name, base.get(name)!.bytes, t.bytes]);
}

/** fp32 bytes → fp16 bytes, round to nearest even (real weights in a third float format). */
function toF16(f32: Uint8Array): Uint8Array {
  const src = new DataView(f32.buffer, f32.byteOffset, f32.byteLength);
  const out = new Uint8Array(f32.length / 2);
  const dst = new DataView(out.buffer);
  for (let i = 0; i < out.length / 2; i++) {
    const x = src.getUint32(i * 4, true);
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    let h: number;
    if (exp === 0xff) {
      h = 0x7c00 | (mant ? 0x200 : 0);
    } else if (exp > 142) {
      h = 0x7c00;
    } else if (exp < 113) {
      // Subnormal (or zero) in fp16.
      if (exp < 102) {
        h = 0;
      } else {
        mant |= 0x800000;
        const shift = 126 - exp;
        const half = 1 << (shift - 1);
        const rest = mant & ((1 << shift) - 1);
        h = mant >>> shift;
        if (rest > half || (rest === half && h & 1)) h++;
      }
    } else {
      h = ((exp - 112) << 10) | (mant >>> 13);
      const rest = mant & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    }
    dst.setUint16(i * 2, sign | h, true);
  }
  return out;
}

function roundTrip(dtype: DeltaDtype, base: Uint8Array, next: Uint8Array, options?: ResidualOptions): Uint8Array {
  const coded = encodeResidual(dtype, base, next, options);
  const dst = new Uint8Array(next.length);
  decodeResidual(dtype, base, coded, dst, options);
  assert.deepEqual(dst, next instanceof Buffer ? new Uint8Array(next) : next);
  return coded;
}

const f32Bits = (...bits: number[]): Uint8Array => new Uint8Array(Uint32Array.from(bits).buffer);
const u16Bits = (...bits: number[]): Uint8Array => new Uint8Array(Uint16Array.from(bits).buffer);

/** Special 16-bit patterns: ±0, smallest/largest subnormals (bf16 and f16), ±max finite, ±inf, NaNs with payloads. */
const SPECIAL16 = [0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x03ff, 0x83ff, 0x7f7f, 0xff7f, 0x7bff, 0xfbff, 0x7f80, 0xff80, 0x7c00, 0xfc00, 0x7fc0, 0x7fc1, 0xffff, 0x7fff, 0x7e01, 0xfe00, 0x3f80, 0xbf80];
const SPECIAL32 = [0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fc00001, 0x7fffffff, 0xffffffff, 0xffc12345, 0x3f800000, 0xbf800000];

/** The stream's flag for a low-rank sign model (second byte). */
const FLAG_LOWRANK = 0x20;

/**
 * A rows × cols matrix of weights and its next version (and an older one, not predicting it) where
 * the residuals' signs are those of a rank-2 matrix 95% of the time, as after fine-tuning steps.
 */
function lowRankPair(dtype: DeltaDtype, rows: number, cols: number, seed: number): { base: Uint8Array; next: Uint8Array; prev: Uint8Array } {
  const random = rng(seed);
  const size = dtype === 'F32' ? 4 : 2;
  const n = rows * cols;
  const [base, next, prev] = [new Uint8Array(n * size), new Uint8Array(n * size), new Uint8Array(n * size)];
  const views = [base, next, prev].map((b) => new DataView(b.buffer));
  const a = Array.from({ length: 2 * rows }, () => random() - 0.5);
  const b = Array.from({ length: 2 * cols }, () => random() - 0.5);
  const put = (view: DataView, i: number, bits: number): void => (size === 4 ? view.setUint32(i * 4, bits >>> 0, true) : view.setUint16(i * 2, bits & 0xffff, true));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const magnitude = Math.floor(random() * 8);
      const sign = (a[2 * r]! * b[2 * c]! + a[2 * r + 1]! * b[2 * c + 1]! > 0) === random() < 0.95 ? 1 : -1;
      // Positive weights of varied exponents, well inside the format's range.
      const w = dtype === 'F16' ? 0x2000 + Math.floor(random() * 0x2000) : size === 2 ? 0x3a00 + Math.floor(random() * 0x400) : 0x3a000000 + Math.floor(random() * 0x4000000);
      put(views[0]!, i, w);
      put(views[1]!, i, w + sign * magnitude);
      put(views[2]!, i, w + Math.floor(random() * 8) - 4);
    }
  }
  return { base, next, prev };
}

describe('residual coding', () => {
  it('round-trips real bf16 pairs (cnn epoch 5 → 6), every tensor', async () => {
    for (const [name, base, next] of (await pairs('bf16'))) {
      assert.doesNotThrow(() => roundTrip('BF16', base, next), name);
    }
  });

  it('round-trips real fp32 pairs, and the same weights as fp16', async () => {
    for (const [, base, next] of (await pairs('fp32'))) {
      roundTrip('F32', base, next);
      roundTrip('F16', toF16(base), toF16(next));
    }
  });

  it('codes the real cnn bf16 epoch 5 → 6 pair far smaller than the checkpoint alone', async () => {
    let original = 0;
    let coded = 0;
    const exponents = new Float64Array(256);
    const rest = new Float64Array(256);
    for (const [, base, next] of (await pairs('bf16'))) {
      original += next.length;
      coded += encodeResidual('BF16', base, next).length;
      for (let i = 0; i < next.length; i += 2) {
        const bits = next[i]! | (next[i + 1]! << 8);
        exponents[(bits >> 7) & 0xff]!++;
        rest[((bits >> 8) & 0x80) | (bits & 0x7f)]!++;
      }
    }
    // The single-checkpoint bound: order-0 entropy of the exponent byte plus that of sign+mantissa
    // (what plane splitting + entropy coding can reach without a base, about 1/1.5 of the size).
    const entropy = (h: Float64Array, n: number) => h.reduce((bits, c) => (c > 0 ? bits - c * Math.log2(c / n) : bits), 0);
    const elements = original / 2;
    const alone = (entropy(exponents, elements) + entropy(rest, elements)) / 8;
    const ratio = original / coded;
    assert.ok(ratio > 2.5, `ratio ${ratio.toFixed(3)}`);
    assert.ok(coded < alone / 2, `delta ${coded} bytes vs ${alone.toFixed(0)} bytes at best alone`);
  });

  it('round-trips special values and every sign / magnitude change between them (16-bit)', () => {
    const base: number[] = [];
    const next: number[] = [];
    for (const a of SPECIAL16) {
      for (const b of SPECIAL16) {
        base.push(a);
        next.push(b);
      }
    }
    for (const dtype of ['BF16', 'F16'] as const) {
      roundTrip(dtype, u16Bits(...base), u16Bits(...next));
      roundTrip(dtype, u16Bits(...next), u16Bits(...base));
    }
  });

  it('round-trips every 16-bit pattern against a shuffled one (all wrap-arounds)', () => {
    const random = rng(1);
    const base = new Uint16Array(65536);
    for (let i = 0; i < base.length; i++) base[i] = i;
    const next = base.slice();
    for (let i = next.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [next[i], next[j]] = [next[j]!, next[i]!];
    }
    for (const dtype of ['BF16', 'F16'] as const) {
      const coded = roundTrip(dtype, new Uint8Array(base.buffer), new Uint8Array(next.buffer));
      // Incompressible: stored, with a 2-byte header.
      assert.ok(coded.length <= base.length * 2 + 2);
    }
  });

  it('round-trips special values, sign flips and extreme changes (32-bit)', () => {
    const base: number[] = [];
    const next: number[] = [];
    for (const a of SPECIAL32) {
      for (const b of SPECIAL32) {
        base.push(a);
        next.push(b);
      }
    }
    roundTrip('F32', f32Bits(...base), f32Bits(...next));
    // Mostly small changes (so the coded mode is used) with extreme ones mixed in.
    const random = rng(2);
    const n = 20_001;
    const b32 = new Uint32Array(n);
    const n32 = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      b32[i] = i % 97 === 0 ? SPECIAL32[i % SPECIAL32.length]! : (0x3c000000 + Math.floor(random() * 0x4000000)) >>> 0;
      n32[i] = i % 89 === 0 ? SPECIAL32[(i * 7) % SPECIAL32.length]! : i % 13 === 0 ? (b32[i]! ^ 0x80000000) >>> 0 : (b32[i]! + Math.floor(random() * 200) - 100) >>> 0;
    }
    const coded = roundTrip('F32', new Uint8Array(b32.buffer), new Uint8Array(n32.buffer));
    assert.equal(coded[0], 1, 'expected the coded (not stored) mode');
  });

  it('round-trips 16-bit data with sign flips, subnormals and NaN payloads among small changes', () => {
    const random = rng(3);
    const n = 30_001;
    const b16 = new Uint16Array(n);
    const n16 = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      b16[i] = i % 101 === 0 ? SPECIAL16[i % SPECIAL16.length]! : 0x3a00 + Math.floor(random() * 0x800) + (random() < 0.5 ? 0x8000 : 0);
      n16[i] = i % 103 === 0 ? SPECIAL16[(i * 5) % SPECIAL16.length]! : i % 37 === 0 ? b16[i]! ^ 0x8000 : (b16[i]! + Math.floor(random() * 9) - 4) & 0xffff;
    }
    for (const dtype of ['BF16', 'F16'] as const) {
      const coded = roundTrip(dtype, new Uint8Array(b16.buffer), new Uint8Array(n16.buffer));
      assert.equal(coded[0], 1, 'expected the coded (not stored) mode');
    }
  });

  it('codes identical base and next in a few dozen bytes', async () => {
    const [, base] = (await pairs('bf16')).find(([name]) => name === 'layer3.conv2.weight')!;
    const coded = roundTrip('BF16', base, base);
    assert.ok(coded.length < 64, `${coded.length} bytes for ${base.length} identical bytes`);
    const [, base32] = (await pairs('fp32')).find(([name]) => name === 'layer3.conv2.weight')!;
    assert.ok(roundTrip('F32', base32, base32).length < 64);
  });

  it('round-trips empty input and odd element counts', async () => {
    const [, base, next] = (await pairs('bf16')).find(([name]) => name === 'layer3.conv2.weight')!;
    const [, base32, next32] = (await pairs('fp32')).find(([name]) => name === 'layer3.conv2.weight')!;
    for (const count of [0, 1, 2, 3, 5, 7, 9, 15, 33, 1001, 4097, 65535, 65536, 65537]) {
      roundTrip('BF16', base.subarray(0, count * 2), next.subarray(0, count * 2));
      roundTrip('F16', base.subarray(0, count * 2), next.subarray(0, count * 2));
      roundTrip('F32', base32.subarray(0, count * 4), next32.subarray(0, count * 4));
    }
  });

  it('round-trips unaligned views', async () => {
    const [, base, next] = (await pairs('bf16')).find(([name]) => name === 'layer2.conv1.weight')!;
    const b = new Uint8Array(base.length + 1);
    b.set(base, 1);
    const x = new Uint8Array(next.length + 3);
    x.set(next, 3);
    const coded = encodeResidual('BF16', b.subarray(1), x.subarray(3));
    const shifted = new Uint8Array(coded.length + 1);
    shifted.set(coded, 1);
    const dst = new Uint8Array(next.length + 1);
    decodeResidual('BF16', b.subarray(1), shifted.subarray(1), dst.subarray(1));
    assert.deepEqual(dst.subarray(1), new Uint8Array(next));
  });

  it('predicts from two bases: fitBeta finds a trend, which then codes smaller', async () => {
    // A synthetic trend on real weights: prev → base → next move by the same ±ULP steps (+ noise).
    const [, real] = (await pairs('bf16')).find(([name]) => name === 'layer3.conv2.weight')!;
    const random = rng(4);
    const n = real.length / 2;
    const prev = new Uint16Array(n);
    const base = new Uint16Array(n);
    const next = new Uint16Array(n);
    const view = new DataView(real.buffer, real.byteOffset, real.length);
    for (let i = 0; i < n; i++) {
      const p = view.getUint16(i * 2, true);
      const step = Math.floor(random() * 9) - 4;
      prev[i] = p;
      base[i] = p + step;
      next[i] = p + 2 * step + (random() < 0.3 ? Math.floor(random() * 3) - 1 : 0);
    }
    const [p8, b8, n8] = [prev, base, next].map((a) => new Uint8Array(a.buffer));
    const beta = fitBeta('BF16', b8!, p8!, n8!);
    assert.ok(beta >= 230 && beta <= 256, `beta ${beta}`);
    const two = roundTrip('BF16', b8!, n8!, { prev: p8!, beta });
    const one = roundTrip('BF16', b8!, n8!);
    assert.ok(two.length < one.length * 0.8, `two bases ${two.length} bytes vs one base ${one.length}`);
    // No trend: beta stays small.
    const flat = fitBeta('BF16', b8!, b8!, n8!);
    assert.equal(flat, 0);
  });

  it('round-trips a real two-base chain (cnn bf16 epoch 4 → 5 → 6) with fitted beta', async () => {
    const prev = (await floatTensors('cnn_epoch4.bf16.safetensors'));
    let one = 0;
    let two = 0;
    for (const [name, base, next] of (await pairs('bf16'))) {
      const p = prev.get(name)!.bytes;
      const beta = fitBeta('BF16', base, p, next);
      assert.ok(Number.isInteger(beta) && beta >= 0 && beta <= 256);
      two += roundTrip('BF16', base, next, { prev: p, beta }).length;
      one += encodeResidual('BF16', base, next).length;
    }
    // One epoch of SGD apart the trend barely helps, but the second base must not cost more than a little.
    assert.ok(two <= one * 1.01, `two bases ${two} bytes, one base ${one}`);
  });

  it('round-trips two-base coding on real data for every dtype and beta, including wrap-around', async () => {
    const b16 = (await pairs('bf16'));
    const b32 = (await pairs('fp32'));
    for (let t = 0; t < b16.length; t += 5) {
      const [, prev, base] = b16[t]!;
      const [, , next] = b16[t]!;
      for (const beta of [0, 1, 128, 255, 256]) {
        // Real prev/base/next triples from two checkpoints: epoch 5 → 6 → 5.
        roundTrip('BF16', base, prev, { prev: next, beta });
        roundTrip('F16', base, prev, { prev: next, beta });
      }
      const fitted = fitBeta('BF16', base, next, prev);
      assert.ok(Number.isInteger(fitted) && fitted >= 0 && fitted <= 256);
    }
    for (let t = 0; t < b32.length; t += 7) {
      const [, prev, base] = b32[t]!;
      for (const beta of [0, 77, 256]) roundTrip('F32', base, prev, { prev: base, beta });
      const fitted = fitBeta('F32', base, prev, base);
      assert.ok(Number.isInteger(fitted) && fitted >= 0 && fitted <= 256);
    }
    // Extreme trends: prediction wraps around the element width.
    const random = rng(5);
    const n = 10_001;
    const p16 = new Uint16Array(n);
    const q16 = new Uint16Array(n);
    const x16 = new Uint16Array(n);
    const p32 = new Uint32Array(n);
    const q32 = new Uint32Array(n);
    const x32 = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      p16[i] = SPECIAL16[i % SPECIAL16.length]!;
      q16[i] = SPECIAL16[(i * 3 + 1) % SPECIAL16.length]!;
      x16[i] = Math.floor(random() * 65536);
      p32[i] = SPECIAL32[i % SPECIAL32.length]!;
      q32[i] = SPECIAL32[(i * 3 + 1) % SPECIAL32.length]!;
      x32[i] = Math.floor(random() * 2 ** 32);
    }
    for (const beta of [0, 200, 256]) {
      const o = { prev: new Uint8Array(p16.buffer), beta };
      roundTrip('BF16', new Uint8Array(q16.buffer), new Uint8Array(x16.buffer), o);
      roundTrip('BF16', new Uint8Array(q16.buffer), new Uint8Array(q16.buffer), o);
      const o32 = { prev: new Uint8Array(p32.buffer), beta };
      roundTrip('F32', new Uint8Array(q32.buffer), new Uint8Array(x32.buffer), o32);
      roundTrip('F32', new Uint8Array(q32.buffer), new Uint8Array(q32.buffer), o32);
    }
  });

  it('fits a low-rank sign model to whole rows where the signs follow one, for every dtype and with prev', () => {
    for (const dtype of ['BF16', 'F16', 'F32'] as const) {
      const { base, next, prev } = lowRankPair(dtype, 256, 128, 11);
      for (const options of [{}, { prev, beta: 0 }, { prev, beta: 90 }]) {
        const plain = encodeResidual(dtype, base, next, options);
        const coded = encodeResidual(dtype, base, next, { ...options, rowLength: 128 });
        assert.equal(plain[1]! & FLAG_LOWRANK, 0);
        assert.equal(coded[1]! & FLAG_LOWRANK, FLAG_LOWRANK, `${dtype}: no low-rank model`);
        assert.ok(coded.length < plain.length * 0.97, `${dtype}: ${coded.length} bytes with the model, ${plain.length} without`);
        roundTrip(dtype, base, next, { ...options, rowLength: 128 });
      }
    }
  });

  it('fits no low-rank model to chunks that are not whole rows, too small, or without sign structure', async () => {
    const { base, next } = lowRankPair('BF16', 256, 128, 12);
    for (const rowLength of [127, 8, 128 * 128]) {
      const coded = encodeResidual('BF16', base, next, { rowLength });
      assert.equal(coded[1]! & FLAG_LOWRANK, 0, `rows of ${rowLength}`);
      roundTrip('BF16', base, next, { rowLength });
    }
    const [, cnnBase, cnnNext] = (await pairs('bf16')).find(([name]) => name === 'layer1.conv2.weight')!;
    assert.equal(encodeResidual('BF16', cnnBase, cnnNext, { rowLength: 144 })[1]! & FLAG_LOWRANK, 0);
  });

  it('refuses mismatched inputs and options', async () => {
    const [, base, next] = (await pairs('bf16')).find(([name]) => name === 'layer3.conv2.weight')!;
    const coded = encodeResidual('BF16', base, next);
    const dst = new Uint8Array(next.length);
    assert.throws(() => encodeResidual('BF16', base, next.subarray(2)), /bytes/);
    assert.throws(() => encodeResidual('F32', base.subarray(0, 6), next.subarray(0, 6)), /whole number/);
    assert.throws(() => encodeResidual('BF16', base, next, { prev: base, beta: 257 }), /beta/);
    assert.throws(() => encodeResidual('BF16', base, next, { prev: base, beta: 1.5 }), /beta/);
    assert.throws(() => encodeResidual('BF16', base, next, { beta: 3 }), /prev/);
    assert.throws(() => decodeResidual('F16', base, coded, dst), /dtype/);
    assert.throws(() => decodeResidual('BF16', base, coded, dst, { prev: base }), /without a prev/);
    assert.throws(() => decodeResidual('BF16', base, coded, new Uint8Array(next.length - 2)), /bytes|elements/);
    const withPrev = encodeResidual('BF16', base, next, { prev: next, beta: 64 });
    assert.throws(() => decodeResidual('BF16', base, withPrev, dst), /prev base/);
    assert.throws(() => decodeResidual('BF16', base, withPrev, dst, { prev: next, beta: 65 }), /beta/);
    // The wrong base (or prev) is caught by the checksum, not returned as wrong output.
    assert.throws(() => decodeResidual('BF16', next, coded, dst), /checksum|corrupt/);
    assert.throws(() => decodeResidual('BF16', base, withPrev, dst, { prev: base, beta: 64 }), /checksum|corrupt/);
  });

  it('survives a seeded mini-fuzz: every mutation throws or decodes correctly, never hangs', async () => {
    const all = (await pairs('bf16'));
    const [, base, next] = all.find(([name]) => name === 'layer2.conv2.weight')!;
    const [, base32, next32] = (await pairs('fp32')).find(([name]) => name === 'layer1.conv1.weight')!;
    const low = lowRankPair('BF16', 256, 128, 13);
    const cases: Array<[DeltaDtype, Uint8Array, Uint8Array, { prev?: Uint8Array; beta?: number; rowLength?: number } | undefined]> = [
      ['BF16', base, next, undefined],
      ['BF16', base, next, { prev: next, beta: 100 }],
      ['F32', base32, next32, undefined],
      ['BF16', low.base, low.next, { rowLength: 128 }],
    ];
    const random = rng(6);
    let threw = 0;
    let trials = 0;
    for (const [dtype, b, x, options] of cases) {
      const coded = encodeResidual(dtype, b, x, options);
      assert.equal(coded[0], 1);
      assert.equal(coded[1]! & FLAG_LOWRANK, options?.rowLength ? FLAG_LOWRANK : 0);
      const dst = new Uint8Array(x.length);
      for (let trial = 0; trial < 150; trial++, trials++) {
        let mutated: Uint8Array;
        const kind = trial % 5;
        if (kind === 0) {
          mutated = coded.slice();
          mutated[Math.floor(random() * mutated.length)]! ^= 1 << Math.floor(random() * 8);
        } else if (kind === 1) {
          mutated = coded.slice();
          for (let k = 0; k < 3; k++) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
        } else if (kind === 2) {
          mutated = coded.slice(0, Math.floor(random() * coded.length));
        } else if (kind === 3) {
          // The header and side information (first ~150 bytes).
          mutated = coded.slice();
          mutated[Math.floor(random() * Math.min(150, mutated.length))] = Math.floor(random() * 256);
        } else {
          mutated = new Uint8Array(coded.length + 1 + Math.floor(random() * 4));
          mutated.set(coded);
        }
        try {
          decodeResidual(dtype, b, mutated, dst, options);
        } catch (e) {
          assert.ok(e instanceof Error);
          threw++;
          continue;
        }
        assert.deepEqual(dst, new Uint8Array(x), `${dtype} trial ${trial}: mutation decoded silently to wrong output`);
      }
    }
    assert.ok(threw > trials * 0.9, `only ${threw} of ${trials} mutations were detected`);
  });
});
