import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytePlanes } from '../src/codec/planes.js';
import { ulpPlanes16, ulpResiduals, ulpRestore, ulpRestorePlanes16 } from '../src/delta/ulp.js';
import type { DeltaDtype } from '../src/dtypes.js';
import { readFixture, rng } from './helpers.js';

/** Bit patterns that must survive any delta: ±0, smallest/largest subnormals and normals, ±inf, NaNs with payloads. */
const SPECIAL16 = [0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x0080, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0, 0x7f81, 0xffff, 0x3f80, 0xbf80];
const SPECIAL32 = [0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x3f800000, 0xbf800000];

/** Every special value against every other (sign flips, wrap-around of huge moves), as base and next. */
function pairs(width: 2 | 4): { base: Uint8Array; next: Uint8Array; prev: Uint8Array } {
  const special = width === 2 ? SPECIAL16 : SPECIAL32;
  const n = special.length * special.length;
  const [base, next, prev] = [new Uint8Array(n * width), new Uint8Array(n * width), new Uint8Array(n * width)];
  const [b, x, p] = [base, next, prev].map((a) => (width === 2 ? new Uint16Array(a.buffer) : new Uint32Array(a.buffer)));
  for (let i = 0; i < special.length; i++) {
    for (let j = 0; j < special.length; j++) {
      b![i * special.length + j] = special[i]!;
      x![i * special.length + j] = special[j]!;
      p![i * special.length + j] = special[(i + j) % special.length]!;
    }
  }
  return { base, next, prev };
}

describe('ULP residuals (the fast delta)', () => {
  for (const dtype of ['BF16', 'F16', 'F32'] as DeltaDtype[]) {
    it(`${dtype}: special values, sign flips and wrap-around round-trip, with and without prediction`, () => {
      const { base, next, prev } = pairs(dtype === 'F32' ? 4 : 2);
      for (const prediction of [undefined, { prev, beta: 0 }, { prev, beta: 77 }, { prev, beta: 256 }]) {
        const z = new Uint8Array(next.length);
        ulpResiduals(dtype, base, next, z, prediction);
        const back = new Uint8Array(next.length);
        ulpRestore(dtype, base, z, back, prediction);
        assert.deepEqual(back, next);
      }
    });
  }

  it('a small change is a small residual even across a power of two', () => {
    const base = new Uint8Array(new Uint16Array([0x3f7f, 0xbf80]).buffer); // just below 1.0; -1.0
    const next = new Uint8Array(new Uint16Array([0x3f80, 0xbf7f]).buffer); // 1.0; just above -1.0
    const z = new Uint8Array(4);
    ulpResiduals('BF16', base, next, z);
    assert.deepEqual([...new Uint16Array(z.buffer)], [2, 2]); // +1 and +1 ULP, zigzagged
  });

  it('the SIMD kernel gives the same planes as residuals split into bytes, and inverts, with and without prediction', () => {
    const [epoch4, epoch5, epoch6] = [4, 5, 6].map((epoch) => readFixture(`cnn_epoch${epoch}.bf16.safetensors`));
    const random = rng(7);
    const special = pairs(2);
    const cases = [0, 2, 30, 32, 34, 1000, 65536 + 6].map((length) => {
      const at = 2 * Math.floor(random() * 100_000);
      return { base: epoch5!.subarray(at, at + length), next: epoch6!.subarray(at, at + length), prev: epoch4!.subarray(at, at + length) };
    });
    for (const { base, next, prev } of [...cases, special]) {
      for (const prediction of [undefined, { prev, beta: 0 }, { prev, beta: 77 }, { prev, beta: 256 }]) {
        const what = `${next.length} bytes, beta ${prediction?.beta ?? 'none'}`;
        const z = new Uint8Array(next.length);
        ulpResiduals('BF16', base, next, z, prediction);
        const planes = ulpPlanes16(base, next, prediction).map((plane) => plane.slice());
        assert.deepEqual(planes, bytePlanes(2).split(z), `planes of ${what}`);
        const back = new Uint8Array(next.length);
        ulpRestorePlanes16(base, planes, back, prediction);
        assert.deepEqual(back, new Uint8Array(next), `restore of ${what}`);
      }
    }
  });
});
