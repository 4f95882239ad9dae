import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rng } from './helpers.js';
import { BitReader, BitWriter } from '../src/codec/bits.js';
import { buildModel, PRECISION, ransDecode, ransEncode, readModel, reciprocal, writeModel, type RansModel } from '../src/codec/rans.js';

/** Symbols from a per-context geometric-like distribution: skewed, different in every context. */
function skewedStream(n: number, contexts: number, alphabet: number, seed: number): { symbols: Uint8Array; ctx: Uint16Array } {
  const random = rng(seed);
  const symbols = new Uint8Array(n);
  const ctx = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(random() * random() * contexts);
    const p = 0.15 + (0.7 * c) / Math.max(1, contexts); // smaller p → flatter distribution
    let s = 0;
    while (s < alphabet - 1 && random() > p) s++;
    symbols[i] = (s + c * 3) % alphabet;
    ctx[i] = c;
  }
  return { symbols, ctx };
}

function countsOf(symbols: Uint8Array, ctx: Uint16Array | null, contexts: number, alphabet: number): Uint32Array {
  const counts = new Uint32Array(contexts * alphabet);
  for (let i = 0; i < symbols.length; i++) counts[(ctx ? ctx[i]! : 0) * alphabet + symbols[i]!]!++;
  return counts;
}

/** Empirical entropy in bits: sum over contexts of -count · log2(count / total). */
function entropyBits(counts: Uint32Array, contexts: number, alphabet: number): number {
  let bits = 0;
  for (let c = 0; c < contexts; c++) {
    let total = 0;
    for (let s = 0; s < alphabet; s++) total += counts[c * alphabet + s]!;
    for (let s = 0; s < alphabet; s++) {
      const k = counts[c * alphabet + s]!;
      if (k > 0) bits -= k * Math.log2(k / total);
    }
  }
  return bits;
}

/** Model tables + stream in one buffer, as a user of the API would store them. */
function pack(model: RansModel, symbols: Uint8Array, ctx: Uint16Array | null): Uint8Array {
  const w = new BitWriter();
  writeModel(model, w);
  const table = w.finish();
  const stream = ransEncode(model, symbols, ctx);
  const out = new Uint8Array(4 + table.length + stream.length);
  new DataView(out.buffer).setUint32(0, table.length, true);
  out.set(table, 4);
  out.set(stream, 4 + table.length);
  return out;
}

function unpack(packed: Uint8Array, contexts: number, alphabet: number, ctx: Uint16Array | null, n: number): Uint8Array {
  if (packed.length < 4) throw new Error('too short');
  const tableLength = new DataView(packed.buffer, packed.byteOffset).getUint32(0, true);
  if (4 + tableLength > packed.length) throw new Error('table length out of range');
  const model = readModel(new BitReader(packed, 4, 4 + tableLength), contexts, alphabet);
  const out = new Uint8Array(n);
  ransDecode(model, packed.subarray(4 + tableLength), ctx, out);
  return out;
}

function roundTrip(symbols: Uint8Array, ctx: Uint16Array | null, contexts: number, alphabet: number): Uint8Array {
  const model = buildModel(countsOf(symbols, ctx, contexts, alphabet), contexts, alphabet);
  const packed = pack(model, symbols, ctx);
  assert.deepEqual(unpack(packed, contexts, alphabet, ctx, symbols.length), symbols);
  return packed;
}

