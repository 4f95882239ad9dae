import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeWith, encodeWith, type CoderName } from '../src/codec/coders.js';
import { bitSplit16, bitSplit32, bytePlanes, identity, planeLengths, type PlaneSplit } from '../src/codec/planes.js';
import { decodeChunk, encodeChunk, TENSOR_CODERS } from '../src/codec/pipeline.js';
import { splitByName } from '../src/codec/splits.js';
import { kernels, wasmMemory } from '../src/kernels/index.js';
import { readFixture } from './helpers.js';

const weights = readFixture('cnn_epoch6.fp32.safetensors').subarray(4096, 4096 + 40_000);
const splits: PlaneSplit[] = [identity, bitSplit16, bitSplit32, bytePlanes(2), bytePlanes(4), bytePlanes(8)];

describe('plane splits', () => {
  for (const split of splits) {
    it(`${split.name} round-trips real weights, odd lengths and empty input`, () => {
      for (const length of [0, 1, 2, 3, 5, 7, 8, 9, 4099, weights.length]) {
        const src = weights.subarray(0, length);
        const planes = split.split(src);
        assert.deepEqual(planes.map((p) => p.length), planeLengths(split, length));
        const dst = new Uint8Array(length);
        split.merge(planes, dst);
        assert.deepEqual(dst, new Uint8Array(src));
      }
    });
    it(`${split.name} handles unaligned views`, () => {
      const src = weights.subarray(1, 1 + 4000);
      const dst = new Uint8Array(4001).subarray(1);
      split.merge(split.split(src), dst);
      assert.deepEqual(dst, new Uint8Array(src));
    });
  }

  it('bits16 puts the bf16 exponent in plane 0 and sign+mantissa in plane 1', () => {
    // -1.5 in bf16 is 0xBFC0: sign 1, exponent 127, mantissa 0x40.
    const [exp, rest] = bitSplit16.split(Uint8Array.of(0xc0, 0xbf));
    assert.equal(exp![0], 127);
    assert.equal(rest![0], 0x80 | 0x40);
  });

  it('bits32 puts the fp32 exponent in plane 0', () => {
    const value = new Float32Array([-3.0]); // exponent 128
    const [exp, high] = bitSplit32.split(new Uint8Array(value.buffer));
    assert.equal(exp![0], 128);
    assert.equal(high![0]! & 0x80, 0x80);
  });
});

describe('SIMD plane kernels', () => {
  for (const plain of [bitSplit16, bitSplit32, bytePlanes(2), bytePlanes(4)]) {
    it(`${plain.name} in WebAssembly SIMD gives the same bytes as plain TS`, () => {
      const simd = splitByName(plain.name)!;
      assert.notEqual(simd, plain);
      for (const length of [0, 3, 31, 32, 64, 65, 1000, 4096 + 7, weights.length]) {
        const src = weights.subarray(0, length);
        const planes = simd.split(src);
        assert.deepEqual(planes, plain.split(src), `split of ${length} bytes`);
        const dst = new Uint8Array(length);
        simd.merge(planes, dst);
        assert.deepEqual(dst, new Uint8Array(src), `merge of ${length} bytes`);
      }
    });
  }

  it("fitBeta's cost kernel counts the bits of the int16 residuals exactly", () => {
    const bitLength = (d0: number, d1: number, beta: number): number => {
      const r = ((d1 - ((beta * d0 + 128) >> 8)) << 16) >> 16;
      return 32 - Math.clz32(Math.abs(r));
    };
    const pairs: [number, number][] = [[-32768, 32767], [32767, -32768], [0, 0], [1, -1], [-1, 1], [300, 299]];
    for (let i = 0; i < weights.length - 4 && pairs.length < 4000; i += 4) pairs.push([(weights[i]! << 8 | weights[i + 1]!) - 32768, weights[i + 2]! - 128 + (weights[i + 3]! & 7)]);
    const n = pairs.length & ~3;
    const memory = wasmMemory(8 * n);
    const d = new Int32Array(memory.buffer, 0, 2 * n);
    pairs.slice(0, n).forEach(([d0, d1], j) => ((d[j] = d0), (d[n + j] = d1)));
    for (const beta of [0, 1, 77, 128, 255, 256]) {
      const expected = pairs.slice(0, n).reduce((sum, [d0, d1]) => sum + bitLength(d0, d1, beta), 0);
      assert.equal(kernels.betaCost16(0, 4 * n, n, beta), expected, `beta ${beta}`);
    }
  });
});

describe('coders', () => {
  const exponents = bitSplit16.split(readFixture('cnn_epoch6.bf16.safetensors').subarray(8192, 8192 + 100_000))[0]!;
  for (const coder of ['raw', 'huf', 'zstd1', 'zstd19'] as CoderName[]) {
    it(`${coder} round-trips (including empty input)`, () => {
      for (const src of [exponents, exponents.subarray(0, 1), new Uint8Array(0)]) {
        const coded = encodeWith(coder, src).slice();
        const dst = new Uint8Array(src.length);
        decodeWith(coder, coded, dst);
        assert.deepEqual(dst, src);
      }
    });
  }

  it('Huffman-only coding shrinks a real exponent plane well below 8 bits per value', () => {
    const coded = encodeWith('huf', exponents);
    assert.ok(coded.length < exponents.length * 0.45, `huf gave ${coded.length} of ${exponents.length}`);
  });

  it('a frame decoded into the wrong length is rejected', () => {
    const coded = encodeWith('zstd1', exponents).slice();
    assert.throws(() => decodeWith('zstd1', coded, new Uint8Array(exponents.length - 1)));
  });
});

describe('chunk pipeline', () => {
  it('keeps incompressible planes raw and restores the chunk exactly', () => {
    const encoded = encodeChunk(weights, splitByName('bits32')!, { candidates: TENSOR_CODERS, exhaustive: false });
    assert.equal(encoded.streams[0]!.coder !== 'raw', true, 'exponent plane is coded');
    assert.equal(encoded.streams[3]!.coder, 'raw', 'lowest mantissa byte of real fp32 weights is near-random');
    const dst = new Uint8Array(weights.length);
    decodeChunk(Buffer.concat(encoded.payload), encoded.split, encoded.streams, dst);
    assert.deepEqual(dst, new Uint8Array(weights));
  });
});