describe('rans', () => {
  it('round-trips skewed streams with several contexts, at lengths around the 4-state interleave', () => {
    const { symbols, ctx } = skewedStream(100_003, 5, 40, 1);
    roundTrip(symbols, ctx, 5, 40);
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 1000, 1001, 1002, 1003]) {
      roundTrip(symbols.subarray(0, n), ctx.subarray(0, n), 5, 40);
    }
  });

  it('round-trips the full alphabet and 256 contexts', () => {
    const random = rng(2);
    const n = 50_000;
    const symbols = new Uint8Array(n);
    const ctx = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      symbols[i] = Math.floor(random() * 256);
      ctx[i] = Math.floor(random() * 256);
    }
    roundTrip(symbols, ctx, 256, 256);
  });

  it('round-trips a single symbol, one repeated symbol and empty input', () => {
    roundTrip(Uint8Array.of(7), null, 1, 16);
    // A context with one symbol has frequency PRECISION: coding it costs nothing.
    const packed = roundTrip(new Uint8Array(100_000).fill(3), null, 1, 16);
    assert.ok(packed.length < 40, `${packed.length} bytes for a constant stream`);
    const empty = roundTrip(new Uint8Array(0), null, 1, 16);
    assert.ok(empty.length < 40);
  });

  it('round-trips with all symbols in one context (contexts omitted)', () => {
    const { symbols } = skewedStream(20_000, 1, 64, 3);
    roundTrip(symbols, null, 1, 64);
  });

  it('maps contexts through a context map', () => {
    const { symbols, ctx } = skewedStream(30_000, 8, 32, 4);
    const map = Uint8Array.of(0, 0, 1, 1, 1, 2, 2, 2);
    const counts = new Uint32Array(3 * 32);
    for (let i = 0; i < symbols.length; i++) counts[map[ctx[i]!]! * 32 + symbols[i]!]!++;
    const model = buildModel(counts, 3, 32);
    const stream = ransEncode(model, symbols, ctx, map);
    const out = new Uint8Array(symbols.length);
    ransDecode(model, stream, ctx, out, map);
    assert.deepEqual(out, symbols);
    assert.throws(() => ransDecode(model, stream, ctx, out, Uint8Array.of(0, 3)), /out of range/);
  });

  it('codes within 0.5% (plus a few bytes) of the empirical entropy of each context', () => {
    for (const [seed, contexts, alphabet] of [
      [5, 1, 8],
      [6, 4, 40],
      [7, 16, 64],
    ] as const) {
      const { symbols, ctx } = skewedStream(200_000, contexts, alphabet, seed);
      const counts = countsOf(symbols, ctx, contexts, alphabet);
      const model = buildModel(counts, contexts, alphabet);
      const bits = ransEncode(model, symbols, ctx).length * 8;
      const entropy = entropyBits(counts, contexts, alphabet);
      // A static model can never beat the empirical entropy except by the final state's bits.
      assert.ok(bits >= entropy - 128, `${bits} bits < entropy ${entropy}`);
      assert.ok(bits <= entropy * 1.005 + 160, `${bits} bits vs entropy ${entropy.toFixed(0)}`);
    }
  });

  it('codes a sparse stream (99% one symbol) in far less than a bit per symbol', () => {
    const random = rng(8);
    const n = 100_000;
    const symbols = new Uint8Array(n);
    for (let i = 0; i < n; i++) symbols[i] = random() < 0.99 ? 0 : 1 + Math.floor(random() * 5);
    const counts = countsOf(symbols, null, 1, 8);
    const bytes = roundTrip(symbols, null, 1, 8).length;
    assert.ok(bytes * 8 <= entropyBits(counts, 1, 8) * 1.02 + 400, `${bytes} bytes`);
    assert.ok(bytes * 8 < n / 8);
  });

  it('normalizes every table to PRECISION with every present symbol ≥ 1 and transmits it exactly', () => {
    const random = rng(9);
    for (let trial = 0; trial < 200; trial++) {
      const alphabet = 1 + Math.floor(random() * 128);
      const counts = new Uint32Array(alphabet);
      const kind = trial % 4;
      for (let s = 0; s < alphabet; s++) {
        if (random() < 0.3) continue;
        counts[s] = kind === 0 ? 1 : kind === 1 ? Math.floor(random() * 1e6) : kind === 2 ? Math.floor(2 ** (random() * 20)) : 1000;
      }
      const model = buildModel(counts, 1, alphabet);
      let sum = 0;
      for (let s = 0; s < alphabet; s++) {
        const f = model.freq[s]!;
        if (counts[s]! > 0) assert.ok(f >= 1);
        else if (counts.some((c) => c > 0)) assert.equal(f, 0);
        sum += f;
      }
      assert.equal(sum, PRECISION);
      const w = new BitWriter();
      writeModel(model, w);
      const read = readModel(new BitReader(w.finish()), 1, alphabet);
      assert.deepEqual(read.freq, model.freq);
      assert.deepEqual(read.cum, model.cum);
    }
  });

  it("updates the state exactly with the encoder's reciprocals (x -> (x / f) * M + x % f), at the edges of each quotient", () => {
    for (let f = 1; f <= PRECISION; f++) {
      const { rcp, rshift } = reciprocal(f);
      // As the encoder's table: the frequency-1 reciprocal gives x - 1, which its bias makes up for.
      const bias = f === 1 ? PRECISION - 1 : 0;
      for (const q of [1, 2, 3, 1000, Math.floor(2 ** 31 / f) - 1, Math.floor((2 ** 31 - 1) / f)]) {
        for (const x of [q * f - 1, q * f, q * f + f - 1]) {
          if (x < 1 || x >= 2 ** 31) continue;
          const quotient = Number((BigInt(x) * BigInt(rcp)) >> BigInt(32 + rshift));
          assert.equal(x + bias + quotient * (PRECISION - f), Math.floor(x / f) * PRECISION + (x % f), `x ${x}, f ${f}`);
        }
      }
    }
  });

  it('refuses to code a symbol that has no frequency in its context', () => {
    const model = buildModel(Uint32Array.of(5, 0, 5), 1, 3);
    assert.throws(() => ransEncode(model, Uint8Array.of(0, 1, 2), null), /no frequency/);
    assert.throws(() => ransEncode(model, Uint8Array.of(1, 0, 2, 0, 2, 0), null), /no frequency/);
  });

  it('throws on truncated streams and on streams with trailing data', () => {
    const { symbols, ctx } = skewedStream(5_000, 3, 20, 10);
    const model = buildModel(countsOf(symbols, ctx, 3, 20), 3, 20);
    const stream = ransEncode(model, symbols, ctx);
    const out = new Uint8Array(symbols.length);
    for (const length of [0, 1, 2, 8, 15, 16, stream.length - 2, stream.length - 1]) {
      assert.throws(() => ransDecode(model, stream.subarray(0, length), ctx, out));
    }
    const longer = new Uint8Array(stream.length + 2);
    longer.set(stream);
    assert.throws(() => ransDecode(model, longer, ctx, out), /trailing|corrupt/);
    assert.throws(() => ransDecode(model, stream, ctx, new Uint8Array(symbols.length + 4)));
  });

  it('survives a seeded mini-fuzz: every mutation throws or decodes correctly, never hangs', () => {
    const { symbols, ctx } = skewedStream(3_000, 4, 24, 11);
    const model = buildModel(countsOf(symbols, ctx, 4, 24), 4, 24);
    const packed = pack(model, symbols, ctx);
    const random = rng(12);
    let threw = 0;
    for (let trial = 0; trial < 400; trial++) {
      let mutated: Uint8Array;
      const kind = trial % 4;
      if (kind === 0) {
        mutated = packed.slice();
        const at = Math.floor(random() * mutated.length);
        mutated[at]! ^= 1 << Math.floor(random() * 8);
      } else if (kind === 1) {
        mutated = packed.slice();
        for (let k = 0; k < 4; k++) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
      } else if (kind === 2) {
        mutated = packed.slice(0, Math.floor(random() * packed.length));
      } else {
        // Mutations inside the table section, where validation matters most.
        mutated = packed.slice();
        const tableLength = new DataView(packed.buffer).getUint32(0, true);
        const at = 4 + Math.floor(random() * tableLength);
        mutated[at] = Math.floor(random() * 256);
      }
      let decoded: Uint8Array | undefined;
      try {
        decoded = unpack(mutated, 4, 24, ctx, symbols.length);
      } catch (e) {
        assert.ok(e instanceof Error);
        threw++;
        continue;
      }
      assert.deepEqual(decoded, symbols, `trial ${trial}: mutation decoded silently to wrong output`);
    }
    assert.ok(threw > 300, `only ${threw} of 400 mutations were detected`);
  });
});
